"""Updates in, replies out: Telegram's rate limits, retries, per-chat order, unreadable updates.

python-telegram-bot gives the pieces and we configure them, adding only what it leaves out:

* ``PatientRateLimiter`` keeps within Telegram's limits as PTB's ``AIORateLimiter`` does (about
  30 messages a second overall, 20 a minute per group, everything paused after a 429 "Too Many
  Requests" for as long as Telegram asks), with two additions. It retries the calls that deliver
  a reply after a network failure (a 5xx, a dropped connection, a timeout): PTB itself never
  retries, and a child's message must not go unanswered because Telegram hiccuped. And a crisis
  reply (``bot.telegram.urgency``) goes through the limits ahead of everything else and is
  retried for minutes (``Patience.crisis_give_up_after``), not a few times. The trade-off of
  retrying: if Telegram did deliver a message but its answer was lost on the way back, the user
  sees it twice; a duplicate is better than a lost helpline reply. A *timeout* is the likeliest
  case of that (Telegram is slow, not gone), so after one the call is sent again at most once
  (``RESENDS_AFTER_TIMEOUT``), and the read timeout (``READ_TIMEOUT``) is long enough for a slow
  Telegram: a slow Telegram gives at most one duplicate, not one per retry.
* ``OrderedUpdateProcessor`` handles updates concurrently, as ``concurrent_updates`` does, but
  those of one chat one after another, so replies come in the order the questions were asked;
  a crisis goes past that queue and the concurrency limit. It also writes the one log line per
  update.
* ``UpdatesRequest`` is the ``HTTPXRequest`` used for getUpdates, replacing any update PTB
  cannot read with an empty one. Otherwise a single malformed update (forged, or shaped by a
  newer Bot API than PTB knows) is fetched again and again, never confirmed, and the bot answers
  nobody ever again; PTB would also log its raw content, names and text included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx
from telegram import Update
from telegram.constants import FloodLimit
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.ext import BaseRateLimiter, BaseUpdateProcessor
from telegram.request import HTTPXRequest

from bot.telegram.logs import log_update
from bot.telegram.urgency import PriorityLimiter, is_urgent, urgent

logger = logging.getLogger(__name__)

#: Telegram's limit for one bot: about 30 messages per second overall.
SENDS_PER_SECOND = float(FloodLimit.MESSAGES_PER_SECOND)
#: ... and 20 messages a minute in one group.
GROUP_SENDS_PER_MINUTE = float(FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP)
#: Calls that deliver something to a user and are worth retrying after a network failure.
#: Not getMe/setMyCommands (start-up should fail fast) nor answers to callback and inline
#: queries (Telegram drops those queries after a few seconds anyway).
RETRIED_ENDPOINTS = frozenset({"sendMessage", "editMessageText", "deleteMessages", "deleteMessage"})
#: Seconds to wait for Telegram's answer to a call (PTB's default, 5 s, is shorter than a slow
#: Telegram takes, and each timeout used to mean one more copy of the reply).
READ_TIMEOUT = 25.0
#: Resends after a call timed out (Telegram may have done it): at most one duplicate.
RESENDS_AFTER_TIMEOUT = 1
#: Group limiters kept before idle ones are forgotten.
GROUP_LIMITERS = 512
#: Updates handled at the same time (across different chats), and connections for sending.
#: Far below python-telegram-bot's 256: Telegram takes ~30 messages a second anyway, and
#: httpcore scans its whole pool for every request, so a big pool costs CPU under load (the
#: bot's capacity against the fake server doubled going from 256 to these).
CONCURRENT_UPDATES = 64
CONNECTIONS = 32
#: Crisis updates handled at the same time, on top of CONCURRENT_UPDATES.
URGENT_UPDATES = 32

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]


@dataclass(frozen=True)
class Patience:
    """How long a call is retried before the error is given up to the caller.

    After a network failure the waits double from ``first_wait`` up to ``max_wait``. A 429 is
    waited out as Telegram asks, ``retries_after_429`` times for an ordinary call. A crisis reply
    is retried after either for ``crisis_give_up_after`` seconds, however many tries that takes.
    """

    retries_after_429: int = 5
    first_wait: float = 0.5
    max_wait: float = 5.0
    #: Long enough to ride out Telegram being unreachable for half a minute.
    give_up_after: float = 60.0
    crisis_give_up_after: float = 15 * 60.0
    #: After a timeout (Telegram may have sent it): resends at most, crisis or not.
    resends_after_timeout: int = RESENDS_AFTER_TIMEOUT


class PatientRateLimiter(BaseRateLimiter[int]):
    """Telegram's limits with crisis replies first; retries after 429s and network failures.

    ``rate_limit_args`` (an int), as for ``AIORateLimiter``, sets one call's retries after 429.
    """

    def __init__(
        self,
        *,
        sends_per_second: float = SENDS_PER_SECOND,
        group_sends_per_minute: float = GROUP_SENDS_PER_MINUTE,
        patience: Patience | None = None,
    ) -> None:
        self.sends_per_second = sends_per_second
        self.group_sends_per_minute = group_sends_per_minute
        self.patience = patience or Patience()
        self._overall = PriorityLimiter(sends_per_second) if sends_per_second else None
        self._groups: dict[int | str, PriorityLimiter] = {}
        #: After a 429 nothing is sent before this moment (event-loop time).
        self._resume_at = 0.0

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSONResult:
        """Send within the limits; after a 429 or a network failure, wait and send again."""
        crisis = is_urgent()
        patience = self.patience
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (
            patience.crisis_give_up_after if crisis else patience.give_up_after
        )
        retries_after_429 = (
            rate_limit_args if rate_limit_args is not None else patience.retries_after_429
        )
        too_many = 0
        timeouts = 0
        wait = patience.first_wait
        while True:
            try:
                return await self._send(callback, args, kwargs, data.get("chat_id"), crisis)
            except RetryAfter as error:
                too_many += 1
                # As AIORateLimiter: the private timedelta, to avoid PTB 22's deprecation warning.
                pause = error._retry_after.total_seconds() + 0.1
                # An ordinary call is tried a few times; a crisis reply until its deadline.
                out_of_time = loop.time() + pause > deadline
                if out_of_time if crisis else too_many > retries_after_429:
                    logger.warning("%s still rate limited after %d tries", endpoint, too_many)
                    raise
                logger.info("%s rate limited; everything waits %.1f s", endpoint, pause)
                self._resume_at = max(self._resume_at, loop.time() + pause)
            except BadRequest:
                raise  # Telegram refused the request itself: sending it again cannot help
            except NetworkError as error:
                if endpoint not in RETRIED_ENDPOINTS or loop.time() + wait > deadline:
                    raise
                if isinstance(error, TimedOut) and _may_have_arrived(error):
                    timeouts += 1  # Telegram may have sent it already: one more copy at most
                    if timeouts > patience.resends_after_timeout:
                        raise
                logger.warning(
                    "%s failed (%s); retrying in %.1f s", endpoint, type(error).__name__, wait
                )
                await asyncio.sleep(wait)
                wait = min(wait * 2, patience.max_wait)

    async def _send(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        chat_id: object,
        crisis: bool,
    ) -> JSONResult:
        """One try: wait out a 429 pause, take room in the group's and the overall limit."""
        await self._resumed()  # before queueing, so that a crisis is first when a pause ends
        group = self._group_limiter(chat_id)
        if group is not None:
            await group.acquire(urgent=crisis)
        if self._overall is not None and chat_id is not None:
            await self._overall.acquire(urgent=crisis)
        await self._resumed()  # a 429 may have come while this call waited for room
        return await callback(*args, **kwargs)

    async def _resumed(self) -> None:
        loop = asyncio.get_running_loop()
        while (delay := self._resume_at - loop.time()) > 0:
            await asyncio.sleep(delay)

    def _group_limiter(self, chat_id: object) -> PriorityLimiter | None:
        """The limiter of a group or channel (negative ids, @usernames); None for people."""
        with contextlib.suppress(ValueError, TypeError):
            chat_id = int(chat_id)  # type: ignore[call-overload]
        if not self.group_sends_per_minute or not (
            isinstance(chat_id, str) or (isinstance(chat_id, int) and chat_id < 0)
        ):
            return None
        limiter = self._groups.get(chat_id)
        if limiter is None:
            if len(self._groups) >= GROUP_LIMITERS:
                for key in [key for key, old in self._groups.items() if old.idle()]:
                    del self._groups[key]
            limiter = self._groups[chat_id] = PriorityLimiter(self.group_sends_per_minute, 60.0)
        return limiter


def _may_have_arrived(error: TimedOut) -> bool:
    """False when the request never left (no free connection, or no connection made)."""
    return not isinstance(error.__cause__, (httpx.PoolTimeout, httpx.ConnectTimeout))


@dataclass
class _Turn:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0


class OrderedUpdateProcessor(BaseUpdateProcessor):
    """Concurrent across chats, in order within a chat; logs one line per update."""

    def __init__(
        self,
        max_concurrent_updates: int = CONCURRENT_UPDATES,
        *,
        is_urgent: Callable[[object], bool] | None = None,
        max_urgent_updates: int = URGENT_UPDATES,
    ) -> None:
        super().__init__(max_concurrent_updates)
        self._turns: dict[int, _Turn] = {}
        self._urgent_turns: dict[int, _Turn] = {}
        #: Judges an update the moment it arrives: True for a crisis (cheap: no encoder).
        self.is_urgent = is_urgent
        self._urgent_slots = asyncio.BoundedSemaphore(max_urgent_updates)

    async def process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for this chat's earlier updates, then take one of the concurrent slots.

        In this order, a user who sends a hundred messages at once waits in their own queue and
        holds one slot, not all of them. A crisis (``is_urgent``, judged now, on arrival) waits
        for neither, only for the chat's earlier crisis messages, and is handled as urgent
        throughout (``bot.telegram.urgency``).
        """
        if self._arrives_urgent(update):
            async with self._turn(_chat_key(update), self._urgent_turns), self._urgent_slots:
                with urgent():
                    await self.do_process_update(update, coroutine)
            return
        async with self._turn(_chat_key(update), self._turns):
            await super().process_update(update, coroutine)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Handle the update and log one line about it."""
        await log_update(update, coroutine)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

    def _arrives_urgent(self, update: object) -> bool:
        if self.is_urgent is None:
            return False
        try:
            return self.is_urgent(update)
        except Exception:  # a bug here must not cost the update its answer
            logger.exception("Could not judge whether an update is urgent")
            return False

    @contextlib.asynccontextmanager
    async def _turn(self, key: int | None, turns: dict[int, _Turn]) -> AsyncIterator[None]:
        if key is None:
            yield
            return
        turn = turns.setdefault(key, _Turn())
        turn.waiting += 1
        try:
            async with turn.lock:
                yield
        finally:
            turn.waiting -= 1
            if not turn.waiting:
                del turns[key]


def _chat_key(update: object) -> int | None:
    """Updates sharing a key are handled in order: same chat, or same user outside chats."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    return update.effective_user.id if update.effective_user is not None else None


class UpdatesRequest(HTTPXRequest):
    """The getUpdates connection: an update PTB cannot read arrives empty, and is skipped."""

    def __init__(self) -> None:
        super().__init__(connection_pool_size=1)  # what ApplicationBuilder uses for getUpdates

    async def post(self, *args: Any, **kwargs: Any) -> JSONResult:
        """Fetch updates; replace each unreadable one by its bare ``update_id``."""
        result = await super().post(*args, **kwargs)
        if not isinstance(result, list):
            return result
        return [_readable(update) for update in result]


def _readable(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` if PTB can read it as an Update, else an empty update with the same id."""
    try:
        Update.de_json(data, None)
    except Exception as error:
        update_id = data.get("update_id") if isinstance(data, dict) else None
        logger.warning(
            "Skipping update %s that cannot be read (%s)", update_id, type(error).__name__
        )
        return {"update_id": update_id}
    return data
