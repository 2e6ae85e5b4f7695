"""What a simulated writer does, and when: seeded, so that a run can be repeated. No I/O here."""

from __future__ import annotations

import random
from dataclasses import dataclass

NAMES = "Mara Ines Tobias Elin Soren Hale Wren Agnes Pell Corin Ada Brann".split()
NOUNS = "ledger lamp harbour ferry storm quay rope lantern gull tide keeper cargo compass chart anchor mast".split()
VERBS = "carried watched found dropped mended counted followed hid opened burned read lost".split()
PLACES = (
    "up the lighthouse stairs|across the frozen quay|into the boathouse|along the harbour wall|under the old pier"
).split("|")

# One step of a writer every THINK seconds or so (typing, then the studio's 800 ms pause before
# it saves): most steps are an autosave; now and then something else, as a person works.
ACTIONS: dict[str, float] = {
    "save": 0.78,  # typed a sentence in the open chapter: PUT with its version
    "view": 0.06,  # the book view (the studio reloads it on events)
    "list": 0.03,  # the blob list
    "open": 0.03,  # opened another chapter (GET the draft)
    "state": 0.02,  # the dashboard's state
    "invalid": 0.02,  # a save the schema refuses (a 422 is the right answer, not an error)
    "rename": 0.01,  # a chapter's title changed
    "pitch": 0.01,  # the pitch notes edited
    "delete": 0.005,  # a chapter deleted (a new one takes its place, so books keep their size)
    "new": 0.005,  # a new chapter of about 1,000 words, pasted in: its expansion is timed
    "compile": 0.005,  # the book compiled, then a file downloaded
}
THINK = (2.0, 6.0)  # seconds between steps (uniform)
EXPORTS = ("epub", "docx", "pdf", "md", "txt")


def sentence(rng: random.Random) -> str:
    return (
        f"{rng.choice(NAMES)} {rng.choice(VERBS)} the {rng.choice(NOUNS)} {rng.choice(PLACES)} "
        f"while the {rng.choice(NOUNS)} {rng.choice(VERBS)} the {rng.choice(NOUNS)}."
    )


def prose(rng: random.Random, words: int, paragraph_words: int = 60) -> str:
    """About `words` words of varied prose in paragraphs of about `paragraph_words`."""
    paragraphs, paragraph, count = [], [], 0
    while count < words:
        text = sentence(rng)
        paragraph.append(text)
        count += len(text.split())
        if sum(len(s.split()) for s in paragraph) >= paragraph_words:
            paragraphs.append(" ".join(paragraph))
            paragraph = []
    if paragraph:
        paragraphs.append(" ".join(paragraph))
    return "\n\n".join(paragraphs)


@dataclass(frozen=True)
class Shape:
    """A writer's book and devices, drawn before the clock starts."""

    chapters: int
    devices: int
    chapter_words: list[int]


def shape(rng: random.Random) -> Shape:
    """20-40 chapters of 150-300 words (drafts in progress), and a second device open for a third of writers."""
    chapters = rng.randint(20, 40)
    return Shape(
        chapters=chapters,
        devices=2 if rng.random() < 1 / 3 else 1,
        chapter_words=[rng.randint(150, 300) for _ in range(chapters)],
    )


def next_action(rng: random.Random) -> str:
    return rng.choices(list(ACTIONS), weights=list(ACTIONS.values()))[0]


def think(rng: random.Random) -> float:
    return rng.uniform(*THINK)


def typed(rng: random.Random, text: str) -> str:
    """`text` with what was typed since the last save: a few words (a person types about 40 a
    minute), and now and then a new paragraph."""
    words = " ".join(sentence(rng).split()[: rng.randint(3, 10)])
    return f"{text}\n\n{words}" if rng.random() < 0.1 else f"{text} {words}"
