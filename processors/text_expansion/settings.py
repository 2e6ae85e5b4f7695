"""Text expansion's configuration: the runtime's, its MongoDB, and the model provider."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from processors.llm import LLMSettings
from processors.runtime.settings import ProcessorSettings, RuntimeSettings
from servicekit.service_settings import LOCAL_MONGO_URL
from servicekit.settings import load, setting

from .expander import Limits

PREFIX = "TEXT_EXPANSION"
DEFAULT_PORT = 8012


@dataclass(frozen=True, kw_only=True)
class Settings(ProcessorSettings):
    llm: LLMSettings = LLMSettings()
    mongo_url: str = setting(
        "STUDIO_TEXT_EXPANSION_MONGO_URL",
        LOCAL_MONGO_URL.replace("27817", "27818"),
        "text expansion's MongoDB",
        schemes=("mongodb", "mongodb+srv"),
        shown_default="the embedded server",
    )
    database: str = setting("STUDIO_TEXT_EXPANSION_DATABASE", "studio_text_expansion", "its database")
    limits: Limits = Limits()
    streaming: bool = setting(
        "STUDIO_TEXT_EXPANSION_STREAMING", True, "stream the model's answer as progress (off: whole answers)"
    )
    context_tokens: int = setting(
        "STUDIO_CONTEXT_TOKENS",
        600,
        "story-bible tokens a section's prompt may carry (entries past it are left out, and off its receipt)",
        minimum=0,
        maximum=100_000,
    )
    offline_words_per_second: float = setting(
        "STUDIO_TEXT_EXPANSION_OFFLINE_WORDS_PER_SECOND",
        0.0,
        "the offline expander's pace, to watch it stream (0: at once; make up sets 40)",
        minimum=0.0,
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        # A draft's messages spend seconds waiting on the model (its sections share
        # SECTIONS_AT_ONCE): many writers' drafts must be under way at once to keep up.
        return load(cls, environ, runtime=RuntimeSettings.from_env(PREFIX, DEFAULT_PORT, environ, concurrency=64))
