"""A child in danger, end to end against the fake Bot API server: every way of writing is read
for a crisis, and the reply is never silenced, delayed or replaced by something else.

Paths: long messages, captions, edits, forwards, groups. Pressure: flood control, the chat's own
queue, hundreds of users at once, a 429 storm, Telegram unreachable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakebot import Call, FakeTelegram, updates
from telegram.ext import Application
from tgharness import (
    BOT_USERNAME,
    CRISIS_CANDIDATES,
    GROUP,
    LANGS,
    WAIT,
    buttons,
    check_replies,
    expected,
    kb,
    nothing_more,
    question,
    reply_to,
    running,
)

from bot.crisis_model import NOT_CRISIS, CrisisModel
from bot.dialogue import Reply, Responder
from bot.knowledge import CONCERN, CRISIS_CATEGORIES
from bot.telegram import render
from bot.telegram.callbacks import Action, Button, encode
from bot.telegram.delivery import Patience
from bot.telegram.flood import LIMIT
from bot.telegram.handlers import URGENT_ENCODE_WAIT

CRISIS = CRISIS_CANDIDATES["en"][0]  # "my father beats me": the phrase lexicon knows it
HIDE = {encode(Button(Action.HIDE_CHAT, lang)) for lang in LANGS}
#: Retrying quickly, so that minutes of patience fit in a test.
QUICK = Patience(first_wait=0.02, max_wait=0.1, give_up_after=0.3, crisis_give_up_after=60.0)
#: The paths are the Telegram layer's; the lexicon alone judges them, the same every time (the
#: encoder's part, and its timing, is tested below with an encoder whose verdicts are known).
LEXICON = Responder(kb)


@pytest.fixture
async def bot(tg: FakeTelegram, tmp_path: Path) -> AsyncIterator[Application]:
    async with running(tg, tmp_path, bot_responder=LEXICON) as app:
        yield app
    check_replies(tg)


def crisis_html(text: str, lang: str = "en") -> str:
    return expected(LEXICON.respond(text, lang)).text


def notice_html(key: str, lang: str = "en") -> str:
    text = kb.crisis_text(key, lang)
    return render.reply_message(Reply("crisis", lang, text, text), kb, private=False).text


def has_hide_button(call: Call) -> bool:
    return [data for _, data in buttons(call)] in ([d] for d in HIDE)


# ---- a sentence encoder and classifier that tests can read ----------------------------------

#: What the fake classifier recognises by "meaning": no lexicon phrase has these words.
MEANING = "nobody would notice if i was gone"
BY_MEANING = f"honestly {MEANING} anyway"


class FakeEncoder:
    """3-dimensional "sentence vectors": suicide-like, violence-like, or neither; ``seconds``
    per window of work, in the worker thread."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.texts: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        time.sleep(self.seconds * len(texts))
        self.texts.extend(texts)
        rows = []
        for text in texts:
            lowered = text.lower()
            rows.append([MEANING in lowered, "beat" in lowered, MEANING not in lowered])
        return np.array(rows, dtype=np.float32)


MODEL = CrisisModel(
    classes=("suicide_self_harm", "violence", NOT_CRISIS),
    weights=np.eye(3, dtype=np.float32) * 20,
    bias=np.zeros(3, dtype=np.float32),
    trained_from="tests",
)


def encoding_responder(encoder: FakeEncoder) -> Responder:
    return Responder(kb, encode=encoder, crisis_model=MODEL)


# ---- every path is read --------------------------------------------------------------------


@pytest.mark.usefixtures("bot")
async def test_a_long_message_is_read_to_the_end(tg: FakeTelegram) -> None:
    chatter = "I want to tell you about my school, my friends and my cat. " * 60
    text = f"{chatter}And {CRISIS}."
    assert len(text) > 3500
    call = await reply_to(tg, updates.text_message(text, user_id=501), 501)
    assert call.params["text"] == crisis_html(text)
    assert has_hide_button(call)


def video(caption: str, **kwargs: Any) -> dict[str, Any]:
    update = updates.document(caption=caption, **kwargs)
    update["message"]["video"] = {
        "file_id": "video-file-id",
        "file_unique_id": "video-unique",
        "width": 640,
        "height": 480,
        "duration": 5,
    }
    del update["message"]["document"]
    return update


CAPTIONED = {
    "photo": lambda caption, **kw: updates.photo(caption=caption, **kw),
    "video": video,
    "document": lambda caption, **kw: updates.document(caption=caption, **kw),
}


@pytest.mark.usefixtures("bot")
@pytest.mark.parametrize("kind", CAPTIONED)
async def test_a_caption_is_read_for_a_crisis(tg: FakeTelegram, kind: str) -> None:
    call = await reply_to(tg, CAPTIONED[kind](CRISIS, user_id=502), 502)
    assert call.params["text"] == crisis_html(CRISIS)
    assert has_hide_button(call)


@pytest.mark.usefixtures("bot")
async def test_an_edit_that_discloses_gets_the_crisis_reply(tg: FakeTelegram) -> None:
    await reply_to(tg, updates.text_message("hi", user_id=503, language_code="ru"), 503)
    message_id = tg.user_messages[503][0]
    text = CRISIS_CANDIDATES["ru"][0]
    edit = updates.edited_message(text, message_id=message_id, user_id=503, language_code="ru")
    call = await reply_to(tg, edit, 503)
    assert call.params["text"] == crisis_html(text, "ru")
    assert has_hide_button(call)


def forwarded_from_person(text: str, **kwargs: Any) -> dict[str, Any]:
    update = updates.text_message(text, **kwargs)
    update["message"]["forward_origin"] = {
        "type": "user",
        "sender_user": updates.user(77, first_name="Someone"),
        "date": int(time.time()) - 60,
    }
    return update


@pytest.mark.usefixtures("bot")
@pytest.mark.parametrize(
    "forward", [forwarded_from_person, updates.forwarded_from_channel], ids=["person", "channel"]
)
async def test_forwarded_text_is_read_for_a_crisis(tg: FakeTelegram, forward: Any) -> None:
    call = await reply_to(tg, forward(CRISIS, user_id=504), 504)
    assert call.params["text"] == crisis_html(CRISIS)
    assert has_hide_button(call)


@pytest.mark.usefixtures("bot")
@pytest.mark.parametrize("lang", LANGS)
async def test_in_a_group_the_child_is_not_quoted(tg: FakeTelegram, lang: str) -> None:
    """Everyone in the group reads the reply: the helplines, an invitation to write privately,
    no quote of the child's message, and no "Hide this chat" (it cannot work there)."""
    text = CRISIS_CANDIDATES[lang][0]
    call = await reply_to(
        tg, updates.mention_in_group(text, user_id=505, language_code=lang), GROUP
    )
    assert call.params["text"] == notice_html("crisis_group", lang)
    assert "reply_parameters" not in call.params
    assert buttons(call) == []
    assert text not in call.params["text"]


@pytest.mark.usefixtures("bot")
async def test_in_a_group_a_caption_or_a_reply_to_the_bot_counts(tg: FakeTelegram) -> None:
    mention = f"@{BOT_USERNAME}"
    photo = updates.photo(caption=f"{mention} {CRISIS}", user_id=506, chat_type="supergroup")
    photo["message"]["caption_entities"] = [
        {"type": "mention", "offset": 0, "length": len(mention)}
    ]
    call = await reply_to(tg, photo, GROUP)
    assert call.params["text"] == notice_html("crisis_group")
    bot_message = tg.messages[(GROUP, call.result["message_id"])]
    answer = updates.text_message(
        CRISIS, user_id=506, chat_type="supergroup", reply_to_message=bot_message
    )
    call = await reply_to(tg, answer, GROUP)
    assert call.params["text"] == notice_html("crisis_group")
    assert "reply_parameters" not in call.params


@pytest.mark.usefixtures("bot")
async def test_in_a_group_unaddressed_chatter_stays_unanswered(tg: FakeTelegram) -> None:
    tg.push(updates.text_message(CRISIS, user_id=507, chat_type="supergroup"))
    await reply_to(tg, updates.mention_in_group("hi", user_id=507), GROUP)
    assert len(tg.sent_to(GROUP)) == 1


# ---- never silenced ------------------------------------------------------------------------


@pytest.mark.usefixtures("bot")
async def test_flood_control_never_silences_a_crisis(tg: FakeTelegram) -> None:
    user = 510
    for _ in range(LIMIT + 3):
        tg.push(updates.text_message(question("hotline-111", "en"), user_id=user))
    slow_down = render.notice(kb, "slow_down", "en").text
    await tg.wait_for_calls("sendMessage", chat_id=user, text=slow_down)
    for _ in range(3):
        tg.push(updates.text_message(CRISIS, user_id=user))
    calls = await tg.wait_for_calls("sendMessage", n=LIMIT + 4, chat_id=user)
    first, *repeats = calls[LIMIT + 1 :]
    assert first.params["text"] == crisis_html(CRISIS), "in full, the first time"
    reminder = expected(Reply("crisis", "en", *[kb.crisis_text("crisis_reminder", "en")] * 2))
    assert [c.params["text"] for c in repeats] == [reminder.text] * 2, "then the reminder"
    assert all(has_hide_button(call) for call in calls[LIMIT + 1 :])
    await nothing_more(tg, user)


async def test_flood_control_checks_held_back_messages_by_meaning(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    """A crisis only the encoder recognises is found among held-back messages too."""
    user = 511
    async with running(tg, tmp_path, bot_responder=encoding_responder(FakeEncoder())):
        for _ in range(LIMIT + 2):
            tg.push(updates.text_message(question("hotline-111", "en"), user_id=user))
        tg.push(updates.text_message(BY_MEANING, user_id=user))
        calls = await tg.wait_for_calls("sendMessage", n=LIMIT + 2, chat_id=user)
        assert (
            calls[-1].params["text"]
            == expected(
                Reply("crisis", "en", *[kb.crisis_text("suicide_self_harm", "en")] * 2)
            ).text
        )
        assert has_hide_button(calls[-1])
        await nothing_more(tg, user)
    check_replies(tg)


# ---- never delayed -------------------------------------------------------------------------


@pytest.mark.usefixtures("bot")
async def test_a_crisis_goes_past_the_chats_own_queue(tg: FakeTelegram) -> None:
    """The answer to the child's earlier question is still on its way: the crisis reply does
    not wait for it."""
    user = 520
    tg.delay("sendMessage", 1.0, processed=True)
    tg.push(updates.text_message(question("hotline-111", "en"), user_id=user))
    await asyncio.sleep(0.2)
    tg.push(updates.text_message(CRISIS, user_id=user))
    [first, second] = await tg.wait_for_calls("sendMessage", n=2, chat_id=user, timeout=WAIT)
    assert first.params["text"] == crisis_html(CRISIS)
    assert second.params["text"] == expected(LEXICON.answer("hotline-111", "en")).text


async def arrival_to_reply(tg: FakeTelegram, user: int, text: str) -> tuple[float, int]:
    """Push ``text`` from ``user``; (seconds until the reply arrived, replies sent meanwhile)."""
    before = len(tg.calls_of("sendMessage"))
    pushed = time.monotonic()
    tg.push(updates.text_message(text, user_id=user))
    [call] = await tg.wait_for_calls("sendMessage", chat_id=user, timeout=WAIT)
    ahead = sum(1 for c in tg.calls_of("sendMessage") if c.at < call.at) - before
    return call.at - pushed, ahead


async def test_under_load_a_crisis_is_answered_within_a_second(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    """Many children at once: their answers queue for Telegram's sending limit (here 10 a
    second, so the queue is 2.5 seconds long) and for the encoder (20 ms a message). A crisis
    the lexicon knows is answered within a second of arriving, ahead of the queue; so is one
    only the encoder recognises, once the encoder has read it."""
    encoder = FakeEncoder(seconds=0.02)
    async with running(
        tg, tmp_path, bot_responder=encoding_responder(encoder), sends_per_second=10
    ):
        users = range(600, 625)
        for user in users:
            tg.push(updates.text_message(question("hotline-111", "en"), user_id=user))
        await tg.wait_for_calls("sendMessage", n=5, timeout=WAIT)
        latency, ahead = await arrival_to_reply(tg, 700, CRISIS)
        assert latency < 1.0, f"{latency:.2f} s"
        assert ahead <= 10, "the next free slot after the first burst, not the end of the queue"
        latency, ahead = await arrival_to_reply(tg, 701, BY_MEANING)
        assert latency < 1.0, f"{latency:.2f} s"
        assert ahead < 20, "not behind the queue"
        await tg.wait_for(lambda: all(tg.sent_to(u) for u in users), 10, what="every answer")
    check_replies(tg)


async def test_a_flagged_crisis_does_not_wait_for_a_busy_encoder(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    """The encoder only picks the reply written for the kind of danger: if it cannot answer
    at once, the general crisis reply goes out without it."""
    encoder = FakeEncoder(seconds=0.6)
    async with running(tg, tmp_path, bot_responder=encoding_responder(encoder)):
        tg.push(updates.text_message("a question that keeps the encoder busy", user_id=530))
        await asyncio.sleep(0.1)
        latency, _ = await arrival_to_reply(tg, 531, CRISIS)
        assert latency < URGENT_ENCODE_WAIT + 0.3
        [call] = tg.sent_to(531)
        assert call.params["text"] == crisis_html(CRISIS), "the general crisis reply"
        encoder.seconds = 0.0
        await tg.wait_for_calls("sendMessage", chat_id=530)
        call = await reply_to(tg, updates.text_message(CRISIS, user_id=532), 532)
        by_kind = kb.crisis_text("violence", "en")
        assert call.params["text"] == expected(Reply("crisis", "en", by_kind, by_kind)).text
    check_replies(tg)


# ---- never degraded ------------------------------------------------------------------------


async def test_a_crisis_reply_outlasts_a_429_storm(tg: FakeTelegram, tmp_path: Path) -> None:
    """Telegram answers "Too Many Requests" again and again: an ordinary reply gives up after
    five retries; the crisis reply waits each one out until it is delivered, once."""
    async with running(tg, tmp_path, bot_responder=LEXICON, patience=QUICK):
        # Telegram asks for whole seconds; a twentieth keeps the test quick.
        tg.fail("sendMessage", 429, retry_after=0.05, times=8)  # type: ignore[arg-type]
        call = await reply_to(tg, updates.text_message(CRISIS, user_id=540), 540)
        assert call.params["text"] == crisis_html(CRISIS)
        assert has_hide_button(call)
        assert [c.fault for c in tg.faulted_calls] == ["429"] * 8
        await nothing_more(tg, 540)
    assert len(tg.sent_to(540)) == 1


async def test_a_crisis_reply_outlasts_an_outage(tg: FakeTelegram, tmp_path: Path) -> None:
    """Telegram fails every reply, then is unreachable altogether, for longer than an ordinary
    reply is retried. The crisis reply keeps trying and arrives once it is back: the reply
    itself, not the error message."""
    async with running(tg, tmp_path, bot_responder=LEXICON, patience=QUICK):
        tg.fail("sendMessage", 502, times=None)
        tg.push(updates.text_message(CRISIS, user_id=550))
        tg.push(updates.text_message(question("hotline-111", "en"), user_id=551))
        await tg.wait_for(
            lambda: any(c.params.get("chat_id") == 550 for c in tg.faulted_calls),
            what="the crisis reply failing",
        )
        await tg.go_away()
        await asyncio.sleep(2 * QUICK.give_up_after)
        await tg.come_back()
        await asyncio.sleep(QUICK.give_up_after)
        tg.clear_faults()
        [call] = await tg.wait_for_calls("sendMessage", chat_id=550, timeout=WAIT)
        assert call.params["text"] == crisis_html(CRISIS)
        await nothing_more(tg, 550)
    assert tg.sent_to(551) == [], "the ordinary reply (and its error message) gave up"


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("category", [*CRISIS_CATEGORIES, CONCERN, None])
def test_every_crisis_reply_in_a_private_chat_can_be_hidden(
    category: str | None, lang: str
) -> None:
    text = kb.crisis_text(category, lang) if category else kb.text("crisis", lang)
    reply = Reply("crisis", lang, text, text, category=category)
    rendered = render.reply_message(reply, kb, private=True)
    assert rendered.markup is not None
    [[button]] = rendered.markup.inline_keyboard
    assert button.callback_data in HIDE


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("key", ["error", "slow_down"])
def test_error_and_slow_down_name_both_helplines(key: str, lang: str) -> None:
    assert "111" in kb.text(key, lang) and "112" in kb.text(key, lang)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("key", ["crisis_reminder", "crisis_group"])
def test_crisis_notices_name_both_helplines(key: str, lang: str) -> None:
    assert "111" in kb.crisis_text(key, lang) and "112" in kb.crisis_text(key, lang)
