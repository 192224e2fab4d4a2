"""Crisis detection: a child in danger gets helplines before anything else.

Runs before retrieval and never shares its thresholds with it. The phrases live in
``knowledge/safety.yaml``; each phrase is a handful of word stems that must all appear close
together in the message, in any order (Russian and Kazakh word order is free). A stem ending in
``*`` matches any word that starts with it, so one stem covers all the endings of a Russian or
Kazakh word. Long words and stems also forgive one typo (see the lengths below); short ones do
not, or "привет" would read as "прибьет".

Questions *about* a subject ("what is the law on domestic violence") are not a crisis: when a
message contains an ``asking_about`` word (law, punishment, statistics, essay...), only phrases
marked ``!`` (first-person statements such as "I want to die") still count.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import product

from rapidfuzz.distance import Levenshtein

from bot.knowledge import SafetyPatterns
from bot.text import LANGUAGES, normalize, tokens

#: Whole words at least this long forgive one typo (shorter ones would match too many words).
FUZZY_WORD_LENGTH = 7
#: Prefix stems match many endings already, so they forgive a typo only from this length.
FUZZY_PREFIX_LENGTH = 6
#: All words of a phrase must fall within this many words of each other.
PHRASE_WINDOW = 7


@dataclass(frozen=True)
class _Phrase:
    """One crisis phrase: a slot per word, each slot the ids of its alternative stems."""

    source: str
    slots: tuple[tuple[int, ...], ...]
    strong: bool


class _StemMatcher:
    """Finds which stems a word matches: exact words, prefixes, and one typo for long stems."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, bool], int] = {}
        self._exact: dict[str, list[int]] = defaultdict(list)
        self._prefix: dict[str, list[int]] = defaultdict(list)
        self._fuzzy: dict[str, list[tuple[str, bool, int]]] = defaultdict(list)
        self._cache: dict[str, frozenset[int]] = {}

    def add(self, text: str, prefix: bool) -> int:
        key = (text, prefix)
        if key not in self._ids:
            stem_id = self._ids[key] = len(self._ids)
            (self._prefix if prefix else self._exact)[text].append(stem_id)
            if len(text) >= (FUZZY_PREFIX_LENGTH if prefix else FUZZY_WORD_LENGTH):
                self._fuzzy[text[0]].append((text, prefix, stem_id))
        return self._ids[key]

    def matches(self, word: str) -> frozenset[int]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        found = set(self._exact.get(word, ()))
        for end in range(1, len(word) + 1):
            found.update(self._prefix.get(word[:end], ()))
        for text, prefix, stem_id in self._fuzzy.get(word[:1], ()):
            candidate = word[: len(text)] if prefix else word
            if abs(len(candidate) - len(text)) <= 1 and (
                Levenshtein.distance(text, candidate, score_cutoff=1) <= 1
            ):
                found.add(stem_id)
        result = frozenset(found)
        if len(self._cache) < 50_000:
            self._cache[word] = result
        return result


@dataclass(frozen=True)
class CrisisSignal:
    """Why a message was judged a crisis (for tests and debugging; never logged with text)."""

    phrase: str


class SafetyCheck:
    """Decides whether a message is from someone in danger or distress."""

    def __init__(self, patterns: SafetyPatterns) -> None:
        self._matcher = _StemMatcher()
        self._phrases = [
            self._parse(phrase) for lang in LANGUAGES for phrase in patterns.crisis.get(lang, ())
        ]
        self._asking = [
            self._parse(phrase)
            for lang in LANGUAGES
            for phrase in patterns.asking_about.get(lang, ())
        ]

    def _parse(self, phrase: str) -> _Phrase:
        strong = phrase.startswith("!")
        slots = []
        for slot in phrase.lstrip("!").split():
            stem_ids = []
            for alternative in slot.split("|"):
                text = normalize(alternative.rstrip("*")).replace(" ", "")
                if text:
                    stem_ids.append(self._matcher.add(text, alternative.endswith("*")))
            if stem_ids:
                slots.append(tuple(stem_ids))
        return _Phrase(phrase, tuple(slots), strong)

    def check(self, message: str) -> CrisisSignal | None:
        """A CrisisSignal if the message needs the helplines first, else None."""
        positions: dict[int, list[int]] = defaultdict(list)
        for index, word in enumerate(tokens(normalize(message))):
            for stem_id in self._matcher.matches(word):
                positions[stem_id].append(index)
        if not positions:
            return None
        asking = any(_found(phrase, positions) for phrase in self._asking)
        for phrase in self._phrases:
            if (phrase.strong or not asking) and _found(phrase, positions):
                return CrisisSignal(phrase.source)
        return None


def _found(phrase: _Phrase, positions: dict[int, list[int]]) -> bool:
    """True if every slot matches a different word and all lie within PHRASE_WINDOW words."""
    hits_per_slot = []
    for slot in phrase.slots:
        hits = sorted({i for stem_id in slot for i in positions.get(stem_id, ())})
        if not hits:
            return False
        hits_per_slot.append(hits)
    if len(hits_per_slot) == 1:
        return True
    # Slide a window over the message; inside one window each slot has at most PHRASE_WINDOW
    # hits, so trying combinations stays cheap even for long, repetitive messages.
    for start in sorted({i for hits in hits_per_slot for i in hits}):
        in_window = [
            [i for i in hits if start <= i < start + PHRASE_WINDOW] for hits in hits_per_slot
        ]
        if all(in_window) and any(
            len(set(combination)) == len(combination) for combination in product(*in_window)
        ):
            return True
    return False
