"""The summary processor's model path: the real `openai` client against the local provider."""

from __future__ import annotations

import openai
import pytest

from processors.runtime.errors import PermanentError, ProviderError
from processors.summary.summarizer import SYSTEM_PROMPT, OfflineSummariser, OpenAISummariser
from studio_testing.fake_openai import FakeProvider

CHAPTER = (
    "The harbour froze in the night.\n\nMara walked out across the ice to the stranded boat, counting her steps aloud."
)


async def test_the_model_summarises_and_its_failures_are_sorted(provider: tuple[FakeProvider, str]) -> None:
    fake, url = provider
    summariser = OpenAISummariser(openai.AsyncOpenAI(api_key="test", base_url=url, max_retries=0), "fake-model")
    try:
        made = await summariser.summarise(CHAPTER)
        assert made.text and made.model_used == "fake-model" and made.tokens_used == 160
        assert fake.prompts[-1][0] == {"role": "system", "content": SYSTEM_PROMPT}
        assert fake.prompts[-1][1]["content"] == CHAPTER
        fake.fail_next = 1
        with pytest.raises(ProviderError) as failed:  # a 500: worth another delivery
            await summariser.summarise(CHAPTER)
        assert not isinstance(failed.value, PermanentError)
    finally:
        await summariser.close()


async def test_offline_the_summary_is_the_chapters_key_sentences() -> None:
    made = await OfflineSummariser().summarise(CHAPTER)
    assert made.key_sentences == [
        "The harbour froze in the night.",
        "Mara walked out across the ice to the stranded boat, counting her steps aloud.",
    ]
    assert made.text == " ".join(made.key_sentences) and made.model_used == "offline"
