"""Style analysis computed from the text itself: Flesch reading ease, sentence and word statistics."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

_SENTENCE = re.compile(r"[^.!?]+[.!?]*")
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_VOWELS = re.compile(r"[aeiouy]+")
_CONTRACTION = re.compile(r"\b\w+'(?:s|t|re|ve|ll|d|m)\b", re.I)
FORMAL_MARKERS = frozenset(
    "therefore however moreover furthermore thus accordingly consequently nevertheless whereas hence".split()
)
FIGURATIVE_MARKERS = frozenset("like as if though seemed glow shadow silver gold whisper breath light dark".split())


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if _WORD.search(s)]


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def syllables(word: str) -> int:
    """A standard heuristic: vowel groups, less a silent final e, at least one."""
    lowered = word.lower()
    count = len(_VOWELS.findall(lowered))
    if lowered.endswith("e") and not lowered.endswith(("le", "ee")) and count > 1:
        count -= 1
    return max(count, 1)


@dataclass(frozen=True)
class StyleAnalysis:
    tone: str
    complexity: float
    readability_score: float
    vocabulary_level: str
    sentence_count: int
    word_count: int
    avg_sentence_length: float
    avg_word_length: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def analyse(text: str) -> StyleAnalysis:
    found_sentences = sentences(text) or [text]
    found_words = words(text) or ["x"]
    n_sentences, n_words = len(found_sentences), len(found_words)
    n_syllables = sum(syllables(w) for w in found_words)
    words_per_sentence = n_words / n_sentences
    flesch = 206.835 - 1.015 * words_per_sentence - 84.6 * (n_syllables / n_words)
    long_words = sum(1 for w in found_words if syllables(w) >= 3) / n_words
    avg_word_length = sum(len(w) for w in found_words) / n_words
    complexity = min(1.0, max(0.0, 0.5 * min(words_per_sentence / 30, 1.0) + 0.5 * min(long_words / 0.3, 1.0)))
    if avg_word_length >= 5.2 or long_words >= 0.2:
        vocabulary = "advanced"
    elif avg_word_length >= 4.4 or long_words >= 0.1:
        vocabulary = "intermediate"
    else:
        vocabulary = "basic"
    return StyleAnalysis(
        tone=tone_of(text, found_words),
        complexity=round(complexity, 3),
        readability_score=round(flesch, 1),
        vocabulary_level=vocabulary,
        sentence_count=n_sentences,
        word_count=n_words,
        avg_sentence_length=round(words_per_sentence, 1),
        avg_word_length=round(avg_word_length, 2),
    )


def tone_of(text: str, found_words: list[str]) -> str:
    """The strongest of a few simple signals: conversational, formal, lyrical, or neutral."""
    total = max(len(found_words), 1)
    lowered = [w.lower() for w in found_words]
    conversational = (len(_CONTRACTION.findall(text)) + text.count("!") + lowered.count("you")) / total
    formal = sum(1 for w in lowered if w in FORMAL_MARKERS) / total
    lyrical = sum(1 for w in lowered if w in FIGURATIVE_MARKERS) / total
    scores = {"conversational": conversational, "formal": formal * 2, "lyrical": lyrical}
    best = max(scores, key=lambda k: scores[k])
    return best if scores[best] >= 0.01 else "neutral"
