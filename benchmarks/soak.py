"""Soak test: many users, many messages, for minutes; nothing lost, memory flat.

``python -m benchmarks.soak`` (defaults: ``--users 500 --messages 20000``) sends every message
through the fake Bot API server (tests/fakebot/) into the real ``Application`` from
``build_application``, and prints replies per second, reply latency, errors and the bot's memory.
It exits with 1 if any message was not answered exactly once, if anything failed, or if memory
kept growing. ``python -m pytest -m soak`` runs the same thing as a test (it is left out of the
default suite because it takes minutes).

How it is set up, and why:

* **Two processes.** The bot runs alone in a child process; the fake server and the simulated
  users run in this one. The fake keeps every update and every call it saw, so in one process
  its growing records would be read as the bot's memory. Apart, the bot's resident memory (RSS)
  is the bot's own, and the fake does not take CPU from the bot (on a machine with two cores).
* **Users are paced by the bot's flood control.** A user who sends more than
  ``flood.LIMIT`` (20) messages in ``flood.WINDOW`` (60) seconds gets "slow down" and is
  ignored for a while, and ``build_application`` has no option to relax that (nor should a load
  test need one: it would measure a bot nobody runs). So each simulated user behaves like a
  quick human: sends a question, waits for the answer, and sends the next one no sooner than
  ``gap_s`` after the previous one. ``gap_s`` keeps any 21 consecutive messages more than a
  window apart *as the bot sees them*, however late the bot answers (see ``flood_gap``).
  500 users can then offer at most 500 / 3.3 s ≈ 150 messages per second, and one user's 40
  messages take at least two minutes. A "slow down" reply is counted as an error.
* **Saturated by default.** 150 messages per second is more than the bot handles on one core,
  so by default the bot sets the pace: replies per second is its capacity, and the latency is
  mostly queueing (every user has a question waiting: about users / replies per second, by
  Little's law). ``--rate`` caps the offered load below capacity (e.g. ``--rate 50``), and the
  latency is then the bot's own. The table says which of the two a run was.
* **Telegram's overall limit is lifted** (``build_application(sends_per_second=0)``), so that the
  figures are the bot's and not the rate limiter's 30 messages per second (the shipped setting
  would make 20,000 replies take 11 minutes and measure only the limiter).
* **Logging as in production**: one INFO line per update, through the bot's ``PrivacyFilter``,
  written to ``os.devnull`` so that its cost counts but 20,000 lines do not flood the terminal.
  Every record at WARNING or above is counted and sent back; one at ERROR is an error.

What counts as an error: a message with no answer within ``ANSWER_TIMEOUT_S``, an answer nobody
was waiting for (a duplicate), a "slow down" reply, a call the fake server rejected (4xx/5xx
answer), a crash of the fake server, and a log record at ERROR or above in the bot.

Memory is "bounded" if the bot's RSS at the end is at most ``MAX_GROWTH_MB`` above its RSS at
the start (idle, just started), and the second half of the run grew it less than the first half
(within ``NOISE_MB``, the allocator's jitter): a leak grows memory by the same amount per message
in both halves, while warming up (per-user state, caches, connections) happens early. Some
growth goes on all run long by design and stops at a bound: the "Hide this chat" tracker keeps
up to ``privacy.PER_CHAT`` (200) message ids per chat, and each user's 40 questions and 40
answers add 80. The word caches of retrieval and safety are capped too (100,000 and 50,000
words); the dev-set questions used here have a small vocabulary, so they fill only a little.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import multiprocessing
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from benchmarks.machine import ROOT
from benchmarks.measure import percentile
from benchmarks.throughput import FIRST_USER_ID, TOKEN, in_scope_questions
from bot.config import Settings
from bot.evaluation import load_cases
from bot.knowledge import KnowledgeBase, load_knowledge

USERS = 500
MESSAGES = 20_000
#: A message not answered within this long counts as lost (the bot's own retries give up
#: after 60 s: ``delivery.Patience.give_up_after``).
ANSWER_TIMEOUT_S = 90.0
#: After the last answer, how long we keep watching for a duplicate answer.
GRACE_S = 1.0
#: How long the bot process may take to load the knowledge base and start polling.
STARTUP_TIMEOUT_S = 120.0
#: Memory criteria (see the module docstring).
MAX_GROWTH_MB = 50.0
NOISE_MB = 2.0
#: Fractions of the answers at which the bot's memory is sampled (besides start and end).
CHECKPOINTS = (0.25, 0.5, 0.75)
#: Margin over the smallest gap the flood limit allows (clock jitter, scheduling).
GAP_MARGIN = 1.05
#: Below this share of the offered load, the bot (not the users' pace) set the reply rate.
SATURATED = 0.9
MB = 2**20


def flood_gap() -> float:
    """Seconds between one user's messages that can never trip the bot's flood control.

    The bot counts a message when it handles it, which is later than we push it. A user who
    waits for each answer before sending the next message has message k handled before message
    k+1 is pushed, so message k+20 is handled at least 19 gaps after message k: 19 gaps must
    cover the 60-second window.
    """
    from bot.telegram.flood import LIMIT, WINDOW

    return WINDOW / (LIMIT - 1) * GAP_MARGIN


@dataclass
class SoakResult:
    """What one soak run measured; ``failures()`` says whether it passed."""

    users: int
    messages: int
    gap_s: float  # the shortest time between one user's messages
    elapsed_s: float  # first message pushed -> last answer recorded
    wall_s: float  # the whole run, starting and stopping the bot included
    answered: int
    latencies_ms: list[float] = field(repr=False)
    unanswered: int
    unexpected: int  # answers no question was waiting for: duplicates
    slow_downs: int
    rejected_calls: list[str]  # calls the fake server answered with an error
    server_crashes: int
    bot_errors: int  # log records at ERROR or above in the bot process
    bot_error_lines: list[str]  # the first few of them
    bot_warnings: int
    rss_mb: dict[str, float]  # bot's resident memory: "start", "25%", ..., "end"
    peak_rss_mb: float
    bot_cpu_s: float  # the bot process's CPU time while the traffic ran
    flood_users: int  # users the flood guard still tracks at the end (bounded state)
    tracked_chats: int  # chats whose message ids the bot remembers for "Hide this chat"
    bot_exit_code: int | None

    @property
    def replies_per_s(self) -> float:
        return self.answered / self.elapsed_s if self.elapsed_s > 0 else math.nan

    @property
    def offered_per_s(self) -> float:
        """The most the users could send: each at most one message per ``gap_s``."""
        return self.users / self.gap_s

    @property
    def errors(self) -> int:
        return (
            self.unanswered
            + self.unexpected
            + self.slow_downs
            + len(self.rejected_calls)
            + self.server_crashes
            + self.bot_errors
            + (self.bot_exit_code != 0)
        )

    def latency_ms(self, fraction: float) -> float:
        return percentile(self.latencies_ms, fraction)

    @property
    def growth_mb(self) -> float:
        return self.rss_mb["end"] - self.rss_mb["start"]

    @property
    def first_half_mb(self) -> float:
        return self.rss_mb["50%"] - self.rss_mb["start"]

    @property
    def second_half_mb(self) -> float:
        return self.rss_mb["end"] - self.rss_mb["50%"]

    def memory_problems(self) -> list[str]:
        """Why the memory looks unbounded (empty if it does not)."""
        problems = []
        if self.growth_mb > MAX_GROWTH_MB:
            problems.append(f"RSS grew {self.growth_mb:.1f} MB (limit {MAX_GROWTH_MB:.0f} MB)")
        if self.second_half_mb > max(self.first_half_mb, NOISE_MB):
            problems.append(
                f"RSS grew {self.second_half_mb:.1f} MB in the second half, more than the "
                f"{self.first_half_mb:.1f} MB of the first half"
            )
        return problems

    def failures(self) -> list[str]:
        """Everything that makes this run a failure (empty: it passed)."""
        found = []
        if self.errors:
            found.append(f"{self.errors} errors")
        if self.answered != self.messages:
            found.append(f"{self.answered} of {self.messages} messages answered")
        return found + self.memory_problems()


# ---- the bot process ---------------------------------------------------------------------------


class _CountingHandler(logging.Handler):
    """Counts the bot's WARNING and ERROR records and keeps the first few ERROR lines."""

    KEEP = 5

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.warnings = 0
        self.errors = 0
        self.error_lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.ERROR:
            self.warnings += 1
            return
        self.errors += 1
        if len(self.error_lines) < self.KEEP:  # the count is what matters; a few for the report
            self.error_lines.append(self.format(record))


def _configure_bot_logging() -> _CountingHandler:
    """Production logging (``configure_logging``) into /dev/null, plus the counter."""
    from bot.telegram.logs import LOG_FORMAT, PrivacyFilter, configure_logging

    sink = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (lives as long as the process)
    logging.basicConfig(format=LOG_FORMAT, stream=sink)
    configure_logging("INFO")
    counter = _CountingHandler()
    counter.setFormatter(logging.Formatter(LOG_FORMAT))
    counter.addFilter(PrivacyFilter())
    logging.getLogger().addHandler(counter)
    return counter


def serve_bot(base_url: str, data_dir: str, conn: Connection) -> None:
    """The bot process: run the real Application against ``base_url`` until told to stop.

    Sends ``{"ready": True}`` once polling, and, after "stop", a summary of its logs and state
    (or ``{"failed": traceback}`` if it could not run).
    """
    os.environ.setdefault("PTB_TIMEDELTA", "1")  # before telegram is imported (see conftest.py)
    try:
        counter = _configure_bot_logging()
        summary = asyncio.run(_serve(base_url, Path(data_dir), conn))
        summary.update(
            errors=counter.errors, error_lines=counter.error_lines, warnings=counter.warnings
        )
        conn.send(summary)
    except BaseException:
        conn.send({"failed": traceback.format_exc()})
        raise


async def _serve(base_url: str, data_dir: Path, conn: Connection) -> dict[str, Any]:
    from bot.telegram.app import ALLOWED_UPDATES, build_application
    from bot.telegram.context import SERVICES

    settings = Settings(token=TOKEN, api_base_url=base_url, data_dir=data_dir)
    app = build_application(settings, load_knowledge(), sends_per_second=0)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=ALLOWED_UPDATES)
    try:
        await asyncio.sleep(0.5)  # let start-up calls (commands, webhook) settle
        conn.send({"ready": True})
        while not conn.poll():
            await asyncio.sleep(0.1)
        conn.recv()
        services = app.bot_data[SERVICES]
        return {"flood_users": len(services.flood), "tracked_chats": len(services.tracker)}
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


# ---- the users -------------------------------------------------------------------------------


def _rss_mb(process: Any) -> float:
    return float(process.memory_info().rss) / MB


def _cpu_s(process: Any) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


class _Traffic:
    """The simulated users, and the tally of the answers the fake server records.

    ``scan`` is called by ``FakeTelegram.wait_for`` whenever the fake records a call; it only
    looks at calls recorded since the last look, so watching costs nothing as calls pile up.
    """

    def __init__(
        self,
        tg: Any,  # fakebot.FakeTelegram, importable only once tests/ is on sys.path
        plan: dict[int, list[tuple[str, str]]],
        gap_s: float,
        bot: Any,  # psutil.Process of the bot
        is_alive: Any,  # () -> bool: the bot process is still running
        slow_down_texts: set[str],
    ) -> None:
        self._tg = tg
        self._plan = plan
        self._gap_s = gap_s
        self._bot = bot
        self._is_alive = is_alive
        self._slow_down_texts = slow_down_texts
        self._seen = len(tg.calls)
        self._waiting: dict[int, tuple[float, asyncio.Event]] = {}
        self._finished_users = 0
        self.total = sum(len(messages) for messages in plan.values())
        self.latencies: list[float] = []
        self.unanswered = 0
        self.unexpected = 0
        self.slow_downs = 0
        self.rejected: list[str] = []
        self.started = 0.0
        self.last_answer = 0.0
        self.rss: dict[str, float] = {}
        self.peak_rss = 0.0
        self._next_checkpoint = 0
        self._next_peak_sample = 0.0
        self._next_report = 0.1

    async def run(self, timeout: float) -> None:
        """Every user sends their messages; returns once all are answered (or lost)."""
        self.started = time.monotonic()
        count = len(self._plan)
        users = [
            asyncio.create_task(self._user(user_id, messages, self._gap_s * n / count))
            for n, (user_id, messages) in enumerate(self._plan.items())
        ]
        try:
            await self._tg.wait_for(
                self.scan, timeout, what=f"{self.total} answers to {count} users"
            )
        finally:
            for task in users:
                task.cancel()
            await asyncio.gather(*users, return_exceptions=True)
        await asyncio.sleep(GRACE_S)
        self.scan()  # a duplicate answer would arrive now

    async def _user(self, user_id: int, messages: list[tuple[str, str]], offset: float) -> None:
        """One user: a question, wait for the answer, the next no sooner than ``gap_s`` later.

        Users start ``offset`` apart, spread over one gap, so that the load is even.
        """
        from fakebot import updates

        next_at = self.started + offset
        try:
            for text, lang in messages:
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                answered = asyncio.Event()
                pushed = time.monotonic()  # the fake stamps calls with monotonic() too
                self._waiting[user_id] = (pushed, answered)
                self._tg.push(updates.text_message(text, user_id=user_id, language_code=lang))
                next_at = pushed + self._gap_s
                try:
                    await asyncio.wait_for(answered.wait(), ANSWER_TIMEOUT_S)
                except TimeoutError:
                    self.unanswered += 1
                    self._waiting.pop(user_id, None)
        finally:
            self._finished_users += 1

    def scan(self) -> bool:
        """Match new answers to waiting users; True once every user is done."""
        calls = self._tg.calls
        new, self._seen = calls[self._seen :], len(calls)
        for call in new:
            if not call.ok:
                self.rejected.append(call.brief())
                continue
            if call.method.lower() != "sendmessage":
                continue
            waiting = self._waiting.pop(call.params.get("chat_id"), None)
            if waiting is None:
                self.unexpected += 1
                continue
            pushed, answered = waiting
            if call.params.get("text") in self._slow_down_texts:
                self.slow_downs += 1
            self.latencies.append(call.at - pushed)
            self.last_answer = call.at
            answered.set()
        self._watch()
        return self._finished_users == len(self._plan)

    def _watch(self) -> None:
        """Sample the bot's memory at the checkpoints (and for the peak); report progress."""
        if not self._is_alive():
            raise RuntimeError("the bot process died mid-run")
        done = len(self.latencies) / self.total if self.total else 1.0
        now = time.monotonic()
        if now >= self._next_peak_sample:
            self._next_peak_sample = now + 1.0
            self.peak_rss = max(self.peak_rss, _rss_mb(self._bot))
        while (
            self._next_checkpoint < len(CHECKPOINTS) and done >= CHECKPOINTS[self._next_checkpoint]
        ):
            rss = _rss_mb(self._bot)
            self.rss[f"{CHECKPOINTS[self._next_checkpoint]:.0%}"] = rss
            self.peak_rss = max(self.peak_rss, rss)
            self._next_checkpoint += 1
        if done >= self._next_report:
            # The run takes minutes: show that it moves (on stderr, away from the table).
            self._next_report = math.floor(done * 10 + 1) / 10
            print(
                f"soak: {len(self.latencies):,} of {self.total:,} answered "
                f"after {now - self.started:.0f} s, bot RSS {_rss_mb(self._bot):.1f} MB",
                file=sys.stderr,
                flush=True,
            )


def _plan(users: int, messages: int) -> dict[int, list[tuple[str, str]]]:
    """Each user's messages: the dev set's in-scope questions dealt round-robin to the users.

    In-scope questions only, as in the throughput benchmark: each gets exactly one reply.
    """
    questions = in_scope_questions(load_cases())
    plan: dict[int, list[tuple[str, str]]] = {FIRST_USER_ID + n: [] for n in range(users)}
    for index in range(messages):
        plan[FIRST_USER_ID + index % users].append(questions[index % len(questions)])
    return plan


def _slow_down_texts(kb: KnowledgeBase) -> set[str]:
    """The "slow down" notice exactly as the bot sends it, in every language."""
    from bot.telegram.render import notice
    from bot.text import LANGUAGES

    return {notice(kb, "slow_down", lang).text for lang in LANGUAGES}


async def _receive(conn: Connection, process: Any, timeout: float, what: str) -> dict[str, Any]:
    """The bot process's next message, while this loop keeps serving the fake server."""
    deadline = time.monotonic() + timeout
    while not conn.poll():
        if not process.is_alive() and not conn.poll():
            raise RuntimeError(f"the bot process exited ({process.exitcode}) before {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the bot process did not report {what} within {timeout:.0f} s")
        await asyncio.sleep(0.05)
    message: dict[str, Any] = conn.recv()
    if "failed" in message:
        raise RuntimeError(f"the bot process failed:\n{message['failed']}")
    return message


async def _soak(users: int, messages: int, gap_s: float) -> SoakResult:
    import psutil  # the `bench` extra
    from fakebot import FakeTelegram

    wall_started = time.perf_counter()
    plan = _plan(users, messages)
    slow_down_texts = _slow_down_texts(load_knowledge())
    per_user = max((len(m) for m in plan.values()), default=0)
    timeout = per_user * gap_s + messages / 10 + 2 * ANSWER_TIMEOUT_S  # even at 10 replies/s
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: only the bot's memory
    parent_end, child_end = context.Pipe()
    with tempfile.TemporaryDirectory() as data_dir:
        async with FakeTelegram() as tg:
            process = context.Process(
                target=serve_bot, args=(tg.base_url, data_dir, child_end), name="soak-bot"
            )
            process.start()
            try:
                await _receive(parent_end, process, STARTUP_TIMEOUT_S, "being ready")
                assert process.pid is not None
                bot = psutil.Process(process.pid)
                traffic = _Traffic(tg, plan, gap_s, bot, process.is_alive, slow_down_texts)
                traffic.rss["start"] = traffic.peak_rss = _rss_mb(bot)
                cpu_started = _cpu_s(bot)
                await traffic.run(timeout)
                traffic.rss["end"] = _rss_mb(bot)
                bot_cpu = _cpu_s(bot) - cpu_started
                parent_end.send("stop")
                summary = await _receive(parent_end, process, 60.0, "its summary")
                while process.is_alive() and process.exitcode is None:
                    await asyncio.sleep(0.05)  # join() would block the fake server's loop
            finally:
                if process.is_alive():
                    process.kill()
                process.join(10)
    for key in ("25%", "50%", "75%"):  # a run that answered nothing never reached them
        traffic.rss.setdefault(key, traffic.rss["end"])
    return SoakResult(
        users=users,
        messages=messages,
        gap_s=gap_s,
        elapsed_s=max(traffic.last_answer - traffic.started, 0.0),
        wall_s=time.perf_counter() - wall_started,
        answered=len(traffic.latencies),
        latencies_ms=[s * 1000 for s in traffic.latencies],
        unanswered=traffic.unanswered,
        unexpected=traffic.unexpected,
        slow_downs=traffic.slow_downs,
        rejected_calls=traffic.rejected,
        server_crashes=len(tg.internal_errors),
        bot_errors=summary["errors"],
        bot_error_lines=summary["error_lines"],
        bot_warnings=summary["warnings"],
        rss_mb=traffic.rss,
        peak_rss_mb=max(traffic.peak_rss, traffic.rss["end"]),
        bot_cpu_s=bot_cpu,
        flood_users=summary["flood_users"],
        tracked_chats=summary["tracked_chats"],
        bot_exit_code=process.exitcode,
    )


def run_soak(
    users: int = USERS, messages: int = MESSAGES, *, rate: float | None = None
) -> SoakResult:
    """Run the soak test (minutes for the defaults) and return its figures.

    ``rate`` caps the messages per second the users offer (default: as many as flood control
    lets them). Below the bot's capacity, the latency is the bot's own, not queueing.
    """
    if users < 1 or messages < 0 or (rate is not None and rate <= 0):
        raise ValueError("need at least one user, no negative messages and a positive rate")
    # The fake server lives in tests/ (see throughput.run_throughput); PTB reads this at import.
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    gap_s = flood_gap() if rate is None else max(flood_gap(), users / rate)
    return asyncio.run(_soak(users, messages, gap_s))


def format_result(result: SoakResult) -> str:
    """The figures as a small table, and the verdict."""
    rss = result.rss_mb
    failures = result.failures()
    rows = [
        ("users / messages", f"{result.users:,} / {result.messages:,}"),
        (
            "pace",
            f"each user at most 1 message per {result.gap_s:.2f} s "
            f"({'flood limit' if math.isclose(result.gap_s, flood_gap()) else '--rate'}), "
            f"waiting for each answer: at most {result.offered_per_s:.0f} messages/s offered",
        ),
        ("Telegram's overall limit", "lifted (sends_per_second=0): the bot's own figures"),
        ("duration", f"{result.elapsed_s:.1f} s of traffic, {result.wall_s:.1f} s in all"),
        ("replies per second", f"{result.replies_per_s:.1f}{_saturation(result)}"),
        (
            "reply latency",
            f"p50 {result.latency_ms(0.5):.0f} ms, p99 {result.latency_ms(0.99):.0f} ms, "
            f"max {result.latency_ms(1.0):.0f} ms",
        ),
        (
            "errors",
            f"{result.errors} (unanswered {result.unanswered}, duplicate {result.unexpected}, "
            f"slow down {result.slow_downs}, rejected calls {len(result.rejected_calls)}, "
            f"bot ERROR logs {result.bot_errors}, fake server crashes "
            f"{result.server_crashes}, bot exit code {result.bot_exit_code})",
        ),
        ("bot warnings logged", f"{result.bot_warnings}"),
        (
            "bot RSS (MB)",
            "  ".join(f"{key} {value:.1f}" for key, value in rss.items() if key != "end")
            + f"  end {rss['end']:.1f}  (peak {result.peak_rss_mb:.1f})",
        ),
        (
            "bot RSS growth",
            f"{result.growth_mb:+.1f} MB (limit +{MAX_GROWTH_MB:.0f}); first half "
            f"{result.first_half_mb:+.1f} MB, second half {result.second_half_mb:+.1f} MB",
        ),
        (
            "bot CPU",
            f"{result.bot_cpu_s:.1f} s, "
            f"{result.bot_cpu_s * 1000 / max(result.answered, 1):.1f} ms per reply",
        ),
        (
            "bot state at end",
            f"flood guard {result.flood_users} users, hide-chat tracker {result.tracked_chats} "
            "chats",
        ),
        ("result", "PASS" if not failures else "FAIL: " + "; ".join(failures)),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    details = [*result.rejected_calls[:5], *result.bot_error_lines]
    if details:
        lines += ["", "first problems:", *(f"  {line}" for line in details)]
    return "\n".join(lines)


def _saturation(result: SoakResult) -> str:
    """Say so when the bot, not the users' pace, set the rate.

    Then every user always has a question waiting, and the latency is mostly queueing: about
    users / replies per second (Little's law), not the time to handle one message.
    """
    if result.replies_per_s >= SATURATED * result.offered_per_s:
        return ""
    queueing = result.users / result.replies_per_s
    return (
        f" (saturated: the bot's capacity; latency is mostly queueing, "
        f"{result.users} users / {result.replies_per_s:.0f} per s = {queueing:.1f} s)"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.soak",
        description="Soak test: simulated users send messages through the fake Bot API server "
        "into the real bot; prints replies per second, latency, errors and memory, and exits "
        "with 1 if a message was not answered exactly once or memory kept growing.",
    )
    parser.add_argument("--users", type=int, default=USERS, help=f"default {USERS}")
    parser.add_argument("--messages", type=int, default=MESSAGES, help=f"default {MESSAGES}")
    parser.add_argument(
        "--rate",
        type=float,
        help="offer at most this many messages per second (default: as many as the bot's flood "
        "control allows the users, about 150 for 500 users); below the bot's capacity the "
        "latency is its own rather than queueing",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.users < 1 or args.messages < 1 or (args.rate is not None and args.rate <= 0):
        print("--users and --messages must be at least 1, --rate above 0", file=sys.stderr)
        return 2
    try:
        result = run_soak(args.users, args.messages, rate=args.rate)
    except Exception:
        traceback.print_exc()
        return 1
    print(format_result(result))
    return 1 if result.failures() else 0


if __name__ == "__main__":
    sys.exit(main())
