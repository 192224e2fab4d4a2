"""Retrieval quality side by side: our ``respond()`` against what a team would otherwise use.

The alternatives index exactly the same question variants (every language) and map the best
variant to its entry:

* BM25 (the ``bm25s`` package), once on our normalised words (so it gets our Kazakh letter
  folding and transliteration for free, which makes the comparison about ranking alone) and
  once on raw lowercase words;
* the plain rapidfuzz scorers, used naively: ``process.extractOne`` over all variants with
  ``processor=rapidfuzz.utils.default_process``.

Definitions, the same for every system:

* top-1: the best-ranked entry is the expected one, over in-scope messages. For us that is
  ``bot.evaluation.predicted_entry`` (the answer, or the first "did you mean"); a fallback or a
  false crisis alarm counts as wrong. For the alternatives it is simply their best match,
  whatever its score, which is the most generous reading.
* answered right / false answers out of scope: an alternative answers when its score reaches a
  cutoff. It has no cutoff of its own, so we give each one the cutoff that makes the most right
  decisions on this very set (in-scope answered correctly plus out-of-scope declined). Choosing
  it with hindsight on the test data favours the alternatives; our thresholds were fixed in
  ``bot/retrieval.py`` without seeing these figures.
* crisis messages: the alternatives have no safety layer, so they have no crisis recall; we
  count how many crisis messages they would have answered with an ordinary entry instead.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import bm25s
from rapidfuzz import fuzz, process, utils

from benchmarks.measure import median
from bot.dialogue import Responder
from bot.evaluation import CRISIS, OUT_OF_SCOPE, Case, predicted_entry
from bot.knowledge import KnowledgeBase, iter_questions
from bot.text import LANGUAGES, normalize

ANSWER_KINDS = ("answer", "smalltalk")
FUZZ_SCORERS: dict[str, Callable[..., float]] = {
    "ratio": fuzz.ratio,
    "partial_ratio": fuzz.partial_ratio,
    "token_set_ratio": fuzz.token_set_ratio,
    "WRatio": fuzz.WRatio,
}


@dataclass(frozen=True)
class Guess:
    """What one system made of one message."""

    entry_id: str | None  # the best-ranked entry; None when nothing matched at all
    score: float  # the system's own score for it
    answered: bool = False  # ours only: respond() answered outright
    crisis: bool = False  # ours only: respond() gave the helplines


class System(Protocol):
    """Anything that can guess the entry a message asks about."""

    name: str
    has_thresholds: bool  # True: the system decides itself when to answer (ours)

    def guess(self, message: str) -> Guess: ...


class Ours:
    """The bot's whole pipeline, ``respond()``: safety, retrieval, thresholds."""

    name = "ours: respond()"
    has_thresholds = True

    def __init__(self, responder: Responder) -> None:
        self._responder = responder

    def guess(self, message: str) -> Guess:
        reply = self._responder.respond(message)
        return Guess(
            predicted_entry(reply),
            reply.score,
            answered=reply.kind in ANSWER_KINDS,
            crisis=reply.kind == "crisis",
        )


class _Variants:
    """Every question variant of the knowledge base, with the entry each belongs to."""

    def __init__(self, kb: KnowledgeBase) -> None:
        triples = list(iter_questions(kb))
        self.texts = [question for _, _, question in triples]
        self.entry_ids = [entry.id for entry, _, _ in triples]


class BM25:
    """BM25 over the question variants (``bm25s``, Lucene flavour, default k1 and b)."""

    has_thresholds = False

    def __init__(self, kb: KnowledgeBase, name: str, tokenize: Callable[[str], list[str]]) -> None:
        self.name = name
        self._tokenize = tokenize
        self._variants = _Variants(kb)
        self._index = bm25s.BM25()
        self._index.index([tokenize(text) for text in self._variants.texts], show_progress=False)
        self._vocabulary = self._index.vocab_dict

    def guess(self, message: str) -> Guess:
        words = [word for word in self._tokenize(message) if word in self._vocabulary]
        if not words:
            return Guess(None, 0.0)
        scores = self._index.get_scores(words)
        best = int(scores.argmax())
        if scores[best] <= 0:
            return Guess(None, 0.0)
        return Guess(self._variants.entry_ids[best], float(scores[best]))


class Fuzz:
    """One rapidfuzz scorer, the way its documentation's first example uses it."""

    has_thresholds = False

    def __init__(self, kb: KnowledgeBase, scorer_name: str) -> None:
        self.name = f"rapidfuzz {scorer_name}"
        self._scorer = FUZZ_SCORERS[scorer_name]
        self._variants = _Variants(kb)

    def guess(self, message: str) -> Guess:
        found = process.extractOne(
            message, self._variants.texts, scorer=self._scorer, processor=utils.default_process
        )
        if found is None:
            return Guess(None, 0.0)
        _, score, index = found
        return Guess(self._variants.entry_ids[index], float(score))


def normalized_words(text: str) -> list[str]:
    """Our tokenisation: ``bot.text.normalize`` then split."""
    return normalize(text).split()


def raw_words(text: str) -> list[str]:
    """What BM25 tutorials do: lowercase and split on whitespace."""
    return text.lower().split()


def build_systems(kb: KnowledgeBase, responder: Responder) -> list[System]:
    systems: list[System] = [
        Ours(responder),
        BM25(kb, "BM25, our normalised words", normalized_words),
        BM25(kb, "BM25, raw lowercase words", raw_words),
    ]
    systems.extend(Fuzz(kb, name) for name in FUZZ_SCORERS)
    return systems


@dataclass
class SystemResult:
    """The quality figures of one system on the development set."""

    name: str
    top1: dict[str, float]  # per language, in-scope messages
    answered_right: float  # in-scope messages answered outright with the right entry
    false_answers: float  # out-of-scope messages answered, all languages
    false_answers_by_lang: dict[str, float]
    crisis_recall: float | None  # None: the system has no safety layer
    crisis_answered: float  # crisis messages given an ordinary answer instead of helplines
    ms_per_message: float  # median over runs of the mean time per message
    cutoff: float | None  # the hindsight cutoff of an alternative; None for ours
    run_ms: list[float] = field(default_factory=list)


@dataclass
class QualityResult:
    """Every system's figures; ours first."""

    systems: list[SystemResult]
    counts: dict[str, dict[str, int]]  # per language: in-scope, out-of-scope, crisis
    runs: int


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else math.nan


def best_cutoff(guesses: Sequence[Guess], cases: Sequence[Case]) -> float:
    """The score cutoff with the most right decisions on ``cases`` (lowest such cutoff)."""
    judged = [(g, c) for g, c in zip(guesses, cases, strict=True) if c.expect != CRISIS]
    candidates = [*sorted({g.score for g, _ in judged if g.entry_id is not None}), math.inf]

    def right(cutoff: float) -> int:
        total = 0
        for guess, case in judged:
            answers = guess.entry_id is not None and guess.score >= cutoff
            if case.expect == OUT_OF_SCOPE:
                total += not answers
            else:
                total += answers and guess.entry_id == case.expect
        return total

    return max(candidates, key=lambda cutoff: (right(cutoff), -cutoff))


def _score(
    system: System, guesses: list[Guess], cases: Sequence[Case], run_ms: list[float]
) -> SystemResult:
    ours = system.has_thresholds
    cutoff = None if ours else best_cutoff(guesses, cases)

    def answers(guess: Guess) -> bool:
        if ours:
            return guess.answered
        assert cutoff is not None
        return guess.entry_id is not None and guess.score >= cutoff

    hits = dict.fromkeys(LANGUAGES, 0)
    in_scope = dict.fromkeys(LANGUAGES, 0)
    oos = dict.fromkeys(LANGUAGES, 0)
    false = dict.fromkeys(LANGUAGES, 0)
    right = crisis = crisis_found = crisis_answered = 0
    for guess, case in zip(guesses, cases, strict=True):
        if case.expect == CRISIS:
            crisis += 1
            crisis_found += guess.crisis
            crisis_answered += answers(guess) and not guess.crisis
        elif case.expect == OUT_OF_SCOPE:
            oos[case.lang] += 1
            false[case.lang] += answers(guess)
        else:
            in_scope[case.lang] += 1
            hit = guess.entry_id == case.expect
            hits[case.lang] += hit
            right += hit and answers(guess)
    return SystemResult(
        name=system.name,
        top1={lang: _rate(hits[lang], in_scope[lang]) for lang in LANGUAGES},
        answered_right=_rate(right, sum(in_scope.values())),
        false_answers=_rate(sum(false.values()), sum(oos.values())),
        false_answers_by_lang={lang: _rate(false[lang], oos[lang]) for lang in LANGUAGES},
        crisis_recall=_rate(crisis_found, crisis) if ours else None,
        crisis_answered=_rate(crisis_answered, crisis),
        ms_per_message=median(run_ms),
        cutoff=cutoff,
        run_ms=run_ms,
    )


def _counts(cases: Sequence[Case]) -> dict[str, dict[str, int]]:
    counts = {lang: {"in_scope": 0, "out_of_scope": 0, "crisis": 0} for lang in LANGUAGES}
    for case in cases:
        kind = {CRISIS: "crisis", OUT_OF_SCOPE: "out_of_scope"}.get(case.expect, "in_scope")
        counts[case.lang][kind] += 1
    return counts


def run_quality(
    kb: KnowledgeBase, responder: Responder, cases: Sequence[Case], *, runs: int = 3
) -> QualityResult:
    """Every system over every case ``runs`` times; figures from the first pass, times from all.

    The first pass is timed too: ours fills its word caches then, the alternatives have none,
    and the median of three passes is the warm figure either way.
    """
    results = []
    for system in build_systems(kb, responder):
        guesses: list[Guess] = []
        run_ms = []
        for run in range(runs):
            started = time.perf_counter()
            made = [system.guess(case.text) for case in cases]
            run_ms.append((time.perf_counter() - started) * 1000 / len(cases))
            if run == 0:
                guesses = made
        results.append(_score(system, guesses, cases, run_ms))
    return QualityResult(results, _counts(cases), runs)
