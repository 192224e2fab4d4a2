"""``python -m benchmarks.tune``: refit the fusion and answer-policy constants of bot/retrieval.py.

On the development set (``tests/eval/devset.yaml``) and, with ``--learn-from``, on blind sets
whose first-sight figures have already been recorded: a blind set is for measuring at first
sight and is never tuned on before that (``../shared/EVALUATION.md``, step 3: after recording,
it becomes development data). ``--set`` refuses files under ``tests/eval/blind/``; every file
given to ``--learn-from`` is named in the output, so the figures' provenance is on record. It
prints the constants it finds; copying them into bot/retrieval.py is a deliberate, reviewed
edit, not something a script does behind anyone's back.

What is fitted (needs scikit-learn, ``pip install ".[train]"``):

1. Each scorer's evidence: a logistic curve from its best entry's score to "that entry is the
   one meant" (word score for the words, rescaled cosine for the meaning), fitted over every
   non-crisis message (out-of-scope ones count as "not meant").
2. The recalibration of their noisy-OR (Platt scaling, with the message's length in words),
   fitted the same way on the fused best.
3. The policy thresholds, by a grid over the development set: the most messages answered
   right, with out-of-scope answers and "did you mean" as costs (see OBJECTIVE), within the
   issue's limits per language.

Crisis messages are left out: the safety check answers them before retrieval.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.encoded import RememberedEncoder
from bot import retrieval
from bot.dialogue import Responder, build_semantic_index
from bot.encoder import shared_encoder
from bot.evaluation import CRISIS, DEFAULT_DEVSET, OUT_OF_SCOPE, Case, load_cases
from bot.knowledge import load_knowledge
from bot.retrieval import Match
from bot.text import LANGUAGES, clip, tokens

#: The grid's score: answered right, minus these multiples of the out-of-scope answer rate and
#: of the "did you mean" rate (in-scope), averaged over the languages.
OOS_COST = 2.0
CLARIFY_COST = 0.5
#: Limits every language of every file must stay within (the issue's targets; clarify with
#: room; the out-of-scope one is what tests/test_evaluation.py asserts on the devset).
MAX_CLARIFY = 0.08
MAX_OOS_FALSE = 0.05
ANSWER_GRID = (0.8, 0.85, 0.9, 0.95)
HINT_GRID = (0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
OPTION_GRID = (0.3, 0.4, 0.5, 0.6, 0.7)


@dataclass(frozen=True)
class Observation:
    """One non-crisis development message: what it expects, and both scorers' view of the
    entries the bot nominates for it (small talk that does not fit already left out)."""

    lang: str
    expect: str
    matches: tuple[Match, ...]
    words: int = 1


def observe(
    responder: Responder, encode: RememberedEncoder, cases: Sequence[Case]
) -> list[Observation]:
    """Every nominated entry of every non-crisis case, with its word score and cosine."""
    found = []
    for case in cases:
        if case.expect == CRISIS:
            continue
        message = responder.prepare(case.text)
        vectors = encode(list(message.windows)) if message.windows else None
        text = clip(message.normalized)
        ranked = responder.retriever.rank_normalized(text, limit=10_000, vectors=vectors)
        matches = tuple(m for m in ranked if responder.retriever.fits(m))
        found.append(Observation(case.lang, case.expect, matches, len(tokens(text))))
    return found


def _logistic(x: Sequence[float | Sequence[float]], y: list[bool]) -> tuple[float, ...]:
    """(coefficients..., intercept) of a logistic regression, mildly regularised (C=1)."""
    from sklearn.linear_model import LogisticRegression

    features = np.array(x, dtype=float)
    if features.ndim == 1:
        features = features[:, None]
    model = LogisticRegression(C=1.0, max_iter=2000).fit(features, np.array(y))
    return (*(float(c) for c in model.coef_[0]), float(model.intercept_[0]))


def _length(words: int) -> float:
    return math.log(min(max(words, 1), retrieval.LENGTH_CAP))


def _best(matches: Sequence[Match], key: Callable[[Match], float]) -> Match | None:
    return max(matches, key=lambda m: (key(m), m.entry_id), default=None)


def fit_evidence(observations: Sequence[Observation]) -> dict[str, float]:
    """The two scorers' logistic curves and the fused recalibration (steps 1 and 2)."""
    words_x, words_y, meaning_x, meaning_y = [], [], [], []
    for o in observations:
        by_words = _best(o.matches, lambda m: m.fuzzy)
        by_meaning = _best(o.matches, lambda m: m.cosine or 0.0)
        if by_words is not None:
            words_x.append(by_words.fuzzy / 100)
            words_y.append(by_words.entry_id == o.expect)
        if by_meaning is not None and by_meaning.cosine is not None:
            rescaled = (by_meaning.cosine - retrieval.COSINE_ORIGIN) / (1 - retrieval.COSINE_ORIGIN)
            meaning_x.append(rescaled)
            meaning_y.append(by_meaning.entry_id == o.expect)
    constants: dict[str, float] = {}
    constants["FUZZY_SLOPE"], constants["FUZZY_OFFSET"] = _logistic(words_x, words_y)
    constants["COSINE_SLOPE"], constants["COSINE_OFFSET"] = _logistic(meaning_x, meaning_y)
    fused_x, fused_y = [], []
    for o in observations:
        scored = [(_either(m, constants), m.entry_id) for m in o.matches]
        if scored:
            either, entry_id = max(scored)
            fused_x.append((_logit(either), _length(o.words)))
            fused_y.append(entry_id == o.expect)
    (
        constants["FUSED_SLOPE"],
        constants["LENGTH_SLOPE"],
        constants["FUSED_OFFSET"],
    ) = _logistic(fused_x, fused_y)
    return constants


def _sigmoid(value: float) -> float:
    return 1 / (1 + math.exp(-value))


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def _either(match: Match, c: dict[str, float]) -> float:
    words = _sigmoid(c["FUZZY_SLOPE"] * match.fuzzy / 100 + c["FUZZY_OFFSET"])
    if match.cosine is None:
        return words
    rescaled = (match.cosine - retrieval.COSINE_ORIGIN) / (1 - retrieval.COSINE_ORIGIN)
    meaning = _sigmoid(c["COSINE_SLOPE"] * rescaled + c["COSINE_OFFSET"])
    return 1 - (1 - words) * (1 - meaning)


def confidences(o: Observation, c: dict[str, float]) -> list[tuple[float, str]]:
    """(confidence, entry) best first, as bot.retrieval would compute them with ``c``."""
    length = c["LENGTH_SLOPE"] * _length(o.words)
    scored = [
        (
            _sigmoid(c["FUSED_SLOPE"] * _logit(_either(m, c)) + length + c["FUSED_OFFSET"]),
            m.entry_id,
        )
        for m in o.matches
    ]
    return sorted(scored, key=lambda item: (-item[0], item[1]))


@dataclass(frozen=True)
class PolicyFigures:
    answered_right: dict[str, float]
    clarify: dict[str, float]
    oos_false: dict[str, float]
    top1: dict[str, float]

    def score(self) -> float:
        return sum(
            self.answered_right[lang]
            - OOS_COST * self.oos_false[lang]
            - CLARIFY_COST * self.clarify[lang]
            for lang in LANGUAGES
        ) / len(LANGUAGES)

    def within_limits(self) -> bool:
        return all(
            self.clarify[lang] <= MAX_CLARIFY and self.oos_false[lang] <= MAX_OOS_FALSE
            for lang in LANGUAGES
        )


def policy_figures(
    ranked: Sequence[tuple[Observation, list[tuple[float, str]]]],
    answer: float,
    hint: float,
    option: float,
) -> PolicyFigures:
    """bot.retrieval.decide with these thresholds, counted per language."""
    counts = {
        lang: dict.fromkeys(("in", "right", "clarify", "oos", "false", "top1"), 0)
        for lang in LANGUAGES
    }
    for o, scored in ranked:
        kind, first = "fallback", None
        if scored and scored[0][0] >= option:
            first = scored[0][1]
            options = [s for s in scored[: retrieval.MAX_SUGGESTIONS] if s[0] >= option]
            lead = min((_logit(scored[0][0]) - _logit(s[0]) for s in options[1:]), default=9.0)
            if scored[0][0] >= answer and lead >= retrieval.CLEAR_LEAD:
                kind = "answer"
            elif len(options) > 1:
                kind = "clarify"
            elif scored[0][0] >= hint:
                kind = "answer"
        c = counts[o.lang]
        if o.expect == OUT_OF_SCOPE:
            c["oos"] += 1
            c["false"] += kind == "answer"
            continue
        c["in"] += 1
        c["clarify"] += kind == "clarify"
        c["right"] += kind == "answer" and first == o.expect
        c["top1"] += kind != "fallback" and first == o.expect

    def rate(lang: str, part: str, whole: str) -> float:
        return counts[lang][part] / max(counts[lang][whole], 1)

    return PolicyFigures(
        answered_right={lang: rate(lang, "right", "in") for lang in LANGUAGES},
        clarify={lang: rate(lang, "clarify", "in") for lang in LANGUAGES},
        oos_false={lang: rate(lang, "false", "oos") for lang in LANGUAGES},
        top1={lang: rate(lang, "top1", "in") for lang in LANGUAGES},
    )


def _row(name: str, f: PolicyFigures) -> str:
    def cells(values: dict[str, float]) -> str:
        return " ".join(f"{values[lang]:6.1%}" for lang in LANGUAGES)

    return (
        f"{name:<22} answered {cells(f.answered_right)} | clarify {cells(f.clarify)} | "
        f"OOS false {cells(f.oos_false)} | top-1 {cells(f.top1)}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.tune", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--set", type=Path, default=DEFAULT_DEVSET, dest="devset")
    parser.add_argument("--knowledge", type=Path, help="knowledge base directory")
    parser.add_argument(
        "--learn-from",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="also fit on this blind set; only once its first-sight figures are recorded",
    )
    args = parser.parse_args(argv)
    if "blind" in args.devset.resolve().parts:
        print("refusing to tune on a blind set (see ../shared/EVALUATION.md)", file=sys.stderr)
        return 2
    kb = load_knowledge(args.knowledge)
    semantic = build_semantic_index(kb, shared_encoder().encode)
    encode = RememberedEncoder()
    responder = Responder(kb, encode=encode, semantic=semantic)
    per_file: dict[str, list[Observation]] = {}
    for path in [args.devset, *args.learn_from]:
        cases = load_cases(path)
        encode.warm([w for case in cases for w in responder.prepare(case.text).windows])
        per_file[path.name] = observe(responder, encode, cases)
    observations = [o for found in per_file.values() for o in found]

    current = {
        name: getattr(retrieval, name)
        for name in (
            "FUZZY_SLOPE",
            "FUZZY_OFFSET",
            "COSINE_SLOPE",
            "COSINE_OFFSET",
            "FUSED_SLOPE",
            "LENGTH_SLOPE",
            "FUSED_OFFSET",
        )
    }
    fitted = fit_evidence(observations)
    sources = ", ".join(str(p) for p in [args.devset, *args.learn_from])
    print(f"fitted on: {sources} ({len(observations)} non-crisis messages)\n")
    print(f"{'constant':<16}{'in the code':>12}{'fitted now':>12}")
    for name, value in fitted.items():
        print(f"{name:<16}{current[name]:>12.2f}{value:>12.2f}")

    ranked = {
        name: [(o, confidences(o, current)) for o in found] for name, found in per_file.items()
    }
    policy = (retrieval.ANSWER_CONFIDENCE, retrieval.HINT_CONFIDENCE, retrieval.OPTION_CONFIDENCE)
    print("\nper language: " + " ".join(LANGUAGES))
    for name, found in ranked.items():
        print(_row(f"the code's, {name}"[:22], policy_figures(found, *policy)))
    grid = []
    for answer, hint, option in itertools.product(ANSWER_GRID, HINT_GRID, OPTION_GRID):
        if option <= hint <= answer:
            figures = [policy_figures(found, answer, hint, option) for found in ranked.values()]
            # Every file within the limits on its own (the tests assert them on the devset).
            if all(f.within_limits() for f in figures):
                score = sum(f.score() for f in figures) / len(figures)
                grid.append((round(score, 6), answer, hint, option, figures))
    # Best score first; on a tie, the more cautious (higher) thresholds.
    grid.sort(key=lambda g: (g[0], g[1], g[2], g[3]), reverse=True)
    print(
        f"\nbest policies within the limits (clarify <= {MAX_CLARIFY:.0%}, OOS false <= "
        f"{MAX_OOS_FALSE:.0%} per language and file), with the code's fusion constants:"
    )
    for score, answer, hint, option, figures in grid[:5]:
        print(f"{answer:.2f}/{hint:.2f}/{option:.2f} (score {score:.3f})")
        for name, f in zip(ranked, figures, strict=True):
            print(_row(f"  {name}"[:22], f))
    print("(ANSWER_CONFIDENCE/HINT_CONFIDENCE/OPTION_CONFIDENCE)")
    encode.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
