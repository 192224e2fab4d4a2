"""Message vectors for the benchmarks: each evaluation message is encoded once, then remembered.

The quality benchmark runs a dozen systems over ~1,200 messages several times; encoding every
message every time would take minutes and measure the encoder a dozen times over. So the
messages' vectors are kept in a cache file of their own (``data/cache/eval-messages.npz``, the
same format as the phrasing cache), and the encoder's cost is measured separately, on real calls
(``encoding_ms``), and reported next to the systems that need it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.machine import ROOT
from bot.encoder import shared_encoder
from bot.vector_cache import VectorCache

MESSAGES_CACHE = ROOT / "data" / "cache" / "eval-messages.npz"


class RememberedEncoder:
    """``encode`` for texts seen before from the cache; new ones by the real encoder, kept."""

    def __init__(self, path: Path | None = MESSAGES_CACHE) -> None:
        self._cache = VectorCache(path)
        self.encoded = 0  # texts that were not in the cache

    def warm(self, texts: Sequence[str]) -> None:
        """Encode (in batches, with a progress bar) and save every text not cached yet."""
        before = len(self._cache)
        self._cache.vectors(
            list(dict.fromkeys(texts)), shared_encoder().encode, progress=sys.stderr
        )
        self.encoded += len(self._cache) - before

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        return self._cache.vectors(list(texts), shared_encoder().encode, progress=None, save=False)

    def save(self) -> None:
        self._cache.save()


def encoding_ms(windows: Sequence[Sequence[str]], *, step: int = 5) -> float:
    """Mean milliseconds to encode one message (all its windows, one call), on the real encoder,
    over every ``step``-th message (all languages and lengths, a fraction of the time)."""
    encode = shared_encoder().encode
    encode(["warm-up"])
    timings = []
    for texts in windows[::step]:
        if not texts:
            continue
        started = time.perf_counter()
        encode(list(texts))
        timings.append((time.perf_counter() - started) * 1000)
    return sum(timings) / len(timings) if timings else 0.0
