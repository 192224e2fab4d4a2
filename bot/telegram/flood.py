"""Flood control: a user who sends too much gets one "slow down" and is ignored for a while.

One user pasting a hundred messages must not slow the bot down for every other child, and must
not make it send a hundred replies against Telegram's limits. A crisis is never ignored: while a
user is held back, their crisis messages still get an answer (``crisis_answer``). State is a few
timestamps per user, in memory only, dropped as soon as they no longer matter.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from enum import Enum

#: More than this many messages within ``WINDOW`` seconds is a flood.
LIMIT = 20
WINDOW = 60.0
#: How long a flooding user is ignored after the one "slow down" reply.
QUIET_FOR = 60.0


class Verdict(Enum):
    """What to do with one message."""

    ALLOW = "allow"
    WARN = "warn"  # the message that crossed the limit: say "slow down" once
    IGNORE = "ignore"


class CrisisAnswer(Enum):
    """How a crisis message from a user who is being held back is answered."""

    FULL = "full"  # the crisis reply written for it, as at any other time
    REMINDER = "reminder"  # one line: 111 and 112


@dataclass
class _User:
    times: deque[float] = field(default_factory=deque)
    quiet_until: float = 0.0
    crisis_answered: bool = False


class FloodGuard:
    """Counts each user's messages in a sliding window."""

    def __init__(
        self,
        *,
        limit: int = LIMIT,
        window: float = WINDOW,
        quiet_for: float = QUIET_FOR,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._window = window
        self._quiet_for = quiet_for
        self._clock = clock
        self._users: dict[Hashable, _User] = {}
        self._swept = clock()

    def check(self, user: Hashable) -> Verdict:
        """Count one message from ``user`` and say whether to answer it."""
        now = self._clock()
        if now - self._swept >= self._window:
            self._sweep(now)
        state = self._users.setdefault(user, _User())
        if now < state.quiet_until:
            return Verdict.IGNORE
        times = state.times
        while times and times[0] <= now - self._window:
            times.popleft()
        times.append(now)
        if len(times) <= self._limit:
            return Verdict.ALLOW
        state.times.clear()
        state.quiet_until = now + self._quiet_for
        state.crisis_answered = False
        return Verdict.WARN

    def crisis_answer(self, user: Hashable) -> CrisisAnswer:
        """How to answer a crisis message that the flood limit holds back: never with silence.

        A child in danger who types fast is still a child in danger. The first crisis message
        of a quiet period gets its full reply; later ones get the one-line reminder, so that
        repeating alarming words cannot turn the bot into an amplifier of long messages.
        """
        state = self._users.get(user)
        if state is None or not state.crisis_answered:
            if state is not None:
                state.crisis_answered = True
            return CrisisAnswer.FULL
        return CrisisAnswer.REMINDER

    def __len__(self) -> int:
        """How many users are tracked (for tests and the soak benchmark)."""
        return len(self._users)

    def _sweep(self, now: float) -> None:
        """Forget users with nothing in the window and no quiet period running."""
        self._swept = now
        cutoff = now - self._window
        idle = [
            user
            for user, state in self._users.items()
            if now >= state.quiet_until and (not state.times or state.times[-1] <= cutoff)
        ]
        for user in idle:
            del self._users[user]
