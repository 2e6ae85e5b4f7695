"""An expander that needs no model: elaborates each sentence of the draft in the draft's style.

It keeps every original sentence, in order, and follows each with sentences built around the noun
phrases the draft itself uses, drawn from a bank per style, never the same sentence twice. It aims
at the seeds' 3x-5x expansion. Its output is labelled `model_used: "offline"`.
"""

from __future__ import annotations

import hashlib
import re

from .style import sentences, words

TARGET_RATIO = 3.6
MAX_RATIO = 5.0

_PHRASE = re.compile(r"\b(?:the|a|an|his|her|their|its|my|our|this|every)\s+([A-Za-z][a-z]+)(?:\s+([a-z]+))?", re.I)
_STOP = frozenset(
    "a an the and or but of to in on at by for with from into over under as is was were be been are it its this that "
    "his her their our my your he she they we you i not no so than then there here "
    "who whom which what when where why how "
    "had has have did do does would could should will shall may might must can never always still just only also very "
    "same other more most few little much".split()
)

BANKS: dict[str, tuple[str, ...]] = {
    "creative": (
        "For a long moment the {a} seemed to hold its breath, as if it knew what was coming.",
        "There was something patient about the {a}, something that had been waiting far longer than anyone guessed.",
        "Light moved across the {a} slowly, picking out details that had gone unnoticed for years.",
        "It would be easy to overlook the {a}, yet everything that followed depended on it.",
        "The air around the {a} smelled faintly of salt and old rain.",
        "Later, when the story was told again, people would begin with the {a}.",
        "Even the silence near the {a} had a texture, thin and watchful.",
        "Thoughts kept returning to the {a}, turning it over like a stone picked up from the shore.",
        "Nothing about the {a} was accidental; it had been placed there by someone who expected to be understood.",
        "The {a} and the {b} belonged to the same story, though neither yet knew how.",
        "Between the {a} and the {b} lay a distance that had nothing to do with miles.",
        "Somewhere beyond the {a}, the day went on as though nothing had changed.",
        "Every small sound seemed to gather around the {a}.",
        "The {a} looked smaller up close, and far more fragile than it had from a distance.",
    ),
    "formal": (
        "The significance of the {a} warrants closer attention at this point.",
        "It should be noted that the {a} plays a central role in what follows.",
        "Considered carefully, the {a} reveals more than its first appearance suggests.",
        "The relationship between the {a} and the {b} merits particular consideration.",
        "This detail concerning the {a} establishes the conditions for the events that follow.",
        "Accordingly, the {a} becomes a point of reference for the remainder of the account.",
        "One may reasonably ask why the {a} was given such prominence.",
        "The circumstances surrounding the {a} were, by all accounts, unusual.",
        "In this respect, the {a} functions as more than a mere setting.",
        "The account returns to the {a} with evident deliberation.",
        "Neither the {a} nor the {b} can be understood in isolation.",
        "The presence of the {a} thus frames the situation with some precision.",
    ),
    "casual": (
        "Honestly, the {a} was kind of the whole point.",
        "You'd think the {a} wouldn't matter much, but it really did.",
        "And the {a}? That was a whole other story.",
        "It's funny how the {a} stuck in everyone's head afterwards.",
        "Nobody said it out loud, but the {a} had everyone a little on edge.",
        "So there it was: the {a}, right where it shouldn't have been.",
        "The {a} and the {b} didn't exactly go together, and everybody knew it.",
        "Looking back, the {a} should've been the first clue.",
        "The {a} was pretty hard to ignore, to be fair.",
        "Anyway, the {a} wasn't going anywhere.",
        "Turns out the {a} mattered more than anyone figured.",
        "Funny thing about the {a}: once you noticed it, you couldn't stop noticing.",
    ),
}
FALLBACK_PHRASES = {"creative": ("moment", "silence"), "formal": ("matter", "situation"), "casual": ("thing", "moment")}


# Common verbs that a naive phrase reader would take for a second noun: "the ferry left".
_VERBS = frozenset(
    "left went came took made sat ran saw stood held kept told said found felt gave got led lay rose fell spoke "
    "wrote knew thought brought began turned looked moved waited watched opened closed".split()
)


def noun_phrases(text: str) -> list[str]:
    """Phrases the text puts after a determiner (`the old ledger` -> `old ledger`), first use first."""
    found: list[str] = []
    for first, second in _PHRASE.findall(text):
        phrase = first
        if phrase.lower() in _STOP:
            continue
        if second and second not in _STOP and second not in _VERBS and not second.endswith(("ed", "ing", "ly", "s")):
            phrase = f"{phrase} {second}"
        if phrase not in found:
            found.append(phrase)
    return found


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big")


def expand(text: str, style: str = "creative") -> str:
    """A fuller version of `text`: each sentence kept, then elaborated; paragraphs between them."""
    bank = BANKS.get(style, BANKS["creative"])
    original = sentences(text) or [text.strip()]
    everywhere = noun_phrases(text) or list(FALLBACK_PHRASES.get(style, FALLBACK_PHRASES["creative"]))
    budget = max(1, len(words(text)))
    # A draft of a few words cannot be stretched 3-5x in whole sentences; give it a few anyway.
    target = max(TARGET_RATIO * budget, budget + 15)
    ceiling = max(MAX_RATIO * budget, budget + 45)
    used: set[str] = set()
    templates_used: set[str] = set()
    paragraphs: list[list[str]] = [[s] for s in original]
    total = budget
    rounds = 0
    # Round-robin over the sentences so that elaboration is spread evenly through the draft.
    while total < target and rounds < 6:
        added = False
        for number, paragraph in enumerate(paragraphs):
            if total >= target:
                break
            local = noun_phrases(paragraph[0]) or everywhere
            composed = _compose(bank, local, everywhere, used, templates_used, _seed(paragraph[0]) + number, rounds)
            if composed is None:
                continue
            sentence, template = composed
            if total + len(words(sentence)) > ceiling:
                continue
            paragraph.append(sentence)
            used.add(sentence)
            templates_used.add(template)
            total += len(words(sentence))
            added = True
        rounds += 1
        if not added:
            break
    return "\n\n".join(" ".join(p) for p in paragraphs)


def _compose(
    bank: tuple[str, ...],
    local: list[str],
    everywhere: list[str],
    used: set[str],
    templates_used: set[str],
    seed: int,
    turn: int,
) -> tuple[str, str] | None:
    """A sentence not written yet, from a template not used yet if any is left; with its template."""
    a = local[turn % len(local)]
    others = [p for p in (local + everywhere) if p != a]
    b = others[(seed + turn) % len(others)] if others else None
    order = [bank[(seed + turn * 3 + step) % len(bank)] for step in range(len(bank))]
    fresh = [t for t in order if t not in templates_used]
    for template in fresh + [t for t in order if t in templates_used]:
        if "{b}" in template and b is None:
            continue
        candidate = template.format(a=a, b=b)
        candidate = candidate[0].upper() + candidate[1:]
        if candidate not in used:
            return candidate, template
    return None
