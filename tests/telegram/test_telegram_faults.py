"""Telegram misbehaving: 429s, 5xx, dropped connections, a 30-second outage. Every message still
gets exactly one reply."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pytest
from fakebot import FakeTelegram, updates
from tgharness import check_replies, question

QUESTION = question("hotline-111", "en")
#: The bot's retries wait 0.5, 1, 2, 4, 5, 5... seconds, so a few faults take a few seconds.
FAULT_WAIT = 15.0

pytestmark = pytest.mark.usefixtures("bot")


def push_questions(tg: FakeTelegram, users: Iterable[int]) -> list[int]:
    users = list(users)
    for user in users:
        tg.push(updates.text_message(QUESTION, user_id=user))
    return users


def fetched(tg: FakeTelegram, chat_id: int) -> bool:
    """A getUpdates answer carried a message from ``chat_id``."""
    return any(
        update.get("message", {}).get("chat", {}).get("id") == chat_id
        for call in tg.calls_of("getUpdates")
        for update in call.result
    )


async def each_answered_once(
    tg: FakeTelegram, users: list[int], timeout: float = FAULT_WAIT
) -> None:
    await tg.wait_for(
        lambda: all(tg.sent_to(u) for u in users), timeout, what="a reply to every message"
    )
    await asyncio.sleep(0.3)  # a duplicate would arrive now
    assert {u: len(tg.sent_to(u)) for u in users} == dict.fromkeys(users, 1)


async def test_too_many_requests_is_waited_out(tg: FakeTelegram) -> None:
    tg.fail("sendMessage", 429, retry_after=1, times=3)
    users = push_questions(tg, range(200, 210))
    await each_answered_once(tg, users)
    assert [c.fault for c in tg.faulted_calls] == ["429"] * 3


@pytest.mark.parametrize("status", [500, 502])
async def test_server_errors_are_retried(tg: FakeTelegram, status: int) -> None:
    tg.fail("sendMessage", status, times=3)
    users = push_questions(tg, range(210, 215))
    await each_answered_once(tg, users)


async def test_dropped_connections_are_retried(tg: FakeTelegram) -> None:
    tg.drop_connections("sendMessage", times=3)  # processed=False: Telegram never got them
    tg.drop_connections("getUpdates", times=2)
    users = push_questions(tg, range(220, 225))
    await each_answered_once(tg, users)


async def test_edits_and_deletes_are_retried(tg: FakeTelegram) -> None:
    tg.push(updates.command("/topics", user_id=226))
    await tg.wait_for_calls("sendMessage", chat_id=226)
    tg.fail("editMessageText", 502, times=2)
    tg.push(updates.callback_query("v1:t:en:help", message=tg.last_bot_message(226)))
    await tg.wait_for_calls("editMessageText", chat_id=226, timeout=FAULT_WAIT)
    tg.fail("deleteMessages", 500, times=2)
    tg.push(updates.callback_query("v1:h:en", message=tg.last_bot_message(226)))
    await tg.wait_for(
        lambda: tg.deleted == {(226, 1), (226, 2)}, FAULT_WAIT, what="the chat deleted"
    )


async def test_thirty_second_outage(tg: FakeTelegram) -> None:
    """Telegram unreachable for 30 s: replies in flight wait, queued messages are answered
    once it is back (PTB's polling backs off up to 30 s), nothing is lost or doubled."""
    before = push_questions(tg, range(230, 235))
    await each_answered_once(tg, before)
    tg.delay("sendMessage", 10.0)  # the next reply is still on its way when Telegram goes
    in_flight = push_questions(tg, [235])
    # Fetched, and (since its reply is not out) still pending at Telegram: not lost if we crash.
    await tg.wait_for(lambda: fetched(tg, 235), what="the update fetched")
    assert tg.pending_updates
    await asyncio.sleep(0.2)
    await tg.go_away()
    during = push_questions(tg, range(236, 241))  # Telegram queues them meanwhile
    await asyncio.sleep(30)
    await tg.come_back()
    await each_answered_once(tg, before + in_flight + during, timeout=40)
    assert "delay" in [c.fault for c in tg.faulted_calls], "a reply was cut off mid-flight"
    check_replies(tg)
