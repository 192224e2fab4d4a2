"""Crisis detection: a child in danger gets helplines before anything else.

Runs before retrieval and never shares its thresholds with it. The phrases live in
``knowledge/safety.yaml``; each phrase is a handful of word stems that must all appear close
together in the message, in any order (Russian and Kazakh word order is free). A stem ending in
``*`` matches any word that starts with it, so one stem covers all the endings of a Russian or
Kazakh word. Long words and stems also forgive one typo (see the lengths below); short ones do
not, or "привет" would read as "прибьет".

Questions *about* a subject ("what is the law on domestic violence") are not a crisis: when a
message contains an ``asking_about`` word (law, punishment, statistics, essay...) and no
first-person word, only phrases marked ``!`` still count. A first-person disclosure is a crisis
even inside a question ("can you help, my dad hits me").

The lexicon is the second net. The first is the classifier over sentence vectors
(``bot.crisis_model``), which judges what a message means; ``SafetyCheck.judge`` says a message is
a crisis if either does, and takes the kind of danger from the classifier. The classifier may not
overrule a phrase: it is least sure of short, plain disclosures ("мачеха бьет каждый день"),
exactly where the phrases are surest.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import product

import numpy as np
from rapidfuzz.distance import OSA

from bot.crisis_model import CrisisModel
from bot.knowledge import CONCERN, SafetyPatterns
from bot.text import LANGUAGES, normalize, tokens

#: Whole words at least this long forgive one typo (shorter ones would match too many words).
FUZZY_WORD_LENGTH = 5
#: Prefix stems match many endings already, so they forgive a typo only from this length.
FUZZY_PREFIX_LENGTH = 6
#: Distinct words whose stem matches are remembered (least recently used forgotten first).
WORD_CACHE_SIZE = 50_000
#: All words of a phrase must fall within this many words of each other.
PHRASE_WINDOW = 7
#: The classifier's probability that a message is a crisis at or above which it is one...
CRISIS_PROBABILITY = 0.5
#: ...and from which a weak signal gets a gentle check-in (the ``concern`` reply) instead.
CONCERN_PROBABILITY = 0.4


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
        # Least recently used words are forgotten first, so a flood of made-up words cannot
        # crowd out the real ones for good.
        self.matches = lru_cache(maxsize=WORD_CACHE_SIZE)(self._matches)

    def add(self, text: str, prefix: bool) -> int:
        key = (text, prefix)
        if key not in self._ids:
            stem_id = self._ids[key] = len(self._ids)
            (self._prefix if prefix else self._exact)[text].append(stem_id)
            if len(text) >= (FUZZY_PREFIX_LENGTH if prefix else FUZZY_WORD_LENGTH):
                self._fuzzy[text[0]].append((text, prefix, stem_id))
        return self._ids[key]

    def _matches(self, word: str) -> dict[int, bool]:
        """Stem ids the word matches, each with True if matched without forgiving a typo."""
        found = dict.fromkeys(self._exact.get(word, ()), True)
        for end in range(1, len(word) + 1):
            found.update(dict.fromkeys(self._prefix.get(word[:end], ()), True))
        for text, prefix, stem_id in self._fuzzy.get(word[:1], ()):
            candidate = word[: len(text)] if prefix else word
            if (
                stem_id not in found
                and abs(len(candidate) - len(text)) <= 1
                and OSA.distance(text, candidate, score_cutoff=1) <= 1
            ):
                found[stem_id] = False
        return found


@dataclass(frozen=True)
class CrisisSignal:
    """Why a message was judged a crisis (for tests and debugging; never logged with text).

    ``category`` is the kind of danger the reply is written for (``bot.knowledge``'s
    CRISIS_CATEGORIES, or ``concern`` for a weak signal), or None when only the lexicon could
    judge (no classifier): then the general crisis reply goes out.
    """

    category: str | None
    phrase: str | None = None
    probability: float = 0.0

    @property
    def by_lexicon(self) -> bool:
        return self.phrase is not None

    @property
    def by_model(self) -> bool:
        return self.probability >= CRISIS_PROBABILITY


@dataclass(frozen=True)
class ModelJudgement:
    """The classifier's view of one message: chance of a crisis and its likeliest kind."""

    probability: float
    category: str


class SafetyCheck:
    """Decides whether a message is from someone in danger or distress."""

    def __init__(self, patterns: SafetyPatterns, model: CrisisModel | None = None) -> None:
        self.model = model
        self._matcher = _StemMatcher()
        self._phrases = self._parse_all(patterns.crisis)
        self._asking = self._parse_all(patterns.asking_about)
        self._first_person = self._parse_all(patterns.first_person)
        self._adult_speaker = self._parse_all(patterns.adult_speaker)

    def _parse_all(self, phrases: Mapping[str, tuple[str, ...]]) -> list[_Phrase]:
        """Every language's phrases of one list, parsed."""
        return [self._parse(phrase) for lang in LANGUAGES for phrase in phrases.get(lang, ())]

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

    def _positions(self, text: str) -> _Positions:
        positions: _Positions = defaultdict(dict)
        for index, word in enumerate(tokens(text)):
            for stem_id, exact in self._matcher.matches(word).items():
                positions[stem_id][index] = exact
        return positions

    def adult_speaking(self, text: str) -> bool:
        """Whether a normalised message reads as an adult writing about a child."""
        positions = self._positions(text)
        return any(_found(phrase, positions) for phrase in self._adult_speaker)

    def lexicon_phrase(self, text: str) -> str | None:
        """The crisis phrase a normalised message matches, or None. Cheap: no encoder."""
        positions = self._positions(text)
        if not positions:
            return None
        asking = any(_found(phrase, positions) for phrase in self._asking) and not any(
            _found(phrase, positions) for phrase in self._first_person
        )
        for phrase in self._phrases:
            if (phrase.strong or not asking) and _found(phrase, positions):
                return phrase.source
        return None

    def model_judgement(self, vectors: np.ndarray) -> ModelJudgement | None:
        """The classifier's judgement of a message given the vectors of its windows.

        A long message is a crisis if any of its windows is: the window with the highest
        chance of a crisis speaks for the whole.
        """
        if self.model is None or not len(vectors):
            return None
        probabilities = self.model.probabilities(vectors)
        none = self.model.not_crisis_index
        crisis = 1.0 - probabilities[:, none]
        window = int(np.argmax(crisis))
        row = probabilities[window].copy()
        row[none] = -1.0
        return ModelJudgement(float(crisis[window]), self.model.classes[int(np.argmax(row))])

    def judge(self, text: str, vectors: np.ndarray | None = None) -> CrisisSignal | None:
        """A CrisisSignal if the message needs a crisis reply, else None.

        ``text`` is the normalised message; ``vectors`` its windows' sentence vectors (None when
        no encoder is available: the lexicon then judges alone).
        """
        phrase = self.lexicon_phrase(text)
        judgement = self.model_judgement(vectors) if vectors is not None else None
        if judgement is None:
            return CrisisSignal(None, phrase) if phrase else None
        if phrase or judgement.probability >= CRISIS_PROBABILITY:
            # Who writes decides whom the reply is for: a parent or teacher gets the adults' one.
            category = "adult_report" if self.adult_speaking(text) else judgement.category
            return CrisisSignal(category, phrase, judgement.probability)
        if judgement.probability >= CONCERN_PROBABILITY:
            return CrisisSignal(CONCERN, None, judgement.probability)
        return None


#: For each stem id: the positions of the words it matched, and whether exactly (no typo).
_Positions = dict[int, dict[int, bool]]


def _found(phrase: _Phrase, positions: _Positions) -> bool:
    """True if every slot matches a different word, all within PHRASE_WINDOW words.

    At least one of the words must match without a forgiven typo: one typo'd word on its own
    ("привет" is one letter from "прибьет") is not enough to raise an alarm.
    """
    hits_per_slot: list[dict[int, bool]] = []
    for slot in phrase.slots:
        hits: dict[int, bool] = {}
        for stem_id in slot:
            for index, exact in positions.get(stem_id, {}).items():
                hits[index] = hits.get(index, False) or exact
        if not hits:
            return False
        hits_per_slot.append(hits)
    # Slide a window over the message; inside one window each slot has at most PHRASE_WINDOW
    # hits, so trying combinations stays cheap even for long, repetitive messages.
    for start in sorted({i for hits in hits_per_slot for i in hits}):
        in_window = [
            [(i, exact) for i, exact in hits.items() if start <= i < start + PHRASE_WINDOW]
            for hits in hits_per_slot
        ]
        if not all(in_window):
            continue
        for combination in product(*in_window):
            indexes = {i for i, _ in combination}
            if len(indexes) == len(combination) and any(exact for _, exact in combination):
                return True
    return False
