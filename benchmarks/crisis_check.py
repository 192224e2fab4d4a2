"""How long the crisis check takes per message: phrases, encoder and classifier, on one core.

``python -m benchmarks.crisis_check`` times ``Responder.prepare`` + encoding the windows +
``SafetyCheck.judge`` for every message of the blind crisis sets and the development set, one
at a time (as the bot's single encoder worker does), and prints p50, p95, p99 and the maximum,
also by message length. The issue's target is p99 at most 15 ms on one core.
"""

from __future__ import annotations

import statistics
import time

from bot.dialogue import Responder
from bot.evaluation import DEFAULT_DEVSET, blind_sets, load_cases


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(responder: Responder, texts: list[str]) -> list[float]:
    """Milliseconds per message for the whole crisis check."""
    timings = []
    assert responder.encode is not None, "the encoder is needed for this benchmark"
    for text in texts:
        started = time.perf_counter()
        message = responder.prepare(text)
        vectors = responder.encode(list(message.windows)) if message.windows else None
        responder.safety.judge(message.normalized, vectors)
        timings.append(1000 * (time.perf_counter() - started))
    return timings


def main() -> None:
    responder = Responder.from_directory()
    texts = [case.text for path in [DEFAULT_DEVSET, *blind_sets()] for case in load_cases(path)]
    measure(responder, texts[:20])  # warm up
    timings = measure(responder, texts)
    print(f"crisis check, {len(texts)} messages, one encoder thread")
    print(
        f"  p50 {statistics.median(timings):.1f} ms, p95 {percentile(timings, 0.95):.1f} ms, "
        f"p99 {percentile(timings, 0.99):.1f} ms, max {max(timings):.1f} ms (target p99 <= 15 ms)"
    )
    for low, high in ((0, 40), (40, 100), (100, 300), (300, 100_000)):
        part = [t for text, t in zip(texts, timings, strict=True) if low <= len(text) < high]
        if part:
            print(
                f"  {low}-{high if high < 100_000 else '...'} characters: {len(part)} messages, "
                f"p50 {statistics.median(part):.1f} ms, p99 {percentile(part, 0.99):.1f} ms"
            )


if __name__ == "__main__":
    main()
