"""Throughput of the whole bot: the real Telegram ``Application`` against the fake Bot API server.

A FAQ bot gets its traffic in bursts (a class told about it at once, a post shared in a chat).
Telegram lets a bot send about 30 messages per second; the bot itself must be able to do more,
so that Telegram's limit, never our code, is what users wait for. The same burst, 200 users each
sending a question at the same moment, is run twice:

* as shipped, with the app's rate limiter: the rate should sit at Telegram's limit (plus the
  first burst the limiter allows);
* with the rate limiter's overall limit lifted (``build_application(sends_per_second=0)``):
  the bot's own capacity.

Every message must be answered exactly once, or the run is an error, not a figure. The fake
server runs in the same process and event loop as the bot and takes its share of the one CPU
core the loop uses, so the capacity measured is a lower bound for the bot alone.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.machine import ROOT
from benchmarks.measure import median
from bot.config import Settings
from bot.dialogue import Responder
from bot.evaluation import CRISIS, OUT_OF_SCOPE, Case
from bot.knowledge import KnowledgeBase

#: Telegram's documented limit for one bot: about 30 messages per second overall.
TELEGRAM_LIMIT = 30.0
USERS = 200
TOKEN = "123456:" + "A" * 35
FIRST_USER_ID = 100_000
TIMEOUT_S = 120.0
#: After the last answer, how long we keep watching for a duplicate answer.
GRACE_S = 0.3
APP_MODULE = ROOT / "bot" / "telegram" / "app.py"


@dataclass
class ThroughputRun:
    """One way of running the bot; times and rates are medians over ``runs``."""

    label: str
    rate_limited: bool
    users: int
    messages: int
    messages_per_s: float
    cpu_ms_per_message: float  # process CPU time per message: bot and fake server together
    latency_p50_ms: float  # question queued at the fake server -> its answer arrives there
    answered_once: bool
    runs_per_s: list[float] = field(default_factory=list)


@dataclass
class ThroughputResult:
    runs: list[ThroughputRun]
    telegram_limit: float = TELEGRAM_LIMIT
    skipped: str | None = None  # why nothing was measured


def app_available() -> bool:
    return APP_MODULE.is_file()


def in_scope_questions(cases: Sequence[Case]) -> list[tuple[str, str]]:
    """(text, language) of in-scope questions: each gets exactly one reply."""
    return [(c.text, c.lang) for c in cases if c.expect not in (CRISIS, OUT_OF_SCOPE)]


class _Burst:
    """Every user's question pushed at once; counts the answers each user gets.

    ``check`` is called by ``FakeTelegram.wait_for`` whenever the fake records a call; it only
    looks at calls recorded since the last look, so watching costs nothing as calls pile up.
    """

    def __init__(
        self,
        tg: Any,  # fakebot.FakeTelegram, importable only once tests/ is on sys.path
        questions: dict[int, tuple[str, str]],
    ) -> None:
        self._tg = tg
        self._questions = questions
        self._seen = len(tg.calls)
        self.sent_at: dict[int, float] = {}
        self.answers: Counter[int] = Counter()
        self.latencies: list[float] = []

    def start(self) -> None:
        from fakebot import updates

        for user_id, (text, lang) in self._questions.items():
            self.sent_at[user_id] = time.monotonic()  # the fake stamps calls with monotonic()
            self._tg.push(updates.text_message(text, user_id=user_id, language_code=lang))

    def check(self) -> bool:
        """True once every user has an answer (and records the answers since the last look)."""
        calls = self._tg.calls
        new, self._seen = calls[self._seen :], len(calls)
        for call in new:
            user_id = call.params.get("chat_id")
            if call.ok and call.method.lower() == "sendmessage" and user_id in self._questions:
                self.answers[user_id] += 1
                if self.answers[user_id] == 1:
                    self.latencies.append(call.at - self.sent_at[user_id])
        return len(self.answers) == len(self._questions)

    def answered_once(self) -> bool:
        return all(self.answers[user_id] == 1 for user_id in self._questions)


async def _one_run(
    kb: KnowledgeBase,
    responder: Responder,
    questions: dict[int, tuple[str, str]],
    *,
    rate_limited: bool,
) -> tuple[float, float, list[float], bool]:
    """(seconds, CPU seconds, per-message latencies, answered exactly once) for one run."""
    from fakebot import FakeTelegram

    from bot.telegram.app import ALLOWED_UPDATES, build_application

    with tempfile.TemporaryDirectory() as data_dir:
        async with FakeTelegram() as tg:
            settings = Settings(token=TOKEN, api_base_url=tg.base_url, data_dir=Path(data_dir))
            limit = {} if rate_limited else {"sends_per_second": 0}  # 0: no overall limit
            app = build_application(settings, kb, responder=responder, **limit)
            await app.initialize()
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(
                poll_interval=0, timeout=1, allowed_updates=ALLOWED_UPDATES
            )
            try:
                await asyncio.sleep(0.2)  # let start-up calls (commands, webhook) settle
                burst = _Burst(tg, questions)
                cpu_started = time.process_time()
                started = time.perf_counter()
                burst.start()
                await tg.wait_for(burst.check, TIMEOUT_S, what=f"{len(questions)} answers")
                elapsed = time.perf_counter() - started
                cpu = time.process_time() - cpu_started
                await asyncio.sleep(GRACE_S)
                burst.check()  # a duplicate answer would arrive now
            finally:
                await app.updater.stop()
                await app.stop()
                await app.shutdown()
            tg.assert_no_errors()
    return elapsed, cpu, burst.latencies, burst.answered_once()


def _questions_by_user(cases: Sequence[Case], users: int) -> dict[int, tuple[str, str]]:
    """One question per user, dealt in order from the development set's in-scope messages."""
    questions = in_scope_questions(cases)
    return {FIRST_USER_ID + n: questions[n % len(questions)] for n in range(users)}


def measure(
    kb: KnowledgeBase,
    responder: Responder,
    cases: Sequence[Case],
    *,
    label: str,
    rate_limited: bool,
    runs: int,
) -> ThroughputRun:
    questions = _questions_by_user(cases, USERS)
    rates, cpu_ms, p50s = [], [], []
    for _ in range(runs):
        elapsed, cpu, latencies, answered_once = asyncio.run(
            _one_run(kb, responder, questions, rate_limited=rate_limited)
        )
        if not answered_once:
            raise AssertionError(f"{label}: not every message was answered exactly once")
        rates.append(len(questions) / elapsed)
        cpu_ms.append(cpu * 1000 / len(questions))
        p50s.append(median(sorted(latencies)) * 1000)
    return ThroughputRun(
        label=label,
        rate_limited=rate_limited,
        users=USERS,
        messages=len(questions),
        messages_per_s=median(rates),
        cpu_ms_per_message=median(cpu_ms),
        latency_p50_ms=median(p50s),
        answered_once=True,
        runs_per_s=rates,
    )


def run_throughput(
    kb: KnowledgeBase, responder: Responder, cases: Sequence[Case], *, runs: int = 3
) -> ThroughputResult:
    if not app_available():
        return ThroughputResult([], skipped=f"{APP_MODULE.relative_to(ROOT)} does not exist yet")
    # The fake server needs this before telegram is imported (see tests/fakebot/__init__.py).
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    return ThroughputResult(
        [
            measure(
                kb,
                responder,
                cases,
                label="as shipped (rate limiter on)",
                rate_limited=True,
                runs=runs,
            ),
            measure(
                kb,
                responder,
                cases,
                label="overall limit lifted: the bot's capacity",
                rate_limited=False,
                runs=runs,
            ),
        ]
    )
