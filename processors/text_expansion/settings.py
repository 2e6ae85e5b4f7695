"""Text expansion's configuration: the runtime's, its MongoDB, and the model provider."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from processors.llm import LLMSettings
from processors.settings import ProcessorSettings, RuntimeSettings
from servicekit.settings import Env

from .expander import Limits

PREFIX = "TEXT_EXPANSION"
DEFAULT_PORT = 8012
DEFAULT_MONGO_URL = (
    "mongodb://127.0.0.1:27817/?directConnection=true&retryWrites=false"  # the embedded server (compose/backing.py)
)


@dataclass(frozen=True, kw_only=True)
class Settings(ProcessorSettings):
    llm: LLMSettings
    mongo_url: str = DEFAULT_MONGO_URL
    database: str = "studio_text_expansion"
    limits: Limits = Limits()
    streaming: bool = True  # stream the model's answer and publish progress; off: whole answers, no progress
    offline_words_per_second: float = 0.0  # the offline expander's pace (0: at once), to watch it stream

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = Env(environ)
        return cls(
            # A draft's messages spend seconds waiting on the model (its sections share
            # SECTIONS_AT_ONCE): many writers' drafts must be under way at once to keep up.
            runtime=RuntimeSettings.from_env(PREFIX, DEFAULT_PORT, environ, concurrency=64),
            llm=LLMSettings.from_env(environ),
            mongo_url=env.url("STUDIO_TEXT_EXPANSION_MONGO_URL", DEFAULT_MONGO_URL, schemes=("mongodb", "mongodb+srv")),
            database=env.string("STUDIO_TEXT_EXPANSION_DATABASE", "studio_text_expansion"),
            limits=Limits(
                section_words=env.integer("STUDIO_TEXT_EXPANSION_SECTION_WORDS", 32, minimum=5, maximum=10_000),
                per_draft=env.integer("STUDIO_TEXT_EXPANSION_SECTIONS_PER_DRAFT", 64, minimum=1, maximum=256),
                shared=env.integer("STUDIO_TEXT_EXPANSION_SECTIONS_AT_ONCE", 128, minimum=1, maximum=4096),
                attempts=env.integer("STUDIO_TEXT_EXPANSION_SECTION_ATTEMPTS", 4, minimum=1, maximum=20),
                max_retry_after=env.number("STUDIO_TEXT_EXPANSION_MAX_RETRY_AFTER_SECONDS", 60.0, minimum=0.0),
            ),
            streaming=env.boolean("STUDIO_TEXT_EXPANSION_STREAMING", True),
            offline_words_per_second=env.number("STUDIO_TEXT_EXPANSION_OFFLINE_WORDS_PER_SECOND", 0.0, minimum=0.0),
        )
