"""Where the one-machine stack listens and keeps its data, from `STUDIO_*` variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servicekit.settings import ConfigError, Env, data_dir, load, setting

from .topology import TOPOLOGIES, Topology

# Backing servers listen on ports no stock installation uses, so `make up` never collides with a
# MongoDB, PostgreSQL or NATS the user runs anyway. Each is overridden by STUDIO_<NAME>_PORT.
DEFAULT_PORTS = {
    "mongo": 27817,
    "text_expansion_mongo": 27818,
    "nats": 4322,
    "postgres": 5817,
    "index": 8006,
    "gateway": 8010,
    "text_expansion": 8012,
    "book_compiler": 8013,
    "pitch_builder": 8014,
    "summary": 8015,
    # Only the cluster topology listens on these: two more NATS nodes, the nodes' routes to each
    # other, a second gateway and a second instance of each processor.
    "nats_2": 4323,
    "nats_3": 4324,
    "nats_route": 6322,
    "nats_route_2": 6323,
    "nats_route_3": 6324,
    "gateway_2": 8020,
    "text_expansion_2": 8022,
    "book_compiler_2": 8023,
    "pitch_builder_2": 8024,
    "summary_2": 8025,
}
# processor id -> the module that runs it
PROCESSOR_MODULES = {
    "text-expansion": "processors.text_expansion",
    "book-compiler": "processors.book_compiler",
    "pitch-builder": "processors.pitch_builder",
    "summary": "processors.summary",
}


def port_key(processor_id: str) -> str:
    """`book-compiler` -> `book_compiler` (its STUDIO_BOOK_COMPILER_* variables)."""
    return processor_id.replace("-", "_")


def _processors(raw: str) -> tuple[str, ...]:
    chosen = tuple(p.strip() for p in raw.split(",") if p.strip())
    unknown = set(chosen) - set(PROCESSOR_MODULES)
    if unknown:
        raise ConfigError(
            f"STUDIO_PROCESSORS names unknown processors {sorted(unknown)}; known: {', '.join(PROCESSOR_MODULES)}"
        )
    return chosen


def _data_dir(values: dict[str, Any], env: Env) -> Path:
    return data_dir(env)


def _ports(values: dict[str, Any], env: Env) -> dict[str, int]:
    return {
        name: env.integer(f"STUDIO_{name.upper()}_PORT", port, minimum=1, maximum=65535)
        for name, port in DEFAULT_PORTS.items()
    }


@dataclass(frozen=True, kw_only=True)
class StackSettings:
    """What `make up` and `studio up` read: where the one-machine stack keeps its data, what it runs."""

    data_dir: Path = setting(
        "STUDIO_DATA_DIR",
        doc="where the stack keeps its data, secrets and logs",
        fallback=_data_dir,
        parse=lambda raw: Path(raw).expanduser().resolve(),
        shown_default=".data",
    )
    ports: dict[str, int] = setting(
        "STUDIO_<NAME>_PORT",
        doc="each server's port (MONGO, NATS, POSTGRES, INDEX, GATEWAY, TEXT_EXPANSION...)",
        fallback=_ports,
        shown_default="27817, 4322, 5817, 8006, 8010, 8012...",
    )
    host: str = "127.0.0.1"
    jwt_secret: str | None = None  # the secrets are made once and kept in STUDIO_DATA_DIR unless given
    service_token: str | None = None
    demo: bool = setting("STUDIO_DEMO", True, "load the demo book at start")
    # Which processors this machine runs; an operator may run others elsewhere (or none, in tests).
    processors: tuple[str, ...] = setting(
        "STUDIO_PROCESSORS",
        doc="the processors this machine runs, comma-separated (none: an empty value)",
        # Set but empty means none: the fallback sees the difference.
        fallback=lambda values, env: _processors(env.string("STUDIO_PROCESSORS", ",".join(PROCESSOR_MODULES))),
        parse=_processors,
        shown_default=",".join(PROCESSOR_MODULES),
    )
    topology: Topology = setting(
        "STUDIO_TOPOLOGY",
        doc="single, or cluster (three NATS nodes, two of each service)",
        fallback=lambda values, env: TOPOLOGIES["single"],
        parse=lambda raw: topology(raw),
        shown_default="single",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StackSettings:
        env = Env(environ)
        return load(
            cls,
            environ,
            jwt_secret=env.string("STUDIO_JWT_SECRET", "") or None,
            service_token=env.string("STUDIO_SERVICE_TOKEN", "") or None,
        )


def topology(name: str) -> Topology:
    """The topology called `name`, or a clear error naming the known ones."""
    try:
        return TOPOLOGIES[name]
    except KeyError:
        raise ConfigError(f"STUDIO_TOPOLOGY={name!r} is not one of {', '.join(TOPOLOGIES)}") from None
