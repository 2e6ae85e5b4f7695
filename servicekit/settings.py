"""Read `STUDIO_*` variables once, failing clearly on a bad value."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar, cast, get_type_hints

SECRET_MIN_LENGTH = 32  # the JWT secret, the service token and the scrape token


class ConfigError(ValueError):
    """A configuration variable holds a value the service cannot use."""


class Env:
    """Typed access to an environment mapping, with the variable named in every error."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def string(self, name: str, default: str) -> str:
        return self._environ.get(name, default)

    def required(self, name: str, *, min_length: int = 1) -> str:
        value = self._environ.get(name, "")
        if not value:
            raise ConfigError(f"{name} must be set")
        if len(value) < min_length:
            raise ConfigError(f"{name} must be at least {min_length} characters long")
        return value

    def integer(self, name: str, default: int, *, minimum: int = 0, maximum: int = 2**31) -> int:
        raw = self._environ.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not an integer") from None
        if not minimum <= value <= maximum:
            raise ConfigError(f"{name}={value} is outside {minimum}..{maximum}")
        return value

    def number(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        raw = self._environ.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not a number") from None
        if value < minimum:
            raise ConfigError(f"{name}={value} is below {minimum}")
        return value

    def boolean(self, name: str, default: bool = False) -> bool:
        raw = self._environ.get(name)
        if raw is None or raw == "":
            return default
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{name}={raw!r} is not a boolean (use true or false)")

    def url(self, name: str, default: str, *, schemes: tuple[str, ...]) -> str:
        value = self._environ.get(name) or default
        if not value.startswith(tuple(f"{s}://" for s in schemes)):
            raise ConfigError(f"{name}={value!r} must start with one of {', '.join(s + '://' for s in schemes)}")
        return value.rstrip("/")

    def path(self, name: str, default: str) -> Path:
        return Path(self._environ.get(name) or default).expanduser()


def data_dir(env: Env) -> Path:
    """Where the one-machine stack keeps its data: STUDIO_DATA_DIR, default `.data`."""
    return env.path("STUDIO_DATA_DIR", ".data").resolve()


# Declared settings ---------------------------------------------------------------------------
#
# Each setting is declared once, on the field of a frozen dataclass: its variable, default,
# bounds, unit and one line of doc. `load` reads a class's fields from the environment (nested
# settings classes too), and `declarations` lists them for the README's configuration table.

T = TypeVar("T")
SETTING = "studio.setting"
Fallback = Callable[[dict[str, Any], "Env"], Any]


@dataclass(frozen=True)
class Declared:
    """One declared setting: where it is read from and what it accepts."""

    variable: str  # may hold `{prefix}`: a processor's own variables are under its prefix
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    schemes: tuple[str, ...] = ()  # a URL, with one of these schemes
    unit: str = ""
    secret: bool = False  # required, at least SECRET_MIN_LENGTH characters
    fallback: Fallback | None = None  # the default, worked out from the other values when unset
    parse: Callable[[str], Any] | None = None  # for a value that is none of the plain kinds
    shown_default: str | None = None  # the default as the README shows it, when it is worked out


def setting(
    variable: str,
    default: Any = MISSING,
    doc: str = "",
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    schemes: tuple[str, ...] = (),
    unit: str = "",
    secret: bool = False,
    fallback: Fallback | None = None,
    parse: Callable[[str], Any] | None = None,
    shown_default: str | None = None,
) -> Any:
    """A dataclass field read from `variable` by `load`."""
    declared = Declared(variable, doc, minimum, maximum, schemes, unit, secret, fallback, parse, shown_default)
    if fallback is not None and default is MISSING:
        default = None  # filled by `load`; a directly built instance must give it
    return field(default=default, metadata={SETTING: declared})


def _is_settings(kind: Any) -> bool:
    return isinstance(kind, type) and is_dataclass(kind) and any(SETTING in f.metadata for f in fields(kind))


def _read(env: Env, name: str, kind: Any, declared: Declared, default: Any) -> Any:
    raw = env.string(name, "")
    if raw == "":
        return default
    if declared.secret:
        return env.required(name, min_length=SECRET_MIN_LENGTH)
    if declared.parse is not None:
        return declared.parse(raw)
    if declared.schemes:
        return env.url(name, raw, schemes=declared.schemes)
    base = {int: int, float: float, bool: bool, str: str}.get(kind, kind)
    if base is bool:
        return env.boolean(name)
    if base is int:
        return env.integer(
            name,
            0,
            minimum=int(declared.minimum) if declared.minimum is not None else 0,
            maximum=int(declared.maximum) if declared.maximum is not None else 2**31,
        )
    if base is float:
        value = env.number(name, 0.0, minimum=declared.minimum if declared.minimum is not None else 0.0)
        if declared.maximum is not None and value > declared.maximum:
            raise ConfigError(f"{name}={value} is above {declared.maximum}")
        return value
    if kind == tuple[float, ...]:
        return seconds_list(name, raw)
    return raw


def seconds_list(name: str, raw: str) -> tuple[float, ...]:
    """`1,5,15` -> (1.0, 5.0, 15.0); one or more non-negative numbers."""
    try:
        values = tuple(float(part) for part in raw.split(","))
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a comma-separated list of seconds") from None
    if not values or any(v < 0 for v in values):
        raise ConfigError(f"{name}={raw!r} needs one or more non-negative numbers")
    return values


def load(
    cls: type[T],
    environ: Mapping[str, str] | None = None,
    *,
    prefix: str = "",
    defaults: Mapping[str, Any] | None = None,
    **given: Any,
) -> T:
    """An instance of the settings class `cls` read from the environment: each declared field
    from its variable (`{prefix}` filled in), each settings-class field loaded the same way;
    `defaults` replace declared defaults (a processor's own port), `given` values are taken as
    they are."""
    env = Env(environ)
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    later: list[tuple[str, Fallback]] = []
    for f in fields(cast(Any, cls)):
        if f.name in given:
            continue
        kind = hints[f.name]
        if _is_settings(kind):
            values[f.name] = load(kind, environ, prefix=prefix)
            continue
        declared = f.metadata.get(SETTING)
        if declared is None:
            continue
        name = declared.variable.format(prefix=prefix)
        if declared.fallback is not None and env.string(name, "") == "":
            later.append((f.name, declared.fallback))
            continue
        optional = _optional_of(kind)
        default = f.default if f.default is not MISSING else None
        if defaults and f.name in defaults:
            default = defaults[f.name]
        elif f.default is MISSING and not declared.secret and env.string(name, "") == "":
            raise ConfigError(f"{name} must be set")
        if declared.secret and env.string(name, "") == "":
            raise ConfigError(f"{name} must be set")
        values[f.name] = _read(env, name, optional or kind, declared, default)
    values.update(given)
    for name, fallback in later:
        values[name] = fallback(values, env)
    return cls(**values)


def _optional_of(kind: Any) -> Any:
    """`X | None` -> X; anything else -> None."""
    args = getattr(kind, "__args__", ())
    if len(args) == 2 and type(None) in args and type(kind).__name__ in ("UnionType", "_UnionGenericAlias"):
        return next(a for a in args if a is not type(None))
    return None


@dataclass(frozen=True)
class Row:
    """One setting as the README's table shows it."""

    variable: str
    default: str
    accepts: str
    doc: str


def declarations(cls: type, *, prefix: str = "") -> list[Row]:
    """The settings `cls` reads (nested classes included), as table rows."""
    rows: list[Row] = []
    hints = get_type_hints(cls)
    for f in fields(cls):
        kind = hints[f.name]
        if _is_settings(kind):
            rows += declarations(kind, prefix=prefix)
            continue
        declared = f.metadata.get(SETTING)
        if declared is None:
            continue
        rows.append(
            Row(
                variable=declared.variable.format(prefix=prefix),
                default=_shown(f, declared),
                accepts=_accepts(kind, declared),
                doc=declared.doc,
            )
        )
    return rows


def _shown(f: Any, declared: Declared) -> str:
    if declared.shown_default is not None:
        return declared.shown_default
    if declared.secret or f.default is MISSING:
        return "required"
    default = f.default
    if default is None or default == "":
        return "none"
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, tuple):
        return ",".join(f"{v:g}" for v in default)
    if isinstance(default, float):
        return f"{default:g}"
    return str(default)


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _accepts(kind: Any, declared: Declared) -> str:
    if declared.secret:
        return f"a secret of {SECRET_MIN_LENGTH}+ characters"
    if declared.schemes:
        return "a URL: " + ", ".join(f"{s}://" for s in declared.schemes)
    base = _optional_of(kind) or kind
    unit = f" {declared.unit}" if declared.unit else ""
    if base is bool:
        return "true or false"
    if base in (int, float):
        low, high = _number(declared.minimum), _number(declared.maximum)
        if low and high:
            return f"{low} to {high}{unit}"
        return f"at least {low}{unit}" if low else f"a number{unit}"
    if kind == tuple[float, ...]:
        return f"a comma-separated list{unit}"
    return "text"
