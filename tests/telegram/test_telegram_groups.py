"""Groups: answer commands and messages that mention or reply to the bot; otherwise stay quiet."""

from __future__ import annotations

import pytest
from fakebot import FakeTelegram, updates
from tgharness import BOT_USERNAME, GROUP, LANGS, buttons, kb, question, reply_to, responder

from bot.telegram import render

pytestmark = pytest.mark.usefixtures("bot")


async def quiet_then_answered(tg: FakeTelegram, unanswered: dict) -> None:
    """Push ``unanswered`` and then a mention; only the mention may be answered."""
    before = len(tg.sent_to(GROUP))
    tg.push(unanswered)
    await reply_to(tg, updates.mention_in_group("hi", user_id=7), GROUP)
    assert len(tg.sent_to(GROUP)) == before + 1


@pytest.mark.parametrize("lang", LANGS)
async def test_mention_is_answered_as_a_reply(tg: FakeTelegram, lang: str) -> None:
    update = updates.mention_in_group(question("hotline-111", lang), user_id=5)
    call = await reply_to(tg, update, GROUP)
    reply = responder.respond(question("hotline-111", lang))
    assert call.params["text"] == render.reply_message(reply, kb, private=False).text
    assert call.params["reply_parameters"]["message_id"] == tg.user_messages[GROUP][-1]


async def test_reply_to_the_bot_is_answered(tg: FakeTelegram) -> None:
    first = await reply_to(tg, updates.mention_in_group("hi", user_id=5), GROUP)
    bot_message = tg.messages[(GROUP, first.result["message_id"])]
    update = updates.text_message(
        question("hotline-111", "en"),
        user_id=6,
        chat_type="supergroup",
        reply_to_message=bot_message,
    )
    call = await reply_to(tg, update, GROUP)
    assert kb.entries["hotline-111"].answers["en"] in call.params["text"]


async def test_plain_group_chatter_is_ignored(tg: FakeTelegram) -> None:
    chatter = updates.text_message(question("hotline-111", "en"), user_id=5, chat_type="supergroup")
    await quiet_then_answered(tg, chatter)


@pytest.mark.parametrize(
    "update",
    [
        updates.mention_in_group("what are my rights?", bot_username="some_other_bot"),
        updates.sticker(chat_type="supergroup"),
        updates.command("/help@some_other_bot", chat_type="supergroup"),
    ],
    ids=["other-bot-mentioned", "sticker", "other-bot-command"],
)
async def test_not_for_us(tg: FakeTelegram, update: dict) -> None:
    await quiet_then_answered(tg, update)


@pytest.mark.parametrize("lang", LANGS)
async def test_commands_with_our_name(tg: FakeTelegram, lang: str) -> None:
    update = updates.command("/start", chat_type="supergroup", user_id=5, language_code=lang)
    assert update["message"]["text"] == f"/start@{BOT_USERNAME}"
    call = await reply_to(tg, update, GROUP)
    assert call.params["text"] == render.greeting(kb, lang, group=True).text
    assert kb.text("group_hint", lang) in call.params["text"]


async def test_crisis_in_a_group_has_no_hide_button(tg: FakeTelegram) -> None:
    """Bots cannot delete other people's messages in groups, so the button is not offered;
    the group notice names the helplines and invites the child to write privately."""
    call = await reply_to(tg, updates.mention_in_group("I want to die", user_id=5), GROUP)
    assert call.params["text"] == render.compose(kb.crisis_text("crisis_group", "en"))
    assert buttons(call) == []


async def test_hide_button_forged_in_a_group_deletes_nothing(tg: FakeTelegram) -> None:
    call = await reply_to(tg, updates.mention_in_group("hi", user_id=5), GROUP)
    update = updates.callback_query(
        "v1:h:en", message=tg.messages[(GROUP, call.result["message_id"])], user_id=5
    )
    tg.push(update)
    query_id = update["callback_query"]["id"]
    await tg.wait_for(lambda: query_id in tg.answered_queries)
    assert tg.answered_queries[query_id]["text"] == kb.text("hide_group", "en")
    assert not tg.deleted


async def test_forget_in_a_group_says_what_it_can_do_there(tg: FakeTelegram) -> None:
    """A bot cannot delete a member's messages in a group: /forget says so, deletes nothing."""
    call = await reply_to(tg, updates.command("/forget", chat_type="supergroup", user_id=5), GROUP)
    assert call.params["text"] == kb.text("forgotten_group", "en")
    assert not tg.deleted and not tg.calls_of("deleteMessages")
