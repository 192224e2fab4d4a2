"""The quality guards on the development set; a regression here fails CI.

The set (tests/eval/devset.yaml) was written before tuning and is not edited to make the bot
pass: it is an honest sample of how children, teenagers and parents write.
"""

from __future__ import annotations

from collections import Counter

import pytest
from shared import shipped_knowledge, shipped_responder

from bot.evaluation import (
    CRISIS,
    GUARD_FALSE_ANSWERS,
    GUARD_TOP1,
    OUT_OF_SCOPE,
    TARGET_CRISIS_RECALL,
    TARGET_FALSE_ALARMS,
    LanguageReport,
    evaluate,
    load_cases,
)
from bot.text import LANGUAGES

CASES = load_cases()


@pytest.fixture(scope="module")
def reports() -> dict[str, LanguageReport]:
    return evaluate(shipped_responder(), CASES)


def test_the_set_is_big_enough_and_covers_every_entry() -> None:
    expects = Counter(case.expect for case in CASES)
    assert len(CASES) >= 250
    assert expects[OUT_OF_SCOPE] >= 50 and expects[CRISIS] >= 40
    assert sum(case.near_miss for case in CASES) >= 15
    assert {case.lang for case in CASES} == set(LANGUAGES)
    # Entries added after the set was written (small talk "who made you") cannot be in it.
    questions = {e.id for e in shipped_knowledge().entries.values() if e.kind != "smalltalk"}
    assert questions <= set(expects)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_top1_accuracy(reports: dict[str, LanguageReport], lang: str) -> None:
    assert reports[lang].top1_accuracy >= GUARD_TOP1, reports[lang].failures


@pytest.mark.parametrize("lang", LANGUAGES)
def test_false_answers_out_of_scope(reports: dict[str, LanguageReport], lang: str) -> None:
    assert reports[lang].false_answer_rate <= GUARD_FALSE_ANSWERS, reports[lang].failures


@pytest.mark.parametrize("lang", LANGUAGES)
def test_crisis_recall_and_false_alarms(reports: dict[str, LanguageReport], lang: str) -> None:
    report = reports[lang]
    assert report.crisis_recall >= TARGET_CRISIS_RECALL, report.failures
    assert report.false_alarm_rate <= TARGET_FALSE_ALARMS, report.failures
