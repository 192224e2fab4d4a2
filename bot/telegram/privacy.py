"""The "Hide this chat" button and /forget: which messages to delete, and deleting them.

A child whose phone is checked by the person hurting them must be able to erase the chat, and
"Chat cleared." must be true. The Bot API lets a bot delete both sides of a private chat for 48
hours, only by message id, and in a private chat the ids count up one by one. So the bot stores,
per private chat, where its messages start and the newest id (``bot.storage.ChatSpan``: ids and
10-minute buckets, never text, never who sent what), in the store that survives restarts and is
shared by replicas, and deletes the whole range with ``deleteMessages``, 100 ids a call, whatever
this process happened to see. Ids that no longer exist are skipped by Telegram; ids it refuses
are narrowed down by halving the batch. What could not be deleted (a refusal, or messages older
than 48 hours) is reported, so that the reply can say so honestly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from telegram import Bot
from telegram.constants import BulkRequestLimit
from telegram.error import BadRequest, TelegramError

from bot.storage import DELETABLE_FOR, MessageSpan, Store

logger = logging.getLogger(__name__)

__all__ = ["BATCH", "DELETABLE_FOR", "Cleared", "MessageTracker", "clear_chat", "clear_gap"]

#: Telegram's limit on ids per ``deleteMessages`` call.
BATCH = BulkRequestLimit.MAX_LIMIT


class MessageTracker:
    """Notes the ids of private messages in the store.

    ``add`` is cheap and synchronous (handlers call it right after sending); the ids are written
    by ``flush``, which runs after every update, before Telegram is told it was handled.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: dict[int, list[int]] = {}

    def add(self, chat_id: int, message_id: int) -> None:
        """Remember one message id of a private chat."""
        self._pending.setdefault(chat_id, []).append(message_id)

    async def flush(self, chat_id: int | None = None) -> None:
        """Write the ids noted so far (of one chat, or of all)."""
        chats = [chat_id] if chat_id is not None else list(self._pending)
        for chat in chats:
            ids = self._pending.pop(chat, None)
            if ids:
                await self.store.note_messages(chat, ids)

    async def take(self, chat_id: int) -> MessageSpan:
        """The chat's span, to delete; what is noted afterwards starts a new one."""
        await self.flush(chat_id)
        return await self.store.take_span(chat_id)

    async def forget(self, chat_id: int) -> None:
        """Drop what is stored about the chat."""
        self._pending.pop(chat_id, None)
        await self.store.forget_chat(chat_id)

    def __len__(self) -> int:
        """Private chats with a stored span, where the store can tell (soak benchmark)."""
        try:
            return len(self.store)  # type: ignore[arg-type]
        except TypeError:
            return 0


@dataclass(frozen=True)
class Cleared:
    """What deleting a chat achieved."""

    newest: int | None
    not_deleted: int
    older_remain: bool

    @property
    def complete(self) -> bool:
        """Every message of the chat is gone, as far as the bot can tell."""
        return not self.not_deleted and not self.older_remain


async def clear_chat(bot: Bot, tracker: MessageTracker, chat_id: int, *also: int) -> Cleared:
    """Delete the private chat's whole stored range, up to the newest of it and ``also``."""
    span = await tracker.take(chat_id)
    ids = span.ids(*also)
    not_deleted = await delete_messages(bot, chat_id, ids)
    if not_deleted or span.older_remain:
        logger.info(
            "Chat cleared in part (%d ids refused, older messages %s)",
            not_deleted,
            "remain" if span.older_remain else "none",
        )
    return Cleared(max(ids) if ids else None, not_deleted, span.older_remain)


async def clear_gap(bot: Bot, chat_id: int, cleared: Cleared, notice_id: int) -> None:
    """Delete what arrived between the cleared range and the notice sent after it (a copy of a
    reply whose answer got lost, a message sent meanwhile)."""
    if cleared.newest is not None and notice_id - cleared.newest > 1:
        await delete_messages(bot, chat_id, range(cleared.newest + 1, notice_id))


async def delete_messages(bot: Bot, chat_id: int, message_ids: Iterable[int]) -> int:
    """Delete what can still be deleted; returns how many ids Telegram refused."""
    ids = sorted(set(message_ids))
    refused = 0
    for start in range(0, len(ids), BATCH):
        refused += await _delete_batch(bot, chat_id, ids[start : start + BATCH])
    return refused


async def _delete_batch(bot: Bot, chat_id: int, ids: Sequence[int]) -> int:
    try:
        await bot.delete_messages(chat_id, ids)
    except BadRequest as error:
        if len(ids) == 1:
            return 0 if "not found" in error.message.lower() else 1
        half = len(ids) // 2  # some id is refused: find which, keep deleting the others
        return await _delete_batch(bot, chat_id, ids[:half]) + await _delete_batch(
            bot, chat_id, ids[half:]
        )
    except TelegramError as error:
        logger.warning("deleteMessages failed (%s)", type(error).__name__)
        return len(ids)
    return 0
