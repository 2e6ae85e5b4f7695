"""Where the one-machine stack listens and keeps its data, from `STUDIO_*` variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from servicekit.settings import ConfigError, Env, data_dir

# Backing servers listen on ports no stock installation uses, so `make up` never collides with a
# MongoDB, PostgreSQL or NATS the user runs anyway.
DEFAULT_PORTS = {
    "mongo": 27817, "nats": 4322, "postgres": 5817, "index": 8006, "gateway": 8010, "text_expansion": 8012,
}  # fmt: skip


KNOWN_PROCESSORS = ("text-expansion",)


def _processors(raw: str) -> tuple[str, ...]:
    chosen = tuple(p.strip() for p in raw.split(",") if p.strip())
    unknown = set(chosen) - set(KNOWN_PROCESSORS)
    if unknown:
        raise ConfigError(f"STUDIO_PROCESSORS names unknown processors {sorted(unknown)}; known: {', '.join(KNOWN_PROCESSORS)}")
    return chosen


@dataclass(frozen=True, kw_only=True)
class StackSettings:
    data_dir: Path
    host: str = "127.0.0.1"
    mongo_port: int = DEFAULT_PORTS["mongo"]
    nats_port: int = DEFAULT_PORTS["nats"]
    postgres_port: int = DEFAULT_PORTS["postgres"]
    index_port: int = DEFAULT_PORTS["index"]
    gateway_port: int = DEFAULT_PORTS["gateway"]
    text_expansion_port: int = DEFAULT_PORTS["text_expansion"]
    jwt_secret: str | None = None
    service_token: str | None = None
    demo: bool = True
    # Which processors this machine runs; an operator may run others elsewhere (or none, in tests).
    processors: tuple[str, ...] = ("text-expansion",)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StackSettings:
        env = Env(environ)
        port = lambda name: env.integer(f"STUDIO_{name.upper()}_PORT", DEFAULT_PORTS[name], minimum=1, maximum=65535)  # noqa: E731
        return cls(
            data_dir=data_dir(env),
            mongo_port=port("mongo"),
            nats_port=port("nats"),
            postgres_port=port("postgres"),
            index_port=port("index"),
            gateway_port=port("gateway"),
            text_expansion_port=port("text_expansion"),
            jwt_secret=env.string("STUDIO_JWT_SECRET", "") or None,
            service_token=env.string("STUDIO_SERVICE_TOKEN", "") or None,
            demo=env.boolean("STUDIO_DEMO", True),
            processors=_processors(env.string("STUDIO_PROCESSORS", ",".join(KNOWN_PROCESSORS))),
        )
