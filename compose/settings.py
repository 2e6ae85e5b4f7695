"""Where the one-machine stack listens and keeps its data, from `STUDIO_*` variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from servicekit.settings import ConfigError, Env, data_dir

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


@dataclass(frozen=True, kw_only=True)
class StackSettings:
    data_dir: Path
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    jwt_secret: str | None = None
    service_token: str | None = None
    demo: bool = True
    # Which processors this machine runs; an operator may run others elsewhere (or none, in tests).
    processors: tuple[str, ...] = tuple(PROCESSOR_MODULES)
    topology: Topology = TOPOLOGIES["single"]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StackSettings:
        env = Env(environ)
        return cls(
            data_dir=data_dir(env),
            ports={
                name: env.integer(f"STUDIO_{name.upper()}_PORT", port, minimum=1, maximum=65535)
                for name, port in DEFAULT_PORTS.items()
            },
            jwt_secret=env.string("STUDIO_JWT_SECRET", "") or None,
            service_token=env.string("STUDIO_SERVICE_TOKEN", "") or None,
            demo=env.boolean("STUDIO_DEMO", True),
            processors=_processors(env.string("STUDIO_PROCESSORS", ",".join(PROCESSOR_MODULES))),
            topology=topology(env.string("STUDIO_TOPOLOGY", "single")),
        )


def topology(name: str) -> Topology:
    """The topology called `name`, or a clear error naming the known ones."""
    try:
        return TOPOLOGIES[name]
    except KeyError:
        raise ConfigError(f"STUDIO_TOPOLOGY={name!r} is not one of {', '.join(TOPOLOGIES)}") from None
