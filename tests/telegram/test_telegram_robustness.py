"""Updates that are not plain questions: media, edits, channel posts, forged buttons, missing
fields. Each gets a polite answer or is ignored; none raises."""

from __future__ import annotations

from typing import Any

import pytest
from fakebot import FakeTelegram, updates
from tgharness import (
    LANGS,
    WAIT,
    expected,
    kb,
    message_of,
    nothing_more,
    question,
    reply_to,
    responder,
)

from bot.telegram import render

pytestmark = pytest.mark.usefixtures("bot")

NON_TEXT = {
    "sticker": updates.sticker,
    "photo": lambda **kw: updates.photo(caption="what are my rights?", **kw),
    "voice": updates.voice,
    "document": updates.document,
    "forwarded channel post": lambda **kw: updates.forwarded_from_channel("Breaking news", **kw),
    "empty text": lambda **kw: updates.text_message("", **kw),
}


@pytest.mark.parametrize("kind", NON_TEXT)
@pytest.mark.parametrize("lang", LANGS)
async def test_non_text_asks_for_text(tg: FakeTelegram, kind: str, lang: str) -> None:
    call = await reply_to(tg, NON_TEXT[kind](user_id=70, language_code=lang), 70)
    assert call.params["text"] == render.notice(kb, "non_text", lang).text
    await nothing_more(tg, 70)


async def test_edited_question_is_answered_again(tg: FakeTelegram) -> None:
    """Edits are answered like new messages: fixing a typo should get the right answer."""
    asked = await reply_to(tg, updates.text_message("helo", user_id=71), 71)
    message_id = tg.user_messages[71][0]
    edit = updates.edited_message(question("hotline-111", "en"), message_id=message_id, user_id=71)
    call = await reply_to(tg, edit, 71)
    assert call.params["text"] == expected(responder.answer("hotline-111", "en")).text
    assert call is not asked


async def test_channel_posts_are_ignored(tg: FakeTelegram) -> None:
    tg.push(updates.channel_post(f"@{updates.BOT_USERNAME} what are my rights?"))
    tg.push(updates.channel_post("/start"))
    await reply_to(tg, updates.text_message("hi", user_id=72), 72)  # handled after both posts
    assert tg.sent_to(updates.DEFAULT_CHANNEL_ID) == []


async def test_message_without_sender_is_answered(tg: FakeTelegram) -> None:
    update = updates.without(
        updates.text_message(question("hotline-111", "ru"), user_id=73), "message.from"
    )
    call = await reply_to(tg, update, 73)
    assert call.params["text"] == expected(responder.answer("hotline-111", "ru")).text


FORGED = {
    "garbage": "hello",
    "empty": "",
    "too long": "v1:a:en:" + "a" * 80,
    "old version": "v0:a:en:hotline-111",
    "future version": "v2:a:en:hotline-111",
    "unknown action": "v1:z:en",
    "unknown language": "v1:a:de:hotline-111",
    "unknown entry": "v1:a:en:no-such-entry",
    "unknown topic": "v1:t:en:no-such-topic",
    "missing entry": "v1:a:en",
    "extra argument": "v1:b:en:help",
    "bad characters": "v1:a:en:../../etc",
    "too many parts": "v1:a:en:hotline-111:x",
    "unicode": "v1:a:en:хотлайн",
}


@pytest.mark.parametrize("data", FORGED.values(), ids=FORGED.keys())
async def test_forged_button_gets_a_polite_answer(tg: FakeTelegram, data: str) -> None:
    greeting = await reply_to(tg, updates.command("/start", user_id=74, language_code="ru"), 74)
    update = updates.callback_query(data, message=message_of(tg, greeting), language_code="ru")
    await answered_stale(tg, update, "ru")
    await nothing_more(tg, 74)


async def test_button_without_message_gets_a_polite_answer(tg: FakeTelegram) -> None:
    """Callbacks from inline-mode messages carry no message (and we put no buttons there)."""
    await answered_stale(
        tg, updates.callback_query("v1:a:kk:hotline-111", language_code="kk"), "kk"
    )


async def answered_stale(tg: FakeTelegram, update: dict[str, Any], lang: str) -> None:
    query_id = update["callback_query"]["id"]
    tg.push(update)
    await tg.wait_for(lambda: query_id in tg.answered_queries, WAIT)
    assert tg.answered_queries[query_id]["text"] == kb.text("stale_button", lang)


UNREADABLE = {
    "callback without sender": updates.without(
        updates.callback_query("v1:b:en"), "callback_query.from"
    ),
    "inline query without sender": updates.without(
        updates.inline_query("111"), "inline_query.from"
    ),
    "message without chat": updates.without(updates.text_message("hi", user_id=76), "message.chat"),
    "poll missing fields": updates.raw(poll={"id": "1", "question": "?"}),
    "unknown kind": updates.raw(something_new={"id": 1}),
}


@pytest.mark.parametrize("update", UNREADABLE.values(), ids=UNREADABLE.keys())
async def test_unreadable_updates_are_skipped(tg: FakeTelegram, update: dict[str, Any]) -> None:
    """One update python-telegram-bot cannot read must not stop the bot answering others."""
    tg.push(update)
    await reply_to(tg, updates.text_message("hi", user_id=75), 75)
    assert len(tg.sent_to(75)) == 1


async def test_chat_member_updates_are_ignored(tg: FakeTelegram) -> None:
    tg.push(updates.my_chat_member("member", user_id=77))
    await reply_to(tg, updates.text_message("hi", user_id=78), 78)
    assert tg.sent_to(77) == []
