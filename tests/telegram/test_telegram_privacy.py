"""Which message ids "Hide this chat" remembers: bounded, and only while Telegram can delete."""

from __future__ import annotations

from telegram.error import BadRequest
from tgharness import Clock

from bot.telegram.privacy import DELETABLE_FOR, SWEEP_EVERY, MessageTracker, delete_messages


def test_pop_returns_the_ids_and_forgets_them() -> None:
    tracker = MessageTracker(clock=Clock())
    for message_id in (3, 1, 2, 2):
        tracker.add(7, message_id)
    tracker.add(8, 1)
    assert tracker.pop(7) == [1, 2, 3]
    assert tracker.pop(7) == []
    assert tracker.pop(8) == [1]


def test_only_the_last_ids_of_a_chat_are_kept() -> None:
    tracker = MessageTracker(per_chat=5, clock=Clock())
    for message_id in range(1, 21):
        tracker.add(7, message_id)
    assert tracker.pop(7) == [16, 17, 18, 19, 20]


def test_ids_older_than_48_hours_are_not_returned() -> None:
    clock = Clock()
    tracker = MessageTracker(clock=clock)
    tracker.add(7, 1)
    clock.now += DELETABLE_FOR / 2
    tracker.add(7, 2)
    clock.now += DELETABLE_FOR / 2 + 1
    assert tracker.pop(7) == [2]


def test_old_chats_are_swept_away() -> None:
    clock = Clock()
    tracker = MessageTracker(clock=clock)
    for chat in range(100):
        tracker.add(chat, 1)
    clock.now += DELETABLE_FOR + SWEEP_EVERY
    tracker.add(1000, 1)
    assert len(tracker) == 1


def test_the_number_of_chats_is_bounded() -> None:
    tracker = MessageTracker(max_chats=10, clock=Clock())
    for chat in range(25):
        tracker.add(chat, 1)
    tracker.add(20, 2)  # the most recently active chats stay
    assert len(tracker) == 10
    assert tracker.pop(0) == []
    assert tracker.pop(20) == [1, 2]


class RecordingBot:
    """Just enough of ``telegram.Bot`` to record deletions; batches containing 13 fail."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.singles: list[int] = []

    async def delete_messages(self, chat_id: int, message_ids: list[int]) -> bool:
        self.batches.append(list(message_ids))
        if 13 in message_ids:
            raise BadRequest("Bad Request: message can't be deleted")
        return True

    async def delete_message(self, chat_id: int, message_id: int) -> bool:
        if message_id % 2:
            raise BadRequest("Bad Request: message to delete not found")
        self.singles.append(message_id)
        return True


async def test_deletion_goes_in_batches_and_skips_what_fails() -> None:
    bot = RecordingBot()
    await delete_messages(bot, 7, [*range(250, 0, -1), 5])  # type: ignore[arg-type]
    assert [len(batch) for batch in bot.batches] == [100, 100, 50]
    assert bot.batches[0][:3] == [1, 2, 3], "sorted, without duplicates"
    assert bot.singles == list(range(2, 101, 2)), "a failed batch is retried one by one"
