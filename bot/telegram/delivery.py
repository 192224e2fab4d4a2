"""Updates in, replies out: Telegram's rate limits, retries, per-chat order, unreadable updates.

python-telegram-bot gives the pieces and we configure them, adding only what it leaves out:

* ``PatientRateLimiter`` is ``AIORateLimiter`` (which keeps within Telegram's limits and retries
  after a 429 "Too Many Requests") that also retries the calls that deliver a reply after a
  network failure (a 5xx, a dropped connection, a timeout). PTB itself never retries, and a
  child's message must not go unanswered because Telegram hiccuped. The trade-off: if Telegram
  did deliver a message but its answer was lost on the way back, the user sees it twice; a
  duplicate is better than a lost helpline reply. A *timeout* is the likeliest case of that
  (Telegram is slow, not gone), so after one the call is sent again at most once, and the read
  timeout (``READ_TIMEOUT``) is long enough for a slow Telegram: a slow Telegram gives at most
  one duplicate, not one per retry.
* ``OrderedUpdateProcessor`` handles updates concurrently, as ``concurrent_updates`` does, but
  those of one chat one after another, so replies come in the order the questions were asked.
  It also writes the one log line per update.
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
from telegram.error import BadRequest, NetworkError, TimedOut
from telegram.ext import AIORateLimiter, BaseUpdateProcessor
from telegram.request import HTTPXRequest

from bot.telegram.logs import log_update

logger = logging.getLogger(__name__)

#: Telegram's limit for one bot: about 30 messages per second overall.
SENDS_PER_SECOND = 30.0
#: Retries after a 429 "Too Many Requests" (each waits as long as Telegram asks).
RETRIES_AFTER_429 = 5
#: Calls that deliver something to a user and are worth retrying after a network failure.
#: Not getMe/setMyCommands (start-up should fail fast) nor answers to callback and inline
#: queries (Telegram drops those queries after a few seconds anyway).
RETRIED_ENDPOINTS = frozenset({"sendMessage", "editMessageText", "deleteMessages", "deleteMessage"})
#: Waits between retries: doubling from FIRST_WAIT up to MAX_WAIT, for at most GIVE_UP_AFTER
#: seconds in all (long enough to ride out Telegram being unreachable for half a minute).
FIRST_WAIT = 0.5
MAX_WAIT = 5.0
GIVE_UP_AFTER = 60.0
#: Seconds to wait for Telegram's answer to a call (PTB's default, 5 s, is shorter than a slow
#: Telegram takes, and each timeout used to mean one more copy of the reply).
READ_TIMEOUT = 25.0
#: Resends after a call timed out (Telegram may have done it): at most one duplicate.
RESENDS_AFTER_TIMEOUT = 1
#: Updates handled at the same time (across different chats), and connections for sending.
#: Far below python-telegram-bot's 256: Telegram takes ~30 messages a second anyway, and
#: httpcore scans its whole pool for every request, so a big pool costs CPU under load (the
#: bot's capacity against the fake server doubled going from 256 to these).
CONCURRENT_UPDATES = 64
CONNECTIONS = 32

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]


class PatientRateLimiter(AIORateLimiter):
    """``AIORateLimiter`` that also retries replies after network failures, for a while."""

    def __init__(
        self,
        *,
        sends_per_second: float = SENDS_PER_SECOND,
        max_retries: int = RETRIES_AFTER_429,
        give_up_after: float = GIVE_UP_AFTER,
        resends_after_timeout: int = RESENDS_AFTER_TIMEOUT,
    ) -> None:
        super().__init__(overall_max_rate=sends_per_second, max_retries=max_retries)
        self.give_up_after = give_up_after
        self.resends_after_timeout = resends_after_timeout

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSONResult:
        """Send through AIORateLimiter; on a network failure of a reply, wait and send again."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.give_up_after
        wait = FIRST_WAIT
        timeouts = 0
        while True:
            try:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
            except BadRequest:
                raise  # Telegram refused the request itself: sending it again cannot help
            except NetworkError as error:
                if endpoint not in RETRIED_ENDPOINTS or loop.time() + wait > deadline:
                    raise
                if isinstance(error, TimedOut) and _may_have_arrived(error):
                    # Telegram may have sent it already: one more copy at most.
                    timeouts += 1
                    if timeouts > self.resends_after_timeout:
                        raise
                logger.warning(
                    "%s failed (%s); retrying in %.1f s", endpoint, type(error).__name__, wait
                )
                await asyncio.sleep(wait)
                wait = min(wait * 2, MAX_WAIT)


def _may_have_arrived(error: TimedOut) -> bool:
    """False when the request never left (no free connection, or no connection made)."""
    cause = error.__cause__
    return not isinstance(cause, (httpx.PoolTimeout, httpx.ConnectTimeout))


@dataclass
class _Turn:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0


class OrderedUpdateProcessor(BaseUpdateProcessor):
    """Concurrent across chats, in order within a chat; logs one line per update."""

    def __init__(self, max_concurrent_updates: int = CONCURRENT_UPDATES) -> None:
        super().__init__(max_concurrent_updates)
        self._turns: dict[int, _Turn] = {}

    async def process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for this chat's earlier updates, then take one of the concurrent slots.

        In this order, a user who sends a hundred messages at once waits in their own queue and
        holds one slot, not all of them.
        """
        async with self._turn(_chat_key(update)):
            await super().process_update(update, coroutine)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Handle the update and log one line about it."""
        await log_update(update, coroutine)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

    @contextlib.asynccontextmanager
    async def _turn(self, key: int | None) -> AsyncIterator[None]:
        if key is None:
            yield
            return
        turn = self._turns.setdefault(key, _Turn())
        turn.waiting += 1
        try:
            async with turn.lock:
                yield
        finally:
            turn.waiting -= 1
            if not turn.waiting:
                del self._turns[key]


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
