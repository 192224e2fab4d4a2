"""``python -m benchmarks``: run every benchmark, print one table, save it as JSON.

The full run takes about 6 minutes on a 2-core machine (the first one longer: the phrasings and
the evaluation messages are encoded once and cached in data/cache). The order matters: the
shipped-size latency first, on a quiet machine; then the 100x latency, the longest part, in its
own process on the second core while quality (development and blind sets), 10x latency and
start-up run on the first; throughput last, once the second core is free again. ``--quick``
(fewer runs, no 100x knowledge base) is for checking that everything still works; its figures
are not for publishing.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from benchmarks import latency, quality, startup, throughput
from benchmarks.encoded import RememberedEncoder
from benchmarks.machine import ROOT, describe_machine
from benchmarks.measure import one_core, usable_cpus
from benchmarks.report import Results, format_table, write_json
from bot.dialogue import Responder
from bot.evaluation import Case, load_cases
from bot.knowledge import load_knowledge

PARTS = ("quality", "latency", "startup", "throughput")
DEFAULT_JSON = ROOT / "benchmarks" / "results" / "latest.json"
BLIND_DIR = ROOT / "tests" / "eval" / "blind"
T = TypeVar("T")


#: Blind sets whose first-sight figures are recorded and which retrieval has since learned from
#: (benchmarks/tune.py --learn-from): still shown, but labelled, and never judged by the targets.
LEARNED_FROM = ("2026-12-02-answers",)


def blind_answer_sets() -> list[Path]:
    """Every blind set of questions (not the crisis sets: safety has its own figures); the
    targets are judged on the newest one not learned from."""
    return sorted(BLIND_DIR.glob("*-answers.yaml"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Retrieval quality against BM25 and rapidfuzz, latency, start-up and "
        "memory, and throughput of the bot; prints one table.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer runs, no 100x knowledge base: a smoke run, not figures to publish",
    )
    parser.add_argument(
        "--runs",
        type=int,
        metavar="N",
        help="runs per measurement (default: 5 for latency, 3 for the rest)",
    )
    parser.add_argument(
        "--only", nargs="+", choices=PARTS, metavar="PART", help=f"run only {', '.join(PARTS)}"
    )
    parser.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help=f"results file (default: {DEFAULT_JSON})"
    )
    return parser


def _timed(name: str, work: Callable[[], T], failures: dict[str, str]) -> T | None:
    """Run one part, telling the user on stderr, since the whole run takes minutes.

    A part that fails (a message not answered exactly once, a crashed subprocess) is reported
    and the others still run: one broken part should not hide the rest of the table.
    """
    print(f"{name}...", end=" ", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        result = work()
    except Exception as error:
        print("FAILED", file=sys.stderr, flush=True)
        traceback.print_exc()
        failures[name] = f"{type(error).__name__}: {error}".splitlines()[0][:200]
        return None
    print(f"{time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.runs is not None and args.runs < 1:
        print("--runs must be at least 1", file=sys.stderr)
        return 2
    parts = set(args.only or PARTS)
    runs = args.runs
    latency_runs = runs or (3 if args.quick else 5)
    other_runs = runs or (1 if args.quick else 3)
    startup_runs = runs or 3

    started = time.perf_counter()
    kb = load_knowledge()
    cases = load_cases()
    semantic = latency.shipped_semantic(kb)  # builds the phrasing cache the first time
    remembered = RememberedEncoder()
    shipped = Responder(
        kb, encode=remembered, crisis_model=latency._crisis_model(), semantic=semantic
    )
    blind: dict[str, list[Case]] = {path.stem: load_cases(path) for path in blind_answer_sets()}
    every = cases + [case for found in blind.values() for case in found]
    print("encoding the evaluation messages (cached after the first run)...", file=sys.stderr)
    remembered.warm([w for case in every for w in shipped.prepare(case.text).windows])
    responder = Responder(kb)  # words and lexicon only, for throughput (see throughput.py)
    encoding_ms: list[float] = []
    results = Results(
        machine=describe_machine(),
        settings={
            "mode": "quick (no 100x)" if args.quick else "full",
            "runs": f"latency {latency_runs}, start-up {startup_runs}, "
            f"quality and throughput {other_runs}",
        },
    )
    failures = results.failures
    timings: list[latency.LatencyResult] = []

    def add_latency(found: list[latency.LatencyResult] | latency.LatencyResult | None) -> None:
        if found is not None:
            timings.extend(found if isinstance(found, list) else [found])
            results.latency = timings

    large = "latency" in parts and not args.quick
    with one_core() as pinned:
        results.settings["pinned"] = "one core per measurement" if pinned else "no (unsupported)"
        if "latency" in parts or "quality" in parts:  # while the machine is quiet
            encoding_ms = (
                _timed(
                    "encoding each message",
                    lambda: latency.encoding_times(shipped, cases),
                    failures,
                )
                or []
            )
        if "latency" in parts:  # first, while the machine is quiet: its target is close
            add_latency(
                _timed(
                    "latency, shipped",
                    lambda: latency.run_latency(
                        kb, semantic, cases, scales=(1,), runs=latency_runs
                    ),
                    failures,
                )
            )
    cpus = usable_cpus()
    background = latency.Background(cpus[-1], latency_runs) if large and len(cpus) > 1 else None
    with one_core():
        if "quality" in parts:
            systems = quality.build_systems(kb, shipped, responder, semantic)
            mean_encoding = sum(encoding_ms) / len(encoding_ms) if encoding_ms else 0.0
            sets = [("development set (tuned on)", cases, False)]
            sets += [
                (
                    f"blind set {name}"
                    + (" (learned from after its first sight)" if name in LEARNED_FROM else ""),
                    found,
                    name not in LEARNED_FROM,
                )
                for name, found in blind.items()
            ]
            for label, found, is_blind in sets:
                measured = _timed(
                    f"quality, {label}",
                    lambda found=found, label=label, is_blind=is_blind: quality.run_quality(
                        kb,
                        systems,
                        found,
                        set_name=label,
                        encoding_ms=mean_encoding,
                        runs=other_runs,
                        blind=is_blind,
                    ),
                    failures,
                )
                if measured is not None:
                    results.quality.append(measured)
        if "latency" in parts:
            add_latency(
                _timed(
                    "latency, 10x",
                    lambda: latency.run_latency(
                        kb, semantic, cases, scales=(10,), runs=latency_runs
                    ),
                    failures,
                )
            )
        if "startup" in parts:
            results.startup = _timed(
                "start-up", lambda: startup.run_startup(runs=startup_runs), failures
            )
        if large and background is None:
            add_latency(
                _timed(
                    "latency, 100x",
                    lambda: latency.measure_large(kb, semantic, cases, runs=latency_runs),
                    failures,
                )
            )
    if background is not None:
        results.settings["100x"] = (
            f"in its own process on CPU {background.cpu}, alongside quality, 10x and start-up"
        )
        add_latency(_timed("latency, 100x (other core)", background.result, failures))
    if encoding_ms and results.latency:
        results.latency = [latency.with_encoding(r, encoding_ms) for r in results.latency]
    if "throughput" in parts:
        results.throughput = _timed(
            "throughput",
            lambda: throughput.run_throughput(kb, responder, cases, runs=other_runs),
            failures,
        )
    results.elapsed_s = time.perf_counter() - started
    print(format_table(results))
    write_json(results, args.json)
    print(f"\n(saved to {args.json})", file=sys.stderr)
    return 1 if results.failures else 0


if __name__ == "__main__":
    sys.exit(main())
