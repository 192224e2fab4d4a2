"""What a user can do in a private chat, end to end: the real bot, the fake Bot API, real HTTP."""

from __future__ import annotations

import pytest
from fakebot import FakeTelegram, updates
from tgharness import (
    CLARIFY_CANDIDATES,
    CRISIS_CANDIDATES,
    FALLBACK_CANDIDATES,
    LANGS,
    buttons,
    expected,
    kb,
    message_of,
    nothing_more,
    press,
    question,
    reply_to,
    responder,
    text_of_kind,
)

from bot.telegram import render
from bot.telegram.intake import BotApplication

pytestmark = pytest.mark.usefixtures("bot")


@pytest.mark.parametrize("lang", LANGS)
async def test_start_greets_in_the_telegram_language(tg: FakeTelegram, lang: str) -> None:
    call = await reply_to(tg, updates.command("/start", user_id=10, language_code=lang), 10)
    assert call.params["text"] == render.greeting(kb, lang).text
    assert [data for _, data in buttons(call)] == [f"v1:m:{lang}", f"v1:p:{lang}", f"v1:c:{lang}"]


@pytest.mark.parametrize(("code", "lang"), [("de", "en"), (None, "en"), ("ru-RU", "ru")])
async def test_start_falls_back_to_english(tg: FakeTelegram, code: str | None, lang: str) -> None:
    call = await reply_to(tg, updates.command("/start", user_id=11, language_code=code), 11)
    assert call.params["text"] == render.greeting(kb, lang).text


@pytest.mark.parametrize("lang", LANGS)
async def test_deep_link_opens_a_topic(tg: FakeTelegram, lang: str) -> None:
    topic = kb.browsable_topics()[0]
    update = updates.command(f"/start {topic.id}", user_id=12, language_code=lang)
    call = await reply_to(tg, update, 12)
    assert call.params["text"] == render.topic_page(kb, topic, lang).text
    assert buttons(call)[-1][1] == f"v1:b:{lang}"


async def test_unknown_deep_link_greets(tg: FakeTelegram) -> None:
    call = await reply_to(tg, updates.command("/start no-such-topic", user_id=13), 13)
    assert call.params["text"] == render.greeting(kb, "en").text


@pytest.mark.parametrize("lang", LANGS)
async def test_question_is_answered_in_its_own_language(tg: FakeTelegram, lang: str) -> None:
    """A question in Russian or Kazakh from a user whose Telegram is in English."""
    text = question("hotline-111", lang)
    call = await reply_to(tg, updates.text_message(text, user_id=20, language_code="en"), 20)
    reply = responder.respond(text)
    assert (reply.kind, reply.lang, reply.entry_id) == ("answer", lang, "hotline-111")
    sent = call.params["text"]
    assert sent == expected(reply).text
    source = kb.entries["hotline-111"].sources[-1]
    assert sent.splitlines()[-1].endswith(f'<a href="{source.url(lang)}">{source.title(lang)}</a>')
    related = buttons(call)
    assert 1 <= len(related) <= 3
    assert all(data.startswith(f"v1:a:{lang}:") for _, data in related)
    await nothing_more(tg, 20)


@pytest.mark.parametrize("lang", LANGS)
async def test_related_button_sends_that_answer(tg: FakeTelegram, lang: str) -> None:
    text = question("hotline-111", lang)
    call = await reply_to(tg, updates.text_message(text, user_id=21, language_code=lang), 21)
    label, data = buttons(call)[0]
    entry_id = data.rsplit(":", 1)[1]
    assert label == question(entry_id, lang)
    before = len(tg.sent_to(21))
    await press(tg, data, message_of(tg, call))
    [answer] = (await tg.wait_for_calls("sendMessage", n=before + 1, chat_id=21))[before:]
    assert answer.params["text"] == expected(responder.answer(entry_id, lang)).text


@pytest.mark.parametrize("lang", LANGS)
async def test_clarify_offers_buttons_that_answer(tg: FakeTelegram, lang: str) -> None:
    text = text_of_kind("clarify", lang, CLARIFY_CANDIDATES)
    call = await reply_to(tg, updates.text_message(text, user_id=22, language_code="en"), 22)
    reply = responder.respond(text)
    assert call.params["text"] == expected(reply).text
    offered = buttons(call)
    assert [label for label, _ in offered] == [s.question for s in reply.suggestions]
    choice = reply.suggestions[-1]
    await press(tg, offered[-1][1], message_of(tg, call))
    answer = await tg.wait_for_calls("sendMessage", n=2, chat_id=22)
    assert answer[1].params["text"] == expected(responder.answer(choice.id, lang)).text


@pytest.mark.parametrize("lang", LANGS)
async def test_fallback_is_honest_and_offers_topics(tg: FakeTelegram, lang: str) -> None:
    text = text_of_kind("fallback", lang, FALLBACK_CANDIDATES)
    call = await reply_to(tg, updates.text_message(text, user_id=23, language_code="en"), 23)
    sent = call.params["text"]
    assert kb.text("fallback", lang) in sent and kb.text("helpline_line", lang) in sent
    [(label, data)] = buttons(call)
    assert (label, data) == (kb.text("button_topics", lang), f"v1:m:{lang}")
    await press(tg, data, message_of(tg, call))
    menu = await tg.wait_for_calls("sendMessage", n=2, chat_id=23)
    assert menu[1].params["text"] == render.topics_menu(kb, lang).text


@pytest.mark.parametrize("lang", LANGS)
async def test_crisis_comes_first_and_hide_chat_erases_both_sides(
    tg: FakeTelegram, lang: str
) -> None:
    chat = 30
    await reply_to(tg, updates.command("/start", user_id=chat, language_code=lang), chat)
    await reply_to(tg, updates.text_message(question("hotline-111", lang), user_id=chat), chat)
    text = text_of_kind("crisis", lang, CRISIS_CANDIDATES)
    pushed = len(tg.calls)
    call = await reply_to(tg, updates.text_message(text, user_id=chat, language_code="en"), chat)
    first_after = next(c for c in tg.calls[pushed:] if c.method != "getUpdates")
    assert first_after is call, "nothing may go out before the crisis reply"
    # The reply written for the kind of danger this message shows, in the user's language.
    assert call.params["text"] == expected(responder.respond(text, lang)).text
    assert responder.respond(text, lang).kind == "crisis"
    assert "111" in call.params["text"] and "<a " not in call.params["text"]
    assert buttons(call) == [(kb.text("button_hide_chat", lang), f"v1:h:{lang}")]

    everything = {(chat, m) for m in tg.user_messages[chat] + tg.bot_messages[chat]}
    await press(tg, f"v1:h:{lang}", message_of(tg, call))
    await tg.wait_for(lambda: everything <= tg.deleted, what="every message deleted")
    [left] = await tg.wait_for(lambda: tg.chat_log(chat), what="the neutral line")
    assert left["text"] == kb.text("chat_hidden", lang)


async def test_hide_chat_without_stored_ids_still_deletes_its_message(
    tg: FakeTelegram, bot: BotApplication
) -> None:
    """With the stored ids gone (a storage file lost), the button still deletes the message it
    is on, and says that older messages may remain."""
    text = CRISIS_CANDIDATES["en"][0]
    call = await reply_to(tg, updates.text_message(text, user_id=31), 31)
    await tg.wait_for(lambda: not tg.pending_updates, what="the update confirmed")
    await bot.store.forget_chat(31)
    await press(tg, "v1:h:en", message_of(tg, call))
    await tg.wait_for(lambda: (31, call.result["message_id"]) in tg.deleted)
    notice = await tg.wait_for_calls("sendMessage", n=2, chat_id=31)
    assert notice[1].params["text"] == kb.text("chat_hidden_partly", "en")


@pytest.mark.parametrize("lang", LANGS)
async def test_topics_navigation_edits_in_place(tg: FakeTelegram, lang: str) -> None:
    chat = 40
    menu = await reply_to(tg, updates.command("/topics", user_id=chat, language_code=lang), chat)
    assert menu.params["text"] == render.topics_menu(kb, lang).text
    message_id = menu.result["message_id"]
    topic = kb.browsable_topics()[0]
    entry_id = next(e for e in topic.entry_ids if kb.entries[e].kind == "faq")
    steps = [
        (f"v1:t:{lang}:{topic.id}", render.topic_page(kb, topic, lang)),
        (
            f"v1:q:{lang}:{entry_id}",
            render.browsed_answer(responder.answer(entry_id, lang), kb, topic.id),
        ),
        (f"v1:t:{lang}:{topic.id}", render.topic_page(kb, topic, lang)),
        (f"v1:b:{lang}", render.topics_menu(kb, lang)),
    ]
    for n, (data, shown) in enumerate(steps, start=1):
        await press(tg, data, tg.last_bot_message(chat))
        edits = await tg.wait_for_calls("editMessageText", n=n, chat_id=chat)
        assert edits[-1].params["message_id"] == message_id
        assert edits[-1].params["text"] == shown.text
    assert len(tg.sent_to(chat)) == 1, "navigation must not send new messages"


async def test_pressing_the_same_button_twice_is_harmless(tg: FakeTelegram) -> None:
    menu = await reply_to(tg, updates.command("/topics", user_id=41), 41)
    await press(tg, "v1:b:en", message_of(tg, menu))  # already showing the topics
    await nothing_more(tg, 41)
    # Telegram answers "message is not modified"; the bot takes that in its stride.
    assert all("message is not modified" in (c.error or "") for c in tg.errors)
    assert len(tg.errors) == 1
    tg.clear()


@pytest.mark.parametrize(
    ("command", "key"), [("/help", "help"), ("/hotline", "hotlines"), ("/about", "about")]
)
@pytest.mark.parametrize("lang", LANGS)
async def test_information_commands(tg: FakeTelegram, command: str, key: str, lang: str) -> None:
    call = await reply_to(tg, updates.command(command, user_id=50, language_code=lang), 50)
    assert call.params["text"] == render.notice(kb, key, lang).text


async def test_unknown_command_gets_help(tg: FakeTelegram) -> None:
    call = await reply_to(tg, updates.command("/whatever", user_id=51, language_code="kk"), 51)
    assert call.params["text"] == render.notice(kb, "help", "kk").text


@pytest.mark.parametrize("lang", LANGS)
async def test_language_choice_applies_everywhere(tg: FakeTelegram, lang: str) -> None:
    chat = 60
    menu = await reply_to(tg, updates.command("/language", user_id=chat, language_code="en"), chat)
    assert [data for _, data in buttons(menu)] == ["v1:l:en", "v1:l:ru", "v1:l:kk"]
    assert [label for label, _ in buttons(menu)] == ["English", "Русский", "Қазақша"]
    await press(tg, f"v1:l:{lang}", message_of(tg, menu))
    [edit] = await tg.wait_for_calls("editMessageText", chat_id=chat)
    assert edit.params["text"] == render.notice(kb, "language_set", lang).text
    greeting = await reply_to(tg, updates.command("/start", user_id=chat), chat)
    assert greeting.params["text"] == render.greeting(kb, lang).text
    other = next(code for code in LANGS if code != lang)
    answer = await reply_to(
        tg, updates.text_message(question("hotline-111", other), user_id=chat), chat
    )
    assert answer.params["text"] == expected(responder.answer("hotline-111", lang)).text


async def test_forget_erases_the_chat_and_the_language(tg: FakeTelegram) -> None:
    chat = 61
    menu = await reply_to(tg, updates.command("/language", user_id=chat), chat)
    await press(tg, "v1:l:kk", message_of(tg, menu))
    await tg.wait_for_calls("editMessageText", chat_id=chat)
    await reply_to(tg, updates.text_message("hi", user_id=chat), chat)
    everything = {(chat, m) for m in tg.user_messages[chat] + tg.bot_messages[chat]}
    call = await reply_to(tg, updates.command("/forget", user_id=chat, language_code="en"), chat)
    assert call.params["text"] == render.notice(kb, "forgotten", "kk").text
    assert everything <= tg.deleted
    assert (chat, tg.user_messages[chat][-1]) in tg.deleted, "the /forget message itself too"
    greeting = await reply_to(tg, updates.command("/start", user_id=chat, language_code="en"), chat)
    assert greeting.params["text"] == render.greeting(kb, "en").text


async def test_command_menus_in_every_language(tg: FakeTelegram) -> None:
    await tg.wait_for(lambda: len(tg.commands) == 3, what="three command menus")
    by_language = {language: commands for (_, language), commands in tg.commands.items()}
    assert set(by_language) == {"", "ru", "kk"}
    for code, lang in (("", "en"), ("ru", "ru"), ("kk", "kk")):
        menu = {c["command"]: c["description"] for c in by_language[code]}
        assert menu["start"] == kb.text("cmd_start", lang)
        assert menu["forget"] == kb.text("cmd_forget", lang)
        assert list(menu) == ["start", "topics", "hotline", "language", "about", "forget", "help"]


async def test_replies_come_in_the_order_questions_were_asked(tg: FakeTelegram) -> None:
    entry_ids = [e.id for e in kb.entries.values() if e.kind == "faq"][:8]
    tg.delay("sendMessage", 0.5)  # the first reply is slow; the others must wait for it
    for entry_id in entry_ids:
        tg.push(updates.text_message(question(entry_id, "en"), user_id=62))
    replies = await tg.wait_for_calls("sendMessage", n=len(entry_ids), chat_id=62)
    expected_texts = [expected(responder.respond(question(e, "en"))).text for e in entry_ids]
    assert [c.params["text"] for c in replies] == expected_texts
