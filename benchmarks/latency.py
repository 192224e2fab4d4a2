"""Latency of ``respond()`` per message, and the time to build the responder, as the knowledge
base grows: the shipped one, and synthetic ones 10x and 100x larger (``benchmarks.synthetic``).

A reply's latency is what a child waiting for an answer feels. With the sentence encoder, most
of it is encoding the message (about 1.4 ms per token on one core), and that cost is the same
whatever the knowledge base's size; what grows is everything after it (the crisis check,
language detection, both retrieval scorers and the policy). So each message is measured in two
parts and the parts are added:

* its encoding: the real encoder on its windows, timed live once per message (shipped size);
* the rest of ``respond()``: timed on every pass, with the message's vectors looked up from a
  cache (``benchmarks.encoded``) instead of computed again. The bigger knowledge bases get
  their phrasing vectors synthesised from the shipped ones (``scale_semantic``).

We time each development-set message separately after a warm-up pass over a fifth of the set,
repeat the full pass several times, take each message's median over the passes and report the
percentiles of (encoding + the rest); "without encoding" is the rest alone, what the knowledge
base's size changes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

from benchmarks.encoded import RememberedEncoder
from benchmarks.machine import ROOT
from benchmarks.measure import median, one_core, percentile
from benchmarks.synthetic import scale_knowledge, scale_semantic
from bot.crisis_model import CrisisModel, CrisisModelError, load_model
from bot.dialogue import Responder, build_semantic_index
from bot.encoder import shared_encoder
from bot.evaluation import Case, load_cases
from bot.knowledge import KnowledgeBase, default_knowledge_dir, load_knowledge
from bot.semantic import SemanticIndex

BUILD_RUNS = 3
#: The synthetic sizes measured in the process itself; LARGE_SCALE separately (see Background).
SCALES = (1, 10)
#: At 100x one build takes ~50 s and one pass ~20 s, and the whole benchmark must stay within
#: minutes: fewer builds and passes there, still more than one of each.
LARGE_SCALE = 100
LARGE_SCALE_BUILDS = 2
LARGE_SCALE_RUNS = 3
#: The warm-up pass uses every WARM_UP_STEP-th message: all languages, a fifth of the time.
WARM_UP_STEP = 5


@dataclass
class LatencyResult:
    """``respond()`` timings with one knowledge base size; all times in milliseconds.

    ``p50_ms``..``mean_ms`` include each message's encoding (once ``with_encoding`` has added
    it); ``rest_*`` are without it.
    """

    scale: int
    entries: int
    variants: int
    build_ms: float  # median time to build the Responder (both indexes, safety, language)
    builds: int
    rest_p50_ms: float
    rest_p99_ms: float
    runs: int
    build_runs_ms: list[float]
    message_ms: list[float] = field(repr=False)  # per message, median over passes, no encoding
    p50_ms: float = float("nan")
    p95_ms: float = float("nan")
    p99_ms: float = float("nan")
    mean_ms: float = float("nan")
    encoder: bool = True


def with_encoding(result: LatencyResult, encoding_ms: Sequence[float]) -> LatencyResult:
    """The percentiles of (each message's encoding + the rest of its ``respond()``)."""
    totals = [
        rest + encoding for rest, encoding in zip(result.message_ms, encoding_ms, strict=True)
    ]
    return replace(
        result,
        p50_ms=percentile(totals, 0.50),
        p95_ms=percentile(totals, 0.95),
        p99_ms=percentile(totals, 0.99),
        mean_ms=sum(totals) / len(totals),
    )


def encoding_times(responder: Responder, cases: Sequence[Case]) -> list[float]:
    """Milliseconds to encode each message's windows on the real encoder (0 for none)."""
    encode = shared_encoder().encode
    encode(["warm-up"])
    timings = []
    for case in cases:
        windows = list(responder.prepare(case.text).windows)
        started = time.perf_counter()
        if windows:
            encode(windows)
        timings.append((time.perf_counter() - started) * 1000 if windows else 0.0)
    return timings


def time_messages(responder: Responder, texts: Sequence[str]) -> list[float]:
    """Milliseconds for each ``respond()`` call, one message at a time."""
    timings = []
    clock = time.perf_counter_ns
    for text in texts:
        started = clock()
        responder.respond(text)
        timings.append((clock() - started) / 1e6)
    return timings


def _crisis_model() -> CrisisModel | None:
    try:
        return load_model(default_knowledge_dir())
    except CrisisModelError:
        return None


def shipped_semantic(kb: KnowledgeBase) -> SemanticIndex:
    """The shipped knowledge base's phrasing vectors (from the on-disk cache)."""
    return build_semantic_index(kb, shared_encoder().encode)


def measure_scale(
    kb: KnowledgeBase,
    semantic: SemanticIndex,
    cases: Sequence[Case],
    scale: int,
    *,
    runs: int = 5,
    builds: int = BUILD_RUNS,
) -> LatencyResult:
    """Build the responder ``builds`` times (keeping the last), then time ``runs`` passes."""
    scaled = scale_knowledge(kb, scale)
    scaled_semantic = semantic if scale == 1 else scale_semantic(scaled, semantic)
    encode = RememberedEncoder()
    model = _crisis_model()
    build_ms = []
    responder: Responder | None = None
    for _ in range(builds):
        responder = None  # let the previous index go before building the next one
        started = time.perf_counter()
        responder = Responder(scaled, encode=encode, crisis_model=model, semantic=scaled_semantic)
        build_ms.append((time.perf_counter() - started) * 1000)
    assert responder is not None
    texts = [case.text for case in cases]
    encode.warm([w for text in texts for w in responder.prepare(text).windows])
    time_messages(responder, texts[::WARM_UP_STEP])  # warm-up
    passes = [time_messages(responder, texts) for _ in range(runs)]
    per_message = [median(list(timings)) for timings in zip(*passes, strict=True)]
    return LatencyResult(
        scale=scale,
        entries=len(scaled.entries),
        variants=responder.retriever.variant_count,
        build_ms=median(build_ms),
        builds=builds,
        rest_p50_ms=percentile(per_message, 0.50),
        rest_p99_ms=percentile(per_message, 0.99),
        runs=runs,
        build_runs_ms=build_ms,
        message_ms=per_message,
    )


def run_latency(
    kb: KnowledgeBase,
    semantic: SemanticIndex,
    cases: Sequence[Case],
    *,
    scales: Sequence[int] = SCALES,
    runs: int = 5,
) -> list[LatencyResult]:
    return [measure_scale(kb, semantic, cases, scale, runs=runs) for scale in scales]


def measure_large(
    kb: KnowledgeBase, semantic: SemanticIndex, cases: Sequence[Case], *, runs: int
) -> LatencyResult:
    """The 100x knowledge base, with fewer builds and passes (see LARGE_SCALE_BUILDS)."""
    return measure_scale(
        kb,
        semantic,
        cases,
        LARGE_SCALE,
        runs=min(runs, LARGE_SCALE_RUNS),
        builds=min(BUILD_RUNS, LARGE_SCALE_BUILDS),
    )


class Background:
    """The 100x measurement in a separate process pinned to another core.

    It is by far the longest part, so it runs on the second core while the quality, 10x and
    start-up parts run on the first. The shipped-size latency and throughput, whose targets are
    close, are measured while the second core is idle. The message vectors must be in the cache
    before it starts (the main process warms it), so that it never runs the encoder.
    """

    def __init__(self, cpu: int, runs: int) -> None:
        self.cpu = cpu
        self._process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.latency", "--cpu", str(cpu), "--runs", str(runs)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def result(self) -> LatencyResult:
        """Wait for the measurement; raise RuntimeError with its stderr if it failed."""
        out, err = self._process.communicate()
        if self._process.returncode != 0:
            raise RuntimeError(f"the 100x measurement failed: {err.strip()[-1000:]}")
        return LatencyResult(**json.loads(out))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.latency``: the 100x measurement alone, as JSON (for Background)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.latency")
    parser.add_argument("--cpu", type=int, help="pin to this CPU")
    parser.add_argument("--runs", type=int, default=LARGE_SCALE_RUNS)
    args = parser.parse_args(argv)
    with one_core(args.cpu):
        kb = load_knowledge()
        result = measure_large(kb, shipped_semantic(kb), load_cases(), runs=args.runs)
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
