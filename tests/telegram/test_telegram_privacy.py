"""What "Hide this chat" and /forget delete: the whole stored range of a private chat, in
batches, honestly reporting what could not be deleted."""

from __future__ import annotations

import pytest
from telegram.error import BadRequest, NetworkError
from tgharness import Clock

from bot.storage import BUCKET, DELETABLE_FOR, MAX_SPAN, ChatSpan, FileStore, MessageSpan
from bot.telegram.privacy import MessageTracker, clear_chat, clear_gap, delete_messages


async def tracker_at(clock: Clock) -> MessageTracker:
    store = FileStore(None, clock=clock)
    await store.open()
    return MessageTracker(store)


async def test_the_span_runs_from_the_first_message_to_the_newest() -> None:
    clock = Clock(1_000_000.0)
    tracker = await tracker_at(clock)
    for message_id in (1, 2, 3):
        tracker.add(7, message_id)
        clock.now += BUCKET  # a new bucket each time
    tracker.add(7, 9)
    span = await tracker.take(7)
    assert span == MessageSpan(1, 9, older_remain=False)
    assert span.ids(12) == list(range(1, 13)), "up to the newest id the caller knows"


async def test_after_taking_the_span_a_new_one_starts_clean() -> None:
    clock = Clock(1_000_000.0)
    tracker = await tracker_at(clock)
    tracker.add(7, 1)
    tracker.add(7, 2)
    await tracker.take(7)
    tracker.add(7, 4)  # "Chat cleared."
    assert await tracker.take(7) == MessageSpan(4, 4, older_remain=False)


async def test_messages_older_than_48_hours_are_left_out_and_reported() -> None:
    clock = Clock(1_000_000.0)
    tracker = await tracker_at(clock)
    tracker.add(7, 1)
    await tracker.flush()
    clock.now += DELETABLE_FOR + 2 * BUCKET
    tracker.add(7, 5)
    assert await tracker.take(7) == MessageSpan(5, 5, older_remain=True)


async def test_a_chat_first_seen_midway_cannot_vouch_for_what_came_before() -> None:
    tracker = await tracker_at(Clock())
    tracker.add(7, 40)
    assert (await tracker.take(7)).older_remain
    assert await tracker.take(8) == MessageSpan(None, None, older_remain=True)


def test_a_very_long_chat_deletes_its_newest_messages() -> None:
    span = ChatSpan()
    span.note(1, 1_000_000.0)
    span.note(MAX_SPAN + 10, 1_000_000.0)
    assert span.span(1_000_000.0) == MessageSpan(11, MAX_SPAN + 10, older_remain=True)


def test_spans_survive_a_round_trip_through_json() -> None:
    span = ChatSpan()
    span.note(3, 1_000_000.0)
    span.note(8, 1_000_000.0 + BUCKET)
    assert ChatSpan.from_json(span.to_json()) == span
    with pytest.raises(ValueError):
        ChatSpan.from_json({"buckets": {"1": -5}})


class RecordingBot:
    """Just enough of ``telegram.Bot``: refuses batches holding an id in ``refused``."""

    def __init__(self, refused: set[int] = frozenset(), *, down: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.refused = refused
        self.down = down

    async def delete_messages(self, chat_id: int, message_ids: list[int]) -> bool:
        self.batches.append(list(message_ids))
        if self.down:
            raise NetworkError("Telegram is away")
        if self.refused & set(message_ids):
            raise BadRequest("Bad Request: message can't be deleted")
        return True


async def test_deletion_goes_in_batches_of_100() -> None:
    bot = RecordingBot()
    assert await delete_messages(bot, 7, [*range(250, 0, -1), 5]) == 0  # type: ignore[arg-type]
    assert [len(batch) for batch in bot.batches] == [100, 100, 50]
    assert bot.batches[0][:3] == [1, 2, 3], "sorted, without duplicates"


async def test_refused_ids_are_found_by_halving_and_counted() -> None:
    bot = RecordingBot(refused={13, 14})
    assert await delete_messages(bot, 7, range(1, 101)) == 2  # type: ignore[arg-type]
    deleted = {i for batch in bot.batches if not {13, 14} & set(batch) for i in batch}
    assert deleted == set(range(1, 101)) - {13, 14}, "everything else is still deleted"
    assert len(bot.batches) < 30


async def test_clearing_reports_what_stayed() -> None:
    tracker = await tracker_at(Clock())
    for message_id in range(1, 11):
        tracker.add(7, message_id)
    cleared = await clear_chat(RecordingBot(refused={4}), tracker, 7)  # type: ignore[arg-type]
    assert (cleared.newest, cleared.not_deleted, cleared.complete) == (10, 1, False)
    tracker.add(7, 11)
    cleared = await clear_chat(RecordingBot(), tracker, 7, 12)  # type: ignore[arg-type]
    assert (cleared.newest, cleared.complete) == (12, True)
    down = await clear_chat(RecordingBot(down=True), tracker, 7, 13)  # type: ignore[arg-type]
    assert not down.complete, "Telegram away: nothing is claimed to be deleted"


async def test_the_gap_before_the_notice_is_deleted_too() -> None:
    tracker = await tracker_at(Clock())
    tracker.add(7, 1)
    bot = RecordingBot()
    cleared = await clear_chat(bot, tracker, 7, 3)  # type: ignore[arg-type]
    await clear_gap(bot, 7, cleared, notice_id=6)  # type: ignore[arg-type]
    assert bot.batches == [[1, 2, 3], [4, 5]]
