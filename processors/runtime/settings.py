"""What every processor reads from `STUDIO_*` variables, under its own prefix for what is its own."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from servicekit.service_settings import LOCAL_INDEX_URL, ServiceSettings
from servicekit.settings import ConfigError, Env, Fallback, data_dir, load, setting


def _own_url(values: dict[str, Any], env: Env) -> str:
    host = values["host"]
    reachable = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"http://{reachable}:{values['port']}"


@dataclass(frozen=True, kw_only=True)
class RuntimeSettings(ServiceSettings):
    """Consuming, acking and serving settings of one processor instance."""

    host: str = setting("STUDIO_{prefix}_HOST", "127.0.0.1", "the address a processor listens on")
    port: int = setting(
        "STUDIO_{prefix}_PORT", 0, "its port", minimum=1, maximum=65535, shown_default="its own (8012 to 8015)"
    )
    base_url: str = setting(
        "STUDIO_{prefix}_BASE_URL",
        doc="where others reach it (it registers this)",
        schemes=("http", "https"),
        fallback=_own_url,
        shown_default="http://<host>:<port>",
    )
    index_url: str = setting("STUDIO_INDEX_URL", LOCAL_INDEX_URL, "the index service", schemes=("http", "https"))
    concurrency: int = setting(
        "STUDIO_{prefix}_CONCURRENCY",
        16,
        "messages handled at once per instance",
        minimum=1,
        maximum=256,
        shown_default="16 (text expansion: 64)",
    )
    ack_wait_seconds: float = setting(
        "STUDIO_PROCESSOR_ACK_WAIT_SECONDS",
        30.0,
        "JetStream's wait for an ack before it delivers again",
        minimum=0.5,
        unit="s",
    )
    max_deliver: int = setting(
        "STUDIO_PROCESSOR_MAX_DELIVER",
        5,
        "deliveries of a message before it goes to the dead letters",
        minimum=1,
        maximum=1000,
    )
    backoff_seconds: tuple[float, ...] = setting(
        "STUDIO_PROCESSOR_BACKOFF_SECONDS",
        (1.0, 5.0, 15.0, 30.0),
        "the waits before each delivery again",
        unit="of seconds",
    )
    fetch_timeout_seconds: float = setting(
        "STUDIO_PROCESSOR_FETCH_TIMEOUT_SECONDS", 1.0, "how long one fetch waits for messages", minimum=0.05, unit="s"
    )
    progress_seconds: float = setting(
        "STUDIO_PROCESSOR_PROGRESS_SECONDS",
        0.25,
        "how long a streaming processor gathers text before it tells it (one message per section per interval)",
        minimum=0.01,
        maximum=5.0,
        unit="s",
    )
    # Test hook: exit after the store write and before the ack.
    crash_after_store: bool = setting(
        "STUDIO_PROCESSOR_TEST_CRASH_AFTER_STORE", False, "test hook: exit between the store write and the ack"
    )

    @classmethod
    def from_env(
        cls, prefix: str, default_port: int, environ: Mapping[str, str] | None = None, *, concurrency: int = 16
    ) -> RuntimeSettings:
        return load(cls, environ, prefix=prefix, defaults={"port": default_port, "concurrency": concurrency})


def stack_database(processor_id: str) -> Fallback:
    """The URL the one-machine stack wrote for `processor_id` in its stack.json: the default of a
    processor's database URL."""

    def from_stack(values: dict[str, Any], env: Env) -> str:
        stack = data_dir(env) / "stack.json"
        if stack.exists():
            url = json.loads(stack.read_text()).get("databases", {}).get(processor_id)
            if url:
                return str(url)
        variable = f"STUDIO_{processor_id.replace('-', '_').upper()}_PG_URL"
        raise ConfigError(f"{variable} must be set (no running one-machine stack to take it from)")

    return from_stack


def pg_url(processor_id: str) -> Any:
    """A processor's PostgreSQL URL, declared once for each processor that has one."""
    return setting(
        f"STUDIO_{processor_id.replace('-', '_').upper()}_PG_URL",
        doc=f"the {processor_id.replace('-', ' ')}'s PostgreSQL",
        schemes=("postgresql", "postgres"),
        fallback=stack_database(processor_id),
        shown_default="the one-machine stack's (its stack.json)",
    )


@dataclass(frozen=True, kw_only=True)
class ProcessorSettings:
    """A processor's settings: the runtime's, and whatever the processor adds in a subclass."""

    runtime: RuntimeSettings

    @property
    def host(self) -> str:
        return self.runtime.host

    @property
    def port(self) -> int:
        return self.runtime.port
