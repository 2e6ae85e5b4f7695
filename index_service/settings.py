"""The index service's configuration, read once from `STUDIO_*` variables (declared here, each once)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from servicekit.service_settings import LOCAL_MONGO_URL, ServiceSettings
from servicekit.settings import load, setting


@dataclass(frozen=True, kw_only=True)
class Settings(ServiceSettings):
    host: str = setting("STUDIO_INDEX_HOST", "127.0.0.1", "the address the index service listens on")
    port: int = setting("STUDIO_INDEX_PORT", 8006, "its port", minimum=1, maximum=65535)
    mongo_url: str = setting(
        "STUDIO_INDEX_MONGO_URL",
        LOCAL_MONGO_URL,
        "the index's MongoDB",
        schemes=("mongodb", "mongodb+srv"),
        shown_default="the embedded server",
    )
    database: str = setting("STUDIO_INDEX_DATABASE", "studio_index", "its database")
    outbox_scan_seconds: float = setting(
        "STUDIO_OUTBOX_SCAN_SECONDS", 1.0, "how often events left unpublished are looked for", minimum=0.05, unit="s"
    )
    duplicate_window_seconds: float = setting(
        "STUDIO_DUPLICATE_WINDOW_SECONDS",
        300.0,
        "JetStream drops an event published twice within this window",
        minimum=1.0,
        unit="s",
    )
    processor_writes: int = setting(
        "STUDIO_INDEX_PROCESSOR_WRITES",
        4,
        "processors' writes in flight at once, per instance; a writer's own writes never wait behind more",
        minimum=1,
        maximum=1024,
    )
    # Test hook: exit the process after the database write and before the publish.
    crash_before_publish: bool = setting(
        "STUDIO_INDEX_TEST_CRASH_BEFORE_PUBLISH", False, "test hook: exit between a write and its publish"
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        return load(cls, environ)
