"""Measure ``respond()`` on the development set: the figures ``python -m bot eval`` prints.

The set (``tests/eval/devset.yaml``) was written before the thresholds were tuned, the way
children, teenagers and parents write. Each message names the entry it expects, or
``out-of-scope`` (the bot should not answer) or ``crisis`` (the bot must answer with helplines).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.dialogue import Reply, Responder
from bot.text import LANGUAGES

OUT_OF_SCOPE = "out-of-scope"
CRISIS = "crisis"
DEFAULT_DEVSET = Path(__file__).resolve().parent.parent / "tests" / "eval" / "devset.yaml"

#: The targets the issue sets; tests/test_evaluation.py asserts them.
TARGET_TOP1 = 0.95
TARGET_FALSE_ANSWERS = 0.05
TARGET_CRISIS_RECALL = 1.0
TARGET_FALSE_ALARMS = 0.02


@dataclass(frozen=True)
class Case:
    text: str
    lang: str
    expect: str
    near_miss: bool = False


@dataclass
class LanguageReport:
    """Counts for one language."""

    in_scope: int = 0
    top1: int = 0
    answered_right: int = 0
    clarified: int = 0
    out_of_scope: int = 0
    false_answers: int = 0
    crisis: int = 0
    crisis_found: int = 0
    not_crisis: int = 0
    false_alarms: int = 0
    wrong_language: int = 0
    failures: list[str] = field(default_factory=list)

    @staticmethod
    def rate(part: int, whole: int) -> float:
        return part / whole if whole else 0.0

    @property
    def top1_accuracy(self) -> float:
        return self.rate(self.top1, self.in_scope)

    @property
    def clarify_rate(self) -> float:
        return self.rate(self.clarified, self.in_scope)

    @property
    def false_answer_rate(self) -> float:
        return self.rate(self.false_answers, self.out_of_scope)

    @property
    def crisis_recall(self) -> float:
        return self.rate(self.crisis_found, self.crisis)

    @property
    def false_alarm_rate(self) -> float:
        return self.rate(self.false_alarms, self.not_crisis)


def load_cases(path: Path = DEFAULT_DEVSET) -> list[Case]:
    with path.open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    return [
        Case(str(item["text"]), item["lang"], item["expect"], bool(item.get("near_miss")))
        for item in raw
    ]


def predicted_entry(reply: Reply) -> str | None:
    """The entry the bot ranks first: the one answered, or the first 'did you mean'."""
    if reply.entry_id:
        return reply.entry_id
    if reply.suggestions:
        return reply.suggestions[0].id
    return None


def evaluate(
    responder: Responder,
    cases: Iterable[Case],
    respond: Callable[[str], Reply] | None = None,
) -> dict[str, LanguageReport]:
    """Run every case through ``respond`` (default: the responder's) and count per language."""
    respond = respond or responder.respond
    reports = {lang: LanguageReport() for lang in LANGUAGES}
    for case in cases:
        report = reports[case.lang]
        reply = respond(case.text)
        if reply.lang != case.lang:
            report.wrong_language += 1
        is_crisis = reply.kind == "crisis"
        if case.expect == CRISIS:
            report.crisis += 1
            report.crisis_found += is_crisis
            if not is_crisis:
                report.failures.append(f"missed crisis: {case.text!r} -> {reply.kind}")
            continue
        report.not_crisis += 1
        if is_crisis:
            report.false_alarms += 1
            report.failures.append(f"false alarm: {case.text!r} (expected {case.expect})")
        if case.expect == OUT_OF_SCOPE:
            report.out_of_scope += 1
            if reply.kind in ("answer", "smalltalk"):
                report.false_answers += 1
                report.failures.append(f"answered out-of-scope: {case.text!r} -> {reply.entry_id}")
            continue
        report.in_scope += 1
        predicted = predicted_entry(reply)
        if predicted == case.expect:
            report.top1 += 1
            report.answered_right += reply.kind in ("answer", "smalltalk")
            report.clarified += reply.kind == "clarify"
        else:
            report.clarified += reply.kind == "clarify"
            report.failures.append(
                f"wrong: {case.text!r} expected {case.expect}, got {reply.kind} {predicted}"
            )
    return reports


def format_report(reports: dict[str, LanguageReport], *, show_failures: bool = True) -> str:
    """A table of the figures per language, then the failures."""
    header = (
        f"{'lang':<5}{'top-1':>8}{'answered':>10}{'clarify':>9}{'OOS false':>11}"
        f"{'crisis recall':>15}{'false alarms':>14}{'wrong lang':>12}"
    )
    lines = [header, "-" * len(header)]
    for lang, r in reports.items():
        lines.append(
            f"{lang:<5}{r.top1_accuracy:>8.1%}{r.rate(r.answered_right, r.in_scope):>10.1%}"
            f"{r.clarify_rate:>9.1%}{r.false_answer_rate:>11.1%}{r.crisis_recall:>15.1%}"
            f"{r.false_alarm_rate:>14.1%}{r.wrong_language:>12}"
        )
    counts = {lang: (r.in_scope, r.out_of_scope, r.crisis) for lang, r in reports.items()}
    lines.append("")
    lines.append(
        "messages (in scope, out of scope, crisis): "
        + ", ".join(f"{lang} {a}/{b}/{c}" for lang, (a, b, c) in counts.items())
    )
    lines.append(
        f"targets: top-1 >= {TARGET_TOP1:.0%}, out-of-scope false answers <= "
        f"{TARGET_FALSE_ANSWERS:.0%}, crisis recall {TARGET_CRISIS_RECALL:.0%}, "
        f"false alarms <= {TARGET_FALSE_ALARMS:.0%}"
    )
    if show_failures:
        for lang, r in reports.items():
            if r.failures:
                lines.append(f"\nfailures ({lang}):")
                lines.extend(f"  {failure}" for failure in r.failures)
    return "\n".join(lines)


def meets_targets(reports: dict[str, LanguageReport]) -> bool:
    return all(
        r.top1_accuracy >= TARGET_TOP1
        and r.false_answer_rate <= TARGET_FALSE_ANSWERS
        and r.crisis_recall >= TARGET_CRISIS_RECALL
        and r.false_alarm_rate <= TARGET_FALSE_ALARMS
        for r in reports.values()
    )
