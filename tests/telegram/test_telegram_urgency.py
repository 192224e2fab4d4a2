"""The machinery that puts a crisis first, piece by piece: the priority limiter, the patient
rate limiter (429s and network failures), and the encoder worker (its thread, batches, lanes).

End to end, against the fake Bot API server, in test_telegram_crisis.py.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from telegram.error import NetworkError, RetryAfter

from bot.telegram.delivery import Patience, PatientRateLimiter
from bot.telegram.encoding import MAX_BACKGROUND, EncoderWorker, Lane
from bot.telegram.urgency import PriorityLimiter, is_urgent, mark_urgent, urgent

QUICK = Patience(first_wait=0.01, max_wait=0.02, give_up_after=0.2, crisis_give_up_after=10.0)


# ---- PriorityLimiter -------------------------------------------------------------------------


async def test_a_burst_then_the_rate() -> None:
    limiter = PriorityLimiter(5, 0.25)  # 20 a second, bursts of 5
    loop = asyncio.get_running_loop()
    started = loop.time()
    times = []
    for _ in range(10):
        await limiter.acquire()
        times.append(loop.time() - started)
    assert times[4] < 0.05, "the first five at once"
    assert 0.2 <= times[9] < 0.5, "then 20 a second"


async def test_urgent_waiters_go_before_ordinary_ones() -> None:
    limiter = PriorityLimiter(2, 0.1)
    order: list[str] = []

    async def take(name: str, is_urgent: bool) -> None:
        await limiter.acquire(urgent=is_urgent)
        order.append(name)

    await take("burst-1", False)
    await take("burst-2", False)
    tasks = [asyncio.create_task(take(f"ordinary-{n}", False)) for n in range(4)]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(take("urgent", True)))
    await asyncio.gather(*tasks)
    assert order[2] == "urgent"
    assert order[3:] == [f"ordinary-{n}" for n in range(4)], "the others keep their order"


async def test_a_cancelled_waiter_holds_nobody_up() -> None:
    limiter = PriorityLimiter(1, 0.05)
    await limiter.acquire()
    gone = asyncio.create_task(limiter.acquire(urgent=True))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.wait_for(limiter.acquire(), 1.0)
    assert limiter.waiting == 0


# ---- PatientRateLimiter ----------------------------------------------------------------------


def failing(error: Callable[[], Exception], times: int) -> tuple[Callable[..., Any], list[float]]:
    """A Bot API call that fails ``times`` times with ``error()``, then succeeds."""
    tries: list[float] = []

    async def call() -> dict[str, Any]:
        tries.append(time.monotonic())
        if len(tries) <= times:
            raise error()
        return {"ok": True}

    return call, tries


def too_many() -> Exception:
    return RetryAfter(dtm.timedelta(seconds=0))


async def send(
    limiter: PatientRateLimiter, call: Callable[..., Any], chat_id: int = 5
) -> dict[str, Any] | bool | list[dict[str, Any]]:
    return await limiter.process_request(call, (), {}, "sendMessage", {"chat_id": chat_id}, None)


async def test_ordinary_replies_give_up_after_five_429s() -> None:
    limiter = PatientRateLimiter(sends_per_second=0, patience=QUICK)
    call, tries = failing(too_many, 8)
    with pytest.raises(RetryAfter):
        await send(limiter, call)
    assert len(tries) == 1 + QUICK.retries_after_429


async def test_a_crisis_reply_outlasts_a_429_storm() -> None:
    limiter = PatientRateLimiter(sends_per_second=0, patience=QUICK)
    call, tries = failing(too_many, 7)
    with urgent():
        assert await send(limiter, call) == {"ok": True}
    assert len(tries) == 8
    assert min(b - a for a, b in itertools.pairwise(tries)) >= 0.1, "each 429 waited out"


async def test_a_crisis_reply_outlasts_a_network_outage() -> None:
    """Ordinary replies give up after ``give_up_after``; a crisis keeps trying for minutes."""
    limiter = PatientRateLimiter(sends_per_second=0, patience=QUICK)
    ordinary, _ = failing(lambda: NetworkError("down"), 10_000)
    started = time.monotonic()
    with pytest.raises(NetworkError):
        await send(limiter, ordinary)
    assert time.monotonic() - started < 1.0
    crisis, tries = failing(lambda: NetworkError("down"), 15)  # ~0.3 s of waiting
    with urgent():
        assert await send(limiter, crisis) == {"ok": True}
    assert tries[-1] - tries[0] > QUICK.give_up_after


async def test_a_crisis_is_given_up_only_after_its_own_deadline() -> None:
    patience = Patience(first_wait=0.01, max_wait=0.01, crisis_give_up_after=0.3)
    limiter = PatientRateLimiter(sends_per_second=0, patience=patience)
    call, tries = failing(lambda: NetworkError("down"), 10_000)
    with urgent(), pytest.raises(NetworkError):
        await send(limiter, call)
    assert 0.25 <= tries[-1] - tries[0] <= 0.5


async def test_a_crisis_goes_first_through_the_overall_limit() -> None:
    limiter = PatientRateLimiter(sends_per_second=10, patience=QUICK)
    sent: list[str] = []

    def reply(name: str) -> Callable[..., Any]:
        async def call() -> bool:
            sent.append(name)
            return True

        return call

    backlog = [
        asyncio.create_task(send(limiter, reply(f"q{n}"), chat_id=100 + n)) for n in range(30)
    ]
    await asyncio.sleep(0.05)  # the burst of 10 is out; 20 wait

    async def crisis() -> None:
        with urgent():
            await send(limiter, reply("crisis"), chat_id=999)

    started = time.monotonic()
    await crisis()
    assert time.monotonic() - started < 0.25, "the next free slot, not the end of the queue"
    assert sent.index("crisis") <= 12
    for task in backlog:
        task.cancel()
    await asyncio.gather(*backlog, return_exceptions=True)


async def test_groups_keep_their_own_limit() -> None:
    limiter = PatientRateLimiter(sends_per_second=0, group_sends_per_minute=3, patience=QUICK)
    call, _ = failing(too_many, 0)
    for _ in range(3):
        await asyncio.wait_for(send(limiter, call, chat_id=-100123), 0.1)  # a burst of 3
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(send(limiter, call, chat_id=-100123), 0.1)  # then one in 20 s
    await asyncio.wait_for(send(limiter, call, chat_id=77), 0.1)  # people are not held up
    await asyncio.wait_for(send(limiter, call, chat_id=-100456), 0.1)  # nor other groups


# ---- urgency ---------------------------------------------------------------------------------


async def test_urgency_belongs_to_one_task() -> None:
    async def crisis() -> bool:
        mark_urgent()
        return is_urgent()

    assert await asyncio.create_task(crisis()) is True
    assert is_urgent() is False, "marking a crisis in one task leaves every other alone"


# ---- EncoderWorker ---------------------------------------------------------------------------


class SlowEncoder:
    """Vectors that say which text they are for; ``seconds`` per window; records each call."""

    def __init__(self, seconds: float = 0.005) -> None:
        self.seconds = seconds
        self.batches: list[list[str]] = []
        self.threads: set[int] = set()
        self.release = threading.Event()
        self.release.set()

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.release.wait(5)
        self.threads.add(threading.get_ident())
        self.batches.append(list(texts))
        time.sleep(self.seconds * len(texts))
        return np.array([[float(len(t)), float(hash(t) % 1000)] for t in texts])


def vector_of(text: str) -> list[float]:
    return [float(len(text)), float(hash(text) % 1000)]


async def test_encoding_runs_in_one_worker_thread_and_batches_what_queues_up() -> None:
    encoder = SlowEncoder()
    worker = EncoderWorker(encoder)
    texts = [f"message number {n}" for n in range(40)]
    try:
        results = await asyncio.gather(*(worker.encode([t]) for t in texts))
    finally:
        worker.close()
    for text, vectors in zip(texts, results, strict=True):
        assert vectors is not None
        assert vectors.tolist() == [vector_of(text)], "each caller gets its own vectors"
    assert encoder.threads and threading.get_ident() not in encoder.threads
    assert len(encoder.threads) == 1
    assert worker.calls < len(texts) / 3, "queued messages are encoded together"
    assert max(len(batch) for batch in encoder.batches) <= 8


async def test_the_loop_runs_while_the_encoder_works() -> None:
    worker = EncoderWorker(SlowEncoder(seconds=0.2))
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        await worker.encode(["a long message"])
    finally:
        ticker.cancel()
        worker.close()
    assert ticks >= 10


async def test_urgent_requests_skip_the_queue() -> None:
    encoder = SlowEncoder(seconds=0.001)
    worker = EncoderWorker(encoder)
    encoder.release.clear()  # the worker is stuck in its first batch
    first = asyncio.create_task(worker.encode(["busy"]))
    await asyncio.sleep(0.05)
    ordinary = [asyncio.create_task(worker.encode([f"q{n}"])) for n in range(20)]
    crisis = asyncio.create_task(worker.encode(["help me"], Lane.URGENT))
    await asyncio.sleep(0.01)
    encoder.release.set()
    try:
        await asyncio.gather(first, crisis, *ordinary)
    finally:
        worker.close()
    assert encoder.batches[0] == ["busy"]
    assert encoder.batches[1] == ["help me"], "the crisis is next, on its own"


async def test_background_requests_wait_for_an_idle_worker() -> None:
    encoder = SlowEncoder(seconds=0.001)
    worker = EncoderWorker(encoder, max_batch=1)
    encoder.release.clear()
    busy = asyncio.create_task(worker.encode(["busy"]))
    await asyncio.sleep(0.05)
    held_back = asyncio.create_task(worker.encode(["flooding"], Lane.BACKGROUND))
    ordinary = [asyncio.create_task(worker.encode([f"q{n}"])) for n in range(3)]
    await asyncio.sleep(0.01)
    encoder.release.set()
    try:
        await asyncio.gather(busy, held_back, *ordinary)
    finally:
        worker.close()
    assert [batch[0] for batch in encoder.batches] == ["busy", "q0", "q1", "q2", "flooding"]


async def test_the_background_lane_is_bounded() -> None:
    encoder = SlowEncoder()
    worker = EncoderWorker(encoder)
    encoder.release.clear()
    busy = asyncio.create_task(worker.encode(["busy"]))
    await asyncio.sleep(0.05)
    try:
        waiting = [
            asyncio.create_task(worker.encode([f"m{n}"], Lane.BACKGROUND))
            for n in range(MAX_BACKGROUND + 1)
        ]
        await asyncio.sleep(0.05)
        assert await asyncio.wait_for(worker.encode(["one more"], Lane.BACKGROUND), 1) is None
    finally:
        encoder.release.set()
        worker.close()
    await asyncio.gather(busy, *waiting, return_exceptions=True)


async def test_a_withdrawn_request_is_not_encoded() -> None:
    encoder = SlowEncoder()
    worker = EncoderWorker(encoder)
    encoder.release.clear()
    busy = asyncio.create_task(worker.encode(["busy"]))
    await asyncio.sleep(0.05)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(worker.encode(["too late"], Lane.URGENT), 0.01)
    encoder.release.set()
    await busy
    worker.close()
    assert ["too late"] not in encoder.batches


async def test_engine_errors_reach_the_caller_and_the_worker_carries_on() -> None:
    calls = 0

    def flaky(texts: list[str]) -> np.ndarray:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("engine failed")
        return np.zeros((len(texts), 2))

    worker = EncoderWorker(flaky)
    try:
        with pytest.raises(OSError):
            await worker.encode(["first"])
        second = await worker.encode(["second"])
    finally:
        worker.close()
    assert second is not None and second.shape == (1, 2)


async def test_no_encoder_no_thread() -> None:
    worker = EncoderWorker(None)
    assert not worker.enabled
    assert await worker.encode(["anything"]) is None
    assert await EncoderWorker(SlowEncoder()).encode([]) is None


async def test_closing_cancels_what_waits_and_the_idle_thread_ends() -> None:
    encoder = SlowEncoder()
    worker = EncoderWorker(encoder, idle_exit=0.05)
    await worker.encode(["warm up"])
    await asyncio.sleep(0.2)
    assert not [t for t in threading.enumerate() if t.name == "encoder" and t.is_alive()] or (
        worker._thread is None
    )
    encoder.release.clear()
    busy = asyncio.create_task(worker.encode(["busy"]))
    await asyncio.sleep(0.05)
    queued = asyncio.create_task(worker.encode(["queued"]))
    await asyncio.sleep(0.01)
    closing = threading.Thread(target=worker.close)
    closing.start()
    await asyncio.sleep(0.05)
    encoder.release.set()
    await asyncio.to_thread(closing.join)
    assert (await busy) is not None, "the batch in progress is finished"
    with pytest.raises(asyncio.CancelledError):
        await queued
    with pytest.raises(RuntimeError):
        await worker.encode(["after close"])
