"""The one table: every section, the machine, and the targets with met or missed.

Formatting lives here, apart from the measuring, so the same results become the printed table
(for people and the README) and ``benchmarks/results/latest.json`` (for comparing runs).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.latency import LatencyResult
from benchmarks.machine import Machine
from benchmarks.quality import QualityResult
from benchmarks.startup import StartupResult
from benchmarks.throughput import ThroughputResult, format_crisis
from bot.text import LANGUAGES

#: The targets of issue 10 (answers v2), judged on the blind set at first sight.
TARGET_ANSWERED_RIGHT = 0.90
TARGET_CLARIFY = 0.10
TARGET_OOS_FALSE = 0.05
TARGET_P99_SHIPPED_MS = 20.0
TARGET_P99_100X_MS = 60.0
TARGET_STARTUP_MS = 1500.0
TARGET_RSS_MB = 200.0


@dataclass(frozen=True)
class Target:
    name: str
    limit: str
    measured: str
    met: bool | None  # None: not measured


@dataclass
class Results:
    machine: Machine
    settings: dict[str, Any]
    quality: list[QualityResult] = field(default_factory=list)
    latency: list[LatencyResult] | None = None
    startup: list[StartupResult] | None = None
    throughput: ThroughputResult | None = None
    elapsed_s: float = 0.0
    failures: dict[str, str] = field(default_factory=dict)  # part -> what went wrong


def _pct(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.1%}"


def _ms(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def _runs(count: int, noun: str, nouns: str) -> str:
    """ "median of 3 passes", or "one pass only" (a --quick figure, not one to publish)."""
    return f"median of {count} {nouns}" if count > 1 else f"one {noun} only"


def _heading(title: str) -> list[str]:
    return ["", title, "-" * len(title)]


def quality_section(quality: QualityResult) -> list[str]:
    counts = ", ".join(
        f"{lang} {c['in_scope']}/{c['out_of_scope']}/{c['crisis']}"
        for lang, c in quality.counts.items()
    )
    lines = _heading(f"Quality, {quality.set_name}: in scope/out of scope/crisis: {counts}")
    header = (
        f"{'system':<28}{'top-1 en':>9}{'ru':>7}{'kk':>7}{'answered en':>12}{'ru':>7}{'kk':>7}"
        f"{'clarify':>8}{'OOS':>7}{'crisis':>8}{'crisis':>8}{'ms/msg':>8}{'cutoff':>8}"
    )
    lines += [
        header,
        f"{'':<28}{'':>9}{'':>7}{'':>7}{'right':>12}{'':>7}{'':>7}{'':>8}{'false':>7}"
        f"{'recall':>8}{'as FAQ':>8}{'':>8}{'':>8}",
    ]
    for s in quality.systems:
        cutoff = "fixed" if s.cutoff is None else f"{s.cutoff:.1f}"
        right = s.answered_right_by_lang
        lines.append(
            f"{s.name:<28}{_pct(s.top1['en']):>9}{_pct(s.top1['ru']):>7}{_pct(s.top1['kk']):>7}"
            f"{_pct(right['en']):>12}{_pct(right['ru']):>7}{_pct(right['kk']):>7}"
            f"{_pct(s.clarify):>8}{_pct(s.false_answers):>7}{_pct(s.crisis_recall):>8}"
            f"{_pct(s.crisis_answered):>8}{_ms(s.ms_per_message):>8}{cutoff:>8}"
        )
    lines += [
        "top-1: the best-ranked entry is the expected one (ours: the answer or the first",
        "  'did you mean'; a fallback is wrong). answered right: answered outright with the",
        "  right entry. clarify: 'did you mean' (ours). OOS false: out-of-scope messages",
        "  answered. The alternatives answer at or above 'cutoff', picked with hindsight on this",
        "  very set as the one answering most right with at most 5% of out-of-scope messages",
        "  answered (the same safety as ours must have), which favours them; ours uses fixed",
        "  thresholds.",
        "crisis: the alternatives have no safety layer (no recall); 'as FAQ' = crisis messages",
        "  answered with an ordinary entry instead of helplines.",
        f"ms/msg: {_runs(quality.runs, 'pass', 'passes')}, one core; ours includes the crisis",
        "  check and language detection; systems reading sentence vectors include encoding the",
        f"  message ({_ms(quality.encoding_ms)} ms on average, measured on the real encoder).",
    ]
    return lines


def latency_section(latency: list[LatencyResult]) -> list[str]:
    lines = _heading(
        "Latency of respond(): each dev-set message alone, after warm-up, one core; "
        "median per message over passes"
    )
    lines.append(
        f"{'knowledge base':<16}{'entries':>8}{'variants':>10}{'build ms':>10}"
        f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'p50 rest':>10}{'p99 rest':>10}"
        f"{'passes':>8}{'builds':>8}"
    )
    for r in latency:
        name = "shipped" if r.scale == 1 else f"{r.scale}x synthetic"
        lines.append(
            f"{name:<16}{r.entries:>8,}{r.variants:>10,}{_ms(r.build_ms):>10}"
            f"{_ms(r.p50_ms):>9}{_ms(r.p95_ms):>9}{_ms(r.p99_ms):>9}{_ms(r.mean_ms):>9}"
            f"{_ms(r.rest_p50_ms):>10}{_ms(r.rest_p99_ms):>10}{r.runs:>8}{r.builds:>8}"
        )
    lines += [
        "p50-mean: the whole respond(), i.e. encoding the message (timed live on the real",
        "  encoder, the same at every size) plus the rest; 'rest': everything but the encoding",
        "  (crisis check, language, both retrieval scorers, policy), what the size changes.",
        "build: constructing the Responder from cached phrasing vectors (word index, meaning",
        "  index, crisis patterns, language model), median of 'builds'. Synthetic: perturbed",
        "  copies of every entry, their phrasing vectors synthesised from the originals'",
        "  (benchmarks/synthetic.py).",
    ]
    if any(r.scale >= 100 for r in latency):
        lines += [
            "100x: fewer passes and builds, to keep the whole run short; where it ran: see",
            "  settings above.",
        ]
    return lines


def startup_section(startup: list[StartupResult]) -> list[str]:
    runs = len(startup[0].runs_ms) if startup else 0
    lines = _heading(
        f"Start-up and memory: subprocesses after one warm-up run, {_runs(runs, 'run', 'runs')}"
    )
    lines.append(f"{'command':<42}{'to output ms':>14}{'peak RSS MB':>13}")
    for r in startup:
        lines.append(f"{r.command:<42}{_ms(r.wall_ms):>14}{r.peak_rss_mb:>13.1f}")
    floor = max(r.floor_mb for r in startup) if startup else 0.0
    lines += [
        "to output: from spawning the process to its first line of output. peak RSS: the",
        f"  kernel's figure for that process (never below the launcher's {floor:.0f} MB).",
    ]
    return lines


def throughput_section(throughput: ThroughputResult) -> list[str]:
    lines = _heading(
        "Throughput: 200 users ask at once; the real Application against tests/fakebot"
    )
    if throughput.skipped:
        return [*lines, f"not measured: {throughput.skipped}"]
    runs = len(throughput.runs[0].runs_per_s) if throughput.runs else 0
    lines.append(
        f"{'run':<46}{'messages':>9}{'msg/s':>8}{'CPU ms/msg':>12}{'p50 wait ms':>13}"
        f"{'answered':>10}"
    )
    for r in throughput.runs:
        once = "once" if r.answered_once else "NO"
        lines.append(
            f"{r.label:<46}{r.messages:>9,}{r.messages_per_s:>8.1f}{r.cpu_ms_per_message:>12.2f}"
            f"{_ms(r.latency_p50_ms):>13}{once:>10}"
        )
    lines += [
        f"{_runs(runs, 'run', 'runs')}. Telegram lets a bot send about "
        f"{throughput.telegram_limit:.0f} messages/s; the limiter",
        "  lets a first burst of that size through at once. p50 wait: question queued -> answer.",
        "CPU ms/msg counts the bot and the fake server, which share one process and event loop.",
    ]
    if throughput.crisis is not None:
        lines += ["", *format_crisis(throughput.crisis)]
    return lines


def targets(results: Results) -> list[Target]:
    found: list[Target] = []
    judged = [q for q in results.quality if q.blind] or results.quality
    for quality in judged:
        ours, others = quality.systems[0], quality.systems[1:]
        where = "blind" if quality.blind else "dev"
        for lang in LANGUAGES:
            right = ours.answered_right_by_lang[lang]
            best_other = max(others, key=lambda s: s.answered_right_by_lang[lang])
            found.append(
                Target(
                    f"answered right, {lang} ({where})",
                    f">= {TARGET_ANSWERED_RIGHT:.0%}",
                    _pct(right),
                    right >= TARGET_ANSWERED_RIGHT,
                )
            )
            found.append(
                Target(
                    f"answered right first among all systems, {lang}",
                    "first",
                    f"{_pct(right)} vs {_pct(best_other.answered_right_by_lang[lang])} "
                    f"({best_other.name})",
                    right > best_other.answered_right_by_lang[lang],
                )
            )
            oos = ours.false_answers_by_lang[lang]
            found.append(
                Target(
                    f"out-of-scope answered, {lang} ({where})",
                    f"<= {TARGET_OOS_FALSE:.0%}",
                    _pct(oos),
                    oos <= TARGET_OOS_FALSE,
                )
            )
        if ours.clarify is not None:
            found.append(
                Target(
                    f"'did you mean' of in-scope ({where})",
                    f"<= {TARGET_CLARIFY:.0%}",
                    _pct(ours.clarify),
                    ours.clarify <= TARGET_CLARIFY,
                )
            )
    for r in results.latency or []:
        limit = {1: TARGET_P99_SHIPPED_MS, 100: TARGET_P99_100X_MS}.get(r.scale)
        if limit is not None:
            name = "shipped" if r.scale == 1 else f"{r.scale}x"
            found.append(
                Target(
                    f"p99 latency, {name} knowledge base",
                    f"<= {limit:g} ms",
                    f"{_ms(r.p99_ms)} ms",
                    r.p99_ms <= limit,
                )
            )
    if results.startup:
        ask = results.startup[0]
        found.append(
            Target(
                "start-up to answer, python -m bot ask",
                f"<= {TARGET_STARTUP_MS:g} ms",
                f"{_ms(ask.wall_ms)} ms",
                ask.wall_ms <= TARGET_STARTUP_MS,
            )
        )
        bot = [r for r in results.startup if not r.command.startswith("python -c")]
        heaviest = max(bot, key=lambda r: r.peak_rss_mb)
        found.append(
            Target(
                f"peak memory ({heaviest.command})",
                f"<= {TARGET_RSS_MB:g} MB",
                f"{heaviest.peak_rss_mb:.1f} MB",
                heaviest.peak_rss_mb <= TARGET_RSS_MB,
            )
        )
    if results.throughput and not results.throughput.skipped:
        limit = results.throughput.telegram_limit
        for run in results.throughput.runs:
            if not run.rate_limited:
                found.append(
                    Target(
                        "bot capacity above Telegram's limit",
                        f"> {limit:g} msg/s",
                        f"{run.messages_per_s:.0f} msg/s ({run.messages_per_s / limit:.1f}x)",
                        run.messages_per_s > limit,
                    )
                )
        found.append(
            Target(
                "every message answered exactly once",
                "all",
                "all" if all(r.answered_once for r in results.throughput.runs) else "not all",
                all(r.answered_once for r in results.throughput.runs),
            )
        )
    return found


def targets_section(found: list[Target]) -> list[str]:
    lines = _heading("Targets")
    for t in found:
        verdict = {True: "met", False: "MISSED", None: "n/a"}[t.met]
        lines.append(f"{verdict:<8}{t.name:<46}{t.limit:>12}  {t.measured}")
    return lines


def format_table(results: Results) -> str:
    settings = "; ".join(f"{k}: {v}" for k, v in results.settings.items())
    lines = [
        "kids-rights-bot benchmarks (python -m benchmarks)",
        f"machine: {results.machine.describe()}",
        f"software: {results.machine.software()}",
        f"settings: {settings}; took {results.elapsed_s:.0f} s",
    ]
    for quality in results.quality:
        lines += quality_section(quality)
    if results.latency:
        lines += latency_section(results.latency)
    if results.startup:
        lines += startup_section(results.startup)
    if results.throughput:
        lines += throughput_section(results.throughput)
    lines += targets_section(targets(results))
    if results.failures:
        lines += _heading("Failed (tracebacks on stderr)")
        lines += [f"{part}: {error}" for part, error in results.failures.items()]
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    """JSON-safe: NaN and infinity become null (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def write_json(results: Results, path: Path) -> None:
    data = asdict(results)
    data["targets"] = [asdict(t) for t in targets(results)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_plain(data), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
