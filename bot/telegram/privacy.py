"""The "Hide this chat" button and /forget: which messages to delete, and deleting them.

A child whose phone is checked by the person hurting them must be able to erase the chat. The
Bot API lets a bot delete both sides of a private chat for 48 hours, but only by message id, so
the bot remembers ids, and nothing else: never text, never who sent what. The ids live in
memory only (a restart forgets them; the button then deletes at least the message it is on),
at most ``PER_CHAT`` per chat, and are dropped once Telegram would no longer delete them.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable

from telegram import Bot
from telegram.constants import BulkRequestLimit
from telegram.error import TelegramError

logger = logging.getLogger(__name__)

#: Telegram lets a bot delete messages in a private chat for 48 hours.
DELETABLE_FOR = 48 * 3600.0
#: Ids kept per chat: enough for a long conversation, small enough for 100,000 chats.
PER_CHAT = 200
#: Chats remembered at once; the least recently active are forgotten first.
MAX_CHATS = 100_000
#: How often expired ids are swept out of every chat (seconds).
SWEEP_EVERY = 600.0
#: Telegram's limit on ids per ``deleteMessages`` call.
BATCH = BulkRequestLimit.MAX_LIMIT


class MessageTracker:
    """Recent message ids per private chat, for deleting them later."""

    def __init__(
        self,
        *,
        per_chat: int = PER_CHAT,
        max_chats: int = MAX_CHATS,
        keep_for: float = DELETABLE_FOR,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_chat = per_chat
        self._max_chats = max_chats
        self._keep_for = keep_for
        self._clock = clock
        self._chats: OrderedDict[int, deque[tuple[float, int]]] = OrderedDict()
        self._swept = clock()

    def add(self, chat_id: int, message_id: int) -> None:
        """Remember one message id of a private chat."""
        now = self._clock()
        self._sweep(now)
        ids = self._chats.get(chat_id)
        if ids is None:
            ids = self._chats[chat_id] = deque(maxlen=self._per_chat)
            if len(self._chats) > self._max_chats:
                self._chats.popitem(last=False)
        else:
            self._chats.move_to_end(chat_id)
        ids.append((now, message_id))

    def pop(self, chat_id: int) -> list[int]:
        """The chat's ids Telegram may still delete; the chat is forgotten afterwards."""
        ids = self._chats.pop(chat_id, deque())
        oldest = self._clock() - self._keep_for
        return sorted({message_id for at, message_id in ids if at >= oldest})

    def __len__(self) -> int:
        """How many chats are remembered (for tests and the soak benchmark)."""
        return len(self._chats)

    def _sweep(self, now: float) -> None:
        if now - self._swept < SWEEP_EVERY:
            return
        self._swept = now
        oldest = now - self._keep_for
        for chat_id in list(self._chats):
            ids = self._chats[chat_id]
            while ids and ids[0][0] < oldest:
                ids.popleft()
            if not ids:
                del self._chats[chat_id]


async def delete_messages(bot: Bot, chat_id: int, message_ids: Iterable[int]) -> None:
    """Delete what can still be deleted; a message that cannot be is skipped, never an error."""
    ids = sorted(set(message_ids))
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        try:
            await bot.delete_messages(chat_id, batch)
        except TelegramError as error:
            logger.warning("deleteMessages failed (%s); deleting one by one", type(error).__name__)
            for message_id in batch:
                with contextlib.suppress(TelegramError):
                    await bot.delete_message(chat_id, message_id)
