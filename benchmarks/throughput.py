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

A crisis under load (``measure_crisis``, also ``python -m benchmarks.throughput``): 600 users
ask at once, as shipped (Telegram's sending limit on, the sentence encoder in its worker), and
right after them two children in danger write: one in words the phrase lexicon knows, one that
only the encoder recognises. Their answers must not wait for the 600 (20 seconds of sending at
Telegram's limit): the figure is each one's time from arrival to reply.
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
#: Users asking at once in the crisis-under-load run (the issue's scenario), and its target.
CRISIS_LOAD_USERS = 600
CRISIS_TARGET_S = 1.0
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
class CrisisUnderLoad:
    """Arrival-to-reply times of crisis messages sent just after a burst (medians of runs)."""

    users: int
    encoder: bool  # the sentence encoder ran (else lexicon only: no "by meaning" message)
    lexicon_ms: float  # a crisis the phrase lexicon flags on arrival
    meaning_ms: float | None  # a crisis only the encoder recognises
    #: The same, counted from when the bot received the update (getUpdates) instead of from
    #: when the child sent it: the bot's own part.
    lexicon_received_ms: float
    meaning_received_ms: float | None
    ordinary_p50_ms: float
    ordinary_last_ms: float  # the burst's last answer: how long the queue was
    runs_ms: list[tuple[float, float | None]] = field(default_factory=list)


@dataclass
class ThroughputResult:
    runs: list[ThroughputRun]
    telegram_limit: float = TELEGRAM_LIMIT
    skipped: str | None = None  # why nothing was measured
    crisis: CrisisUnderLoad | None = None


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
        self.waited: dict[int, float] = {}  # user -> seconds from question to first answer
        self.update_ids: dict[int, int] = {}
        self.answered_at: dict[int, float] = {}

    def start(self) -> None:
        from fakebot import updates

        for user_id, (text, lang) in self._questions.items():
            self.sent_at[user_id] = time.monotonic()  # the fake stamps calls with monotonic()
            update = updates.text_message(text, user_id=user_id, language_code=lang)
            self.update_ids[user_id] = self._tg.push(update)

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
                    self.waited[user_id] = self.latencies[-1]
                    self.answered_at[user_id] = call.at
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


def encoding_responder(kb: KnowledgeBase) -> Responder:
    """The responder with the sentence encoder and crisis model (retrieval by words: the
    phrasings' vectors are not needed to measure the encoder's queue)."""
    from bot.crisis_model import load_model
    from bot.encoder import shared_encoder
    from bot.knowledge import default_knowledge_dir

    return Responder(
        kb, encode=shared_encoder().encode, crisis_model=load_model(default_knowledge_dir())
    )


def crisis_messages(responder: Responder, cases: Sequence[Case]) -> tuple[str, str | None]:
    """(a crisis the lexicon flags, one only the encoder finds), in English, from ``cases`` and
    the blind crisis sets."""
    from bot.evaluation import blind_sets, load_cases

    blind = [case for path in blind_sets() for case in load_cases(path)]
    crises = [c.text for c in [*cases, *blind] if c.expect == CRISIS and c.lang == "en"]
    by_lexicon = next(t for t in crises if responder.is_crisis(t))
    by_meaning = None
    if responder.encode is not None:
        by_meaning = next(
            (
                t
                for t in crises
                if not responder.is_crisis(t) and responder.respond(t).kind == "crisis"
            ),
            None,
        )
    return by_lexicon, by_meaning


@dataclass
class _CrisisRun:
    sent_to_reply: dict[int, float]  # per crisis user, seconds
    received_to_reply: dict[int, float]
    ordinary: list[float]  # sorted


async def _crisis_run(
    kb: KnowledgeBase,
    responder: Responder,
    questions: dict[int, tuple[str, str]],
    crises: dict[int, str],
) -> _CrisisRun:
    from fakebot import FakeTelegram

    from bot.telegram.app import ALLOWED_UPDATES, build_application
    from bot.telegram.context import SERVICES

    with tempfile.TemporaryDirectory() as data_dir:
        async with FakeTelegram() as tg:
            settings = Settings(token=TOKEN, api_base_url=tg.base_url, data_dir=Path(data_dir))
            app = build_application(settings, kb, responder=responder)
            await app.initialize()
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(
                poll_interval=0, timeout=1, allowed_updates=ALLOWED_UPDATES
            )
            try:
                await asyncio.sleep(0.2)
                # The crisis messages come last, right after the burst.
                everyone = {**questions, **{u: (t, "en") for u, t in crises.items()}}
                burst = _Burst(tg, everyone)
                burst.start()
                await tg.wait_for(burst.check, TIMEOUT_S, what=f"{len(everyone)} answers")
                await asyncio.sleep(GRACE_S)
                burst.check()
                if not burst.answered_once():
                    raise AssertionError("crisis under load: not every message answered once")
            finally:
                await app.updater.stop()
                await app.stop()
                await app.shutdown()
                app.bot_data[SERVICES].encoder.close()
            tg.assert_no_errors()
    received: dict[int, float] = {}
    for call in tg.calls:
        if call.method == "getUpdates" and call.ok:
            for update in call.result or []:
                received.setdefault(update["update_id"], call.at)
    return _CrisisRun(
        {u: burst.waited[u] for u in crises},
        {u: burst.answered_at[u] - received[burst.update_ids[u]] for u in crises},
        sorted(burst.waited[u] for u in questions),
    )


def measure_crisis(
    kb: KnowledgeBase, cases: Sequence[Case], *, users: int = CRISIS_LOAD_USERS, runs: int = 1
) -> CrisisUnderLoad:
    """Crisis messages right after ``users`` questions, as shipped (see the module docstring)."""
    _prepare_imports()
    try:
        responder = encoding_responder(kb)
    except Exception:  # no encoder here: the lexicon part can still be measured
        responder = Responder(kb)
    by_lexicon, by_meaning = crisis_messages(responder, cases)
    questions = _questions_by_user(cases, users)
    crises = {1: by_lexicon} | ({2: by_meaning} if by_meaning else {})
    found = [asyncio.run(_crisis_run(kb, responder, questions, crises)) for _ in range(runs)]

    def ms(values: list[float]) -> float | None:
        return median(sorted(values)) * 1000 if values else None

    def of(user: int, received: bool = False) -> list[float]:
        return [
            (r.received_to_reply if received else r.sent_to_reply)[user]
            for r in found
            if user in r.sent_to_reply
        ]

    return CrisisUnderLoad(
        users=users,
        encoder=responder.encode is not None,
        lexicon_ms=ms(of(1)) or 0.0,
        meaning_ms=ms(of(2)),
        lexicon_received_ms=ms(of(1, received=True)) or 0.0,
        meaning_received_ms=ms(of(2, received=True)),
        ordinary_p50_ms=ms([median(r.ordinary) for r in found]) or 0.0,
        ordinary_last_ms=ms([r.ordinary[-1] for r in found]) or 0.0,
        runs_ms=[(r.sent_to_reply[1] * 1000, r.sent_to_reply.get(2)) for r in found],
    )


def format_crisis(result: CrisisUnderLoad) -> list[str]:
    """The figures as lines of text."""

    def ms(value: float | None) -> str:
        return f"{value:,.0f} ms" if value is not None else "-"

    def verdict(value: float) -> str:
        return "met" if value <= CRISIS_TARGET_S * 1000 else "MISSED"

    ordinary = f"  the {result.users} ordinary questions"
    return [
        f"Crisis under load: {result.users} users ask at once, as shipped (Telegram's limit on, "
        f"encoder {'on' if result.encoder else 'off'}), then two children in danger write",
        f"{'':<36}{'sent -> reply':>15}{'received -> reply':>19}",
        f"{'  flagged by the lexicon':<36}{ms(result.lexicon_ms):>15}"
        f"{ms(result.lexicon_received_ms):>19}",
        f"{'  recognised by the encoder only':<36}{ms(result.meaning_ms):>15}"
        f"{ms(result.meaning_received_ms):>19}",
        f"{ordinary:<36}{'p50 ' + ms(result.ordinary_p50_ms):>15}"
        f"{'last ' + ms(result.ordinary_last_ms):>19}",
        f"  target: a crisis answered within {CRISIS_TARGET_S * 1000:,.0f} ms (flagged, counted "
        f"from sending: {verdict(result.lexicon_ms)}; from receipt: "
        f"{verdict(result.lexicon_received_ms)}).",
        "  received: when getUpdates handed the update to the bot.",
    ]


def _prepare_imports() -> None:
    # The fake server needs this before telegram is imported (see tests/fakebot/__init__.py).
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)


def run_throughput(
    kb: KnowledgeBase, responder: Responder, cases: Sequence[Case], *, runs: int = 3
) -> ThroughputResult:
    if not app_available():
        return ThroughputResult([], skipped=f"{APP_MODULE.relative_to(ROOT)} does not exist yet")
    _prepare_imports()
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
        ],
        crisis=measure_crisis(kb, cases, runs=runs),
    )


def main() -> None:
    """``python -m benchmarks.throughput [RUNS]``: only the crisis-under-load figures."""
    from bot.evaluation import load_cases
    from bot.knowledge import load_knowledge

    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    result = measure_crisis(load_knowledge(), load_cases(), runs=runs)
    print("\n".join(format_crisis(result)))
    for n, (lexicon, meaning) in enumerate(result.runs_ms, start=1):
        shown = f"{meaning * 1000:,.0f} ms" if meaning is not None else "-"
        print(f"  run {n}: sent -> reply, flagged {lexicon:,.0f} ms, encoder only {shown}")


if __name__ == "__main__":
    main()
