"""Crisis traffic goes first: recognised when the update arrives, ahead of everyone else after.

A child who writes "he is coming, help" must not wait behind a class asking about Children's
Day. The phrase lexicon (``Responder.is_crisis``, no encoder, well under a millisecond) judges
each update the moment it arrives; what it flags is *urgent*:

* ``OrderedUpdateProcessor`` handles it at once, past the chat's queue and the concurrency limit
  (so does a press of "Hide this chat");
* the text handler does not queue it behind other messages for the encoder;
* ``PatientRateLimiter`` sends it through Telegram's limits first (``PriorityLimiter``), and
  keeps retrying it for minutes instead of a few tries.

A crisis only the encoder recognises becomes urgent once it is recognised (``mark_urgent``), so
its reply still goes first through the rate limiter. Urgency is a context variable: it holds for
everything done while handling that update, the reply, a reminder, an error message, and for
nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

from telegram import Message, Update

from bot.telegram.callbacks import Action, decode

if TYPE_CHECKING:
    from bot.dialogue import Responder

_urgent: ContextVar[bool] = ContextVar("urgent", default=False)


def is_urgent() -> bool:
    """Whether the update being handled (in this task) is a crisis."""
    return _urgent.get()


def mark_urgent() -> None:
    """From now on, in this task, everything sent goes first (a crisis the encoder found)."""
    _urgent.set(True)


@contextlib.contextmanager
def urgent() -> Iterator[None]:
    """Handle what runs inside as a crisis."""
    token = _urgent.set(True)
    try:
        yield
    finally:
        _urgent.reset(token)


def message_text(message: Message | None) -> str:
    """What a person wrote in a message: its text, or the caption of a photo, video or file."""
    if message is None:
        return ""
    return message.text or message.caption or ""


def update_text(update: object) -> str:
    """The text or caption of a new or edited message ("" for anything else)."""
    if not isinstance(update, Update):
        return ""
    return message_text(update.message or update.edited_message)


def crisis_on_arrival(responder: Responder) -> Callable[[object], bool]:
    """The check ``OrderedUpdateProcessor`` makes of every update as it arrives: a message the
    phrase lexicon calls a crisis, or a press of "Hide this chat" (someone may be looking)."""

    def check(update: object) -> bool:
        if isinstance(update, Update) and update.callback_query is not None:
            button = decode(update.callback_query.data, responder.kb)
            return button is not None and button.action is Action.HIDE_CHAT
        text = update_text(update)
        return bool(text.strip()) and responder.is_crisis(text)

    return check


class PriorityLimiter:
    """A leaky bucket whose urgent waiters are let through first.

    Like aiolimiter's ``AsyncLimiter`` (which ``AIORateLimiter`` uses): up to ``rate``
    acquisitions at once, then ``rate`` per ``period`` seconds. Waiters are served in arrival
    order, except that every urgent waiter goes before every ordinary one.
    """

    def __init__(self, rate: float, period: float = 1.0) -> None:
        if rate <= 0 or period <= 0:
            raise ValueError("rate and period must be positive")
        self.rate = rate
        self.period = period
        self._level = 0.0
        self._checked = 0.0
        self._waiting: tuple[deque[asyncio.Future[None]], ...] = (deque(), deque())
        self._timer: asyncio.TimerHandle | None = None

    @property
    def waiting(self) -> int:
        """How many acquisitions are waiting (urgent and ordinary)."""
        return sum(1 for lane in self._waiting for future in lane if not future.done())

    def idle(self) -> bool:
        """Nobody waits and the bucket is empty: the limiter can be forgotten."""
        self._leak(asyncio.get_running_loop().time())
        return not self.waiting and self._level == 0

    async def acquire(self, *, urgent: bool = False) -> None:
        """Wait for room in the bucket (urgent waiters first), then take it."""
        loop = asyncio.get_running_loop()
        if not any(self._waiting) and self._room(loop.time()):
            self._level += 1
            return
        future: asyncio.Future[None] = loop.create_future()
        self._waiting[0 if urgent else 1].append(future)
        self._grant(loop)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._level = max(self._level - 1, 0.0)  # granted, but nobody used it
            self._grant(loop)
            raise

    def _leak(self, now: float) -> None:
        if self._level:
            self._level = max(self._level - (now - self._checked) * self.rate / self.period, 0)
        self._checked = now

    def _room(self, now: float) -> bool:
        self._leak(now)
        return self._level + 1 <= self.rate

    def _grant(self, loop: asyncio.AbstractEventLoop) -> None:
        """Let waiters through while there is room; else wake up when there will be."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = loop.time()
        for lane in self._waiting:
            while lane and lane[0].done():
                lane.popleft()  # cancelled while waiting
            while lane and self._room(now):
                future = lane.popleft()
                if not future.done():
                    self._level += 1
                    future.set_result(None)
            while lane and lane[0].done():
                lane.popleft()
            if lane:
                # No room left: this lane (and every lane after it) waits for the bucket.
                later = (self._level + 1 - self.rate) * self.period / self.rate
                self._timer = loop.call_at(now + later, self._grant, loop)
                return
