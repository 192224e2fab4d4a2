"""Tests of the fake Telegram Bot API server, driven by a real PTB ``Bot``/``Application``."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from fakebot import FakeTelegram, parse_html, telegram_html_error, updates, visible_text
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

TOKEN = "123:ABC"


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without it PTB 22 warns (PTBDeprecationWarning) while *constructing* RetryAfter, which
    # `filterwarnings = error` turns into an exception replacing the RetryAfter.
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=tg.base_url, base_file_url=tg.base_file_url) as client:
        yield client


def build_app(tg: FakeTelegram) -> Application:
    return ApplicationBuilder().token(TOKEN).base_url(tg.base_url).build()


@contextlib.asynccontextmanager
async def polling(app: Application) -> AsyncIterator[Application]:
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.message.reply_text(f"echo: {update.message.text}")


# ---- basic API behaviour ------------------------------------------------------------------------


async def test_get_me_and_tokens(tg: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (999, "kidsrights_test_bot", True)
    assert me.supports_inline_queries and me.can_join_groups
    assert tg.tokens_seen == {TOKEN}


async def test_raw_protocol_shapes(tg: FakeTelegram) -> None:
    """Case-insensitive methods, 404 for unknown ones, and JSON/form/multipart bodies."""
    tg.push(updates.text_message("hi", user_id=7))
    base = f"{tg.base_url}other:token"
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{base}/GETME")
        assert response.json()["result"]["id"] == 999
        response = await client.post(f"{base}/noSuchMethod")
        assert response.status_code == 404
        assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        markup = '{"inline_keyboard": [[{"text": "a", "callback_data": "b"}]]}'
        json_body = {"chat_id": "7", "text": "json", "reply_markup": markup}
        response = await client.post(f"{base}/sendMessage", json=json_body)
        assert response.json()["result"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "a"
        form = {"chat_id": "7", "text": "[1, 2]", "disable_notification": "true"}
        await client.post(f"{base}/sendMessage", data=form)
        await client.post(f"{base}/sendMessage", data=form, files={"doc": ("a.txt", b"abc")})
    sent = tg.calls_of("sendMessage")
    assert [c.params["text"] for c in sent] == ["json", "[1, 2]", "[1, 2]"]
    assert sent[1].params["chat_id"] == 7 and sent[1].params["disable_notification"] is True
    assert sent[2].params["doc"] == {"filename": "a.txt", "content_type": "text/plain", "size": 3}
    assert tg.tokens_seen == {"other:token"}


async def test_message_ids_are_per_chat_and_shared_with_user(tg: FakeTelegram, bot: Bot) -> None:
    first = tg.push_message("hello", user_id=42)
    tg.push(updates.text_message("again", user_id=42))
    other = tg.push_message("hi", user_id=43)
    assert (first["message_id"], other["message_id"]) == (1, 1)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="yes")]])
    sent = await bot.send_message(
        42, "<b>Hi</b> &amp; bye", parse_mode="HTML", reply_markup=keyboard
    )
    assert sent.message_id == 3 and sent.chat.id == 42 and sent.from_user.id == 999
    assert sent.text == "Hi & bye" and sent.text_html == "<b>Hi</b> &amp; bye"
    assert sent.reply_markup == keyboard
    assert tg.user_messages == {42: [1, 2], 43: [1]}
    assert tg.bot_messages == {42: [3]}
    assert [c.params["chat_id"] for c in tg.sent_to(42)] == [42]
    assert tg.texts_to(42) == ["<b>Hi</b> &amp; bye"]
    reply = await bot.send_message(42, "re", reply_parameters={"message_id": 1})
    assert reply.reply_to_message.text == "hello"


async def test_validation_errors_surface_as_bad_request(tg: FakeTelegram, bot: Bot) -> None:
    chat = tg.push_message("hi", user_id=5)["chat"]["id"]
    button = InlineKeyboardButton
    cases = [
        (dict(text="<b>unclosed", parse_mode="HTML"), "Can't parse entities"),
        (dict(text="   "), "Message text is empty"),
        (dict(text="x" * 4097), "Message is too long"),
        (
            dict(
                text="x", reply_markup=InlineKeyboardMarkup([[button("k", callback_data="я" * 33)]])
            ),
            "Button_data_invalid",  # PTB .capitalize()s Telegram's "BUTTON_DATA_INVALID"
        ),
        (
            dict(text="x", reply_markup=InlineKeyboardMarkup([[button("k")]])),
            "text buttons are unallowed",
        ),
        (
            dict(
                text="x",
                reply_markup=InlineKeyboardMarkup(
                    [[button("k", callback_data="a", url="https://example.com")]]
                ),
            ),
            "exactly one action field",
        ),
    ]
    for kwargs, message in cases:
        with pytest.raises(BadRequest, match=message):
            await bot.send_message(chat, **kwargs)
    # Telegram counts the visible text: 4096 characters of it fit whatever the markup weighs.
    await bot.send_message(chat, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    await bot.send_message(
        chat, "ok", reply_markup=InlineKeyboardMarkup([[button("k", callback_data="я" * 32)]])
    )
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(12345, "nobody talked to us here")
    assert len(tg.errors) == len(cases) + 1
    assert len(tg.calls_of("sendMessage")) == 2


async def test_edit_and_delete_rules(tg: FakeTelegram, bot: Bot) -> None:
    user_msg = tg.push_message("question", user_id=9)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data="more")]])
    sent = await bot.send_message(9, "answer", reply_markup=keyboard)
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("answer", 9, sent.message_id, reply_markup=keyboard)
    edited = await bot.edit_message_text("answer", 9, sent.message_id)  # drops the keyboard
    assert edited.reply_markup is None and tg.last_bot_message(9).get("reply_markup") is None
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", 9, 999)
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("x", 9, user_msg["message_id"])
    await bot.edit_message_reply_markup(9, sent.message_id, reply_markup=keyboard)
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(9, sent.message_id, reply_markup=keyboard)
    assert await bot.delete_message(9, sent.message_id)
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(9, sent.message_id)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", 9, sent.message_id)
    assert await bot.delete_messages(9, [user_msg["message_id"], 777])
    assert tg.deleted == {(9, sent.message_id), (9, user_msg["message_id"])}
    assert tg.chat_log(9) == []


async def test_blocked_user_gets_forbidden(tg: FakeTelegram, bot: Bot) -> None:
    tg.push_message("hi", user_id=3)
    tg.push(updates.my_chat_member("kicked", user_id=3))
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(3, "still there?")


async def test_queries_commands_and_chat_actions(tg: FakeTelegram, bot: Bot) -> None:
    tg.push_message("hi", user_id=4)
    sent = await bot.send_message(
        4,
        "pick",
        reply_markup=InlineKeyboardMarkup.from_button(InlineKeyboardButton("a", callback_data="a")),
    )
    update_id = tg.push(updates.callback_query("a", message=tg.last_bot_message(4)))
    query = tg.pushed[update_id]["callback_query"]
    assert query["from"]["id"] == 4 and query["message"]["message_id"] == sent.message_id
    assert await bot.answer_callback_query(query["id"], text="ok")
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query["id"])  # answered already
    inline_id = tg.push(updates.inline_query("rights", user_id=4))
    inline = tg.pushed[inline_id]["inline_query"]["id"]

    def article(result_id: str, text: str = "hi") -> InlineQueryResultArticle:
        content = InputTextMessageContent(text, parse_mode="HTML")
        return InlineQueryResultArticle(result_id, "title", content)

    with pytest.raises(BadRequest, match="Results_too_much"):
        await bot.answer_inline_query(inline, [article(str(i)) for i in range(51)])
    with pytest.raises(BadRequest, match="Result_id_duplicate"):
        await bot.answer_inline_query(inline, [article("1"), article("1")])
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.answer_inline_query(inline, [article("1", "<p>no</p>")])
    assert await bot.answer_inline_query(inline, [article("1"), article("2")])
    await bot.set_my_commands([("start", "Start"), ("help", "Help")])
    await bot.set_my_commands([("start", "Начать")], language_code="ru")
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    assert [c.description for c in await bot.get_my_commands(language_code="ru")] == ["Начать"]
    assert await bot.get_my_commands(language_code="kk") == ()
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([("Start", "bad: uppercase")])
    assert await bot.send_chat_action(4, "typing")
    assert (await bot.get_chat(4)).first_name == "Test"


# ---- long polling ------------------------------------------------------------------------------


async def test_get_updates_long_poll_and_offset(tg: FakeTelegram, bot: Bot) -> None:
    assert await bot.get_updates(timeout=0) == ()
    started = time.monotonic()
    assert await bot.get_updates(timeout=0.3) == ()
    assert time.monotonic() - started >= 0.28

    async def push_later() -> None:
        await asyncio.sleep(0.2)
        tg.push(updates.text_message("first", user_id=1))
        tg.push(updates.text_message("second", user_id=1))

    task = asyncio.create_task(push_later())
    started = time.monotonic()
    got = await bot.get_updates(timeout=5)
    await task
    assert time.monotonic() - started < 2, "the push must wake the pending long poll"
    assert [u.message.text for u in got] == ["first", "second"]
    assert [u.message.text for u in await bot.get_updates(limit=1)] == ["first"]
    # Confirming with offset drops earlier updates for good.
    again = await bot.get_updates(offset=got[0].update_id + 1, timeout=0)
    assert [u.message.text for u in again] == ["second"]
    assert [u.message.text for u in await bot.get_updates(timeout=0)] == ["second"]
    await bot.get_updates(offset=got[1].update_id + 1, timeout=0)
    assert tg.pending_updates == []


async def test_allowed_updates_filter(tg: FakeTelegram, bot: Bot) -> None:
    tg.push(updates.callback_query("x"))
    tg.push(updates.text_message("kept"))
    got = await bot.get_updates(timeout=0, allowed_updates=["message"])
    assert [u.message.text for u in got] == ["kept"]
    assert [u["callback_query"]["data"] for u in tg.filtered_updates] == ["x"]


async def test_second_poller_and_webhook_conflict(tg: FakeTelegram, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=3))
    await asyncio.sleep(0.1)
    async with Bot(TOKEN, base_url=tg.base_url) as other:
        second = asyncio.create_task(other.get_updates(timeout=0.2))
        with pytest.raises(Conflict, match="terminated by other getUpdates"):
            await first
        assert await second == ()
        await other.set_webhook("https://bot.example.com/hook", secret_token="s3cret")
        with pytest.raises(Conflict, match="webhook is active"):
            await other.get_updates(timeout=0)
        info = await other.get_webhook_info()
        assert info.url == "https://bot.example.com/hook" and tg.webhook["secret_token"] == "s3cret"


# ---- faults ------------------------------------------------------------------------------------


async def test_rate_limit_is_retry_after(tg: FakeTelegram, bot: Bot) -> None:
    tg.push_message("hi", user_id=2)
    tg.fail("sendMessage", 429, retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(2, "one")
    assert caught.value.retry_after == dtm.timedelta(seconds=7)
    await bot.send_message(2, "two")
    assert tg.texts_to(2) == ["two"]
    assert [(c.method, c.fault) for c in tg.faulted_calls] == [("sendMessage", "429")]


async def test_server_errors_are_network_errors(tg: FakeTelegram, bot: Bot) -> None:
    tg.push_message("hi", user_id=2)
    tg.fail("sendMessage", 500)
    tg.fail("sendMessage", 502)
    for description in ("Internal Server Error", "Bad Gateway"):
        with pytest.raises(NetworkError, match=description):
            await bot.send_message(2, "x")
    assert tg.calls_of("sendMessage", ok=None) == []


async def test_dropped_connection_is_network_error(tg: FakeTelegram, bot: Bot) -> None:
    tg.push_message("hi", user_id=2)
    tg.drop_connections("sendMessage")
    with pytest.raises(NetworkError, match="RemoteProtocolError"):
        await bot.send_message(2, "lost")
    assert tg.calls_of("sendMessage") == [] and tg.faulted_calls[0].fault == "drop"
    # processed=True: Telegram delivered the message, only the answer was lost.
    tg.drop_connections("sendMessage", processed=True)
    with pytest.raises(NetworkError):
        await bot.send_message(2, "delivered")
    assert tg.texts_to(2) == ["delivered"]


async def test_delay_makes_client_time_out(tg: FakeTelegram) -> None:
    tg.push_message("hi", user_id=2)
    request = HTTPXRequest(read_timeout=0.3)
    async with Bot(TOKEN, base_url=tg.base_url, request=request) as slow_bot:
        tg.delay("sendMessage", 2.0)
        started = time.monotonic()
        with pytest.raises(TimedOut):
            await slow_bot.send_message(2, "slow")
        assert time.monotonic() - started < 1.5
        await tg.wait_for(lambda: tg.faulted_calls)
        assert tg.calls_of("sendMessage") == [] and tg.faulted_calls[0].fault == "delay"
        tg.delay("sendMessage", 0.1)
        await slow_bot.send_message(2, "just in time")
        assert tg.texts_to(2) == ["just in time"]
        # processed=True: the slow answer was lost but the message did reach the chat.
        tg.delay("sendMessage", 1.0, processed=True)
        with pytest.raises(TimedOut):
            await slow_bot.send_message(2, "sent twice?")
        await tg.wait_for(lambda: len(tg.faulted_calls) == 2)
        assert tg.texts_to(2) == ["just in time", "sent twice?"]


async def test_go_away_and_come_back_on_same_port(tg: FakeTelegram, bot: Bot) -> None:
    port = tg.port
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    await tg.go_away()
    with pytest.raises(NetworkError):
        await poll  # the pending long poll is cut off, not answered
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the port must refuse connections"
    tg.push(updates.text_message("queued while away"))
    with pytest.raises(NetworkError):
        await bot.get_me()
    await tg.come_back()
    assert tg.port == port
    assert [u.message.text for u in await bot.get_updates(timeout=0)] == ["queued while away"]


async def test_wait_for_reports_what_happened(tg: FakeTelegram, bot: Bot) -> None:
    tg.push_message("hi", user_id=2)
    await bot.send_message(2, "only one")
    with pytest.raises(AssertionError, match=r"(?s)2 successful sendMessage.*only one"):
        await tg.wait_for_calls("sendMessage", n=2, timeout=0.2)
    assert len(await tg.wait_for_calls("sendMessage", chat_id=2)) == 1
    tg.clear()
    assert tg.calls == []


async def test_closing_answers_pending_long_poll() -> None:
    async with FakeTelegram() as server, Bot(TOKEN, base_url=server.base_url) as client:
        poll = asyncio.create_task(client.get_updates(timeout=10))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await server.aclose()
        assert await poll == ()
        assert time.monotonic() - started < 1


# ---- a real Application against the fake -------------------------------------------------------


async def test_application_echo_over_polling(tg: FakeTelegram) -> None:
    app = build_app(tg)

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        keyboard = InlineKeyboardMarkup.from_button(InlineKeyboardButton("Go", callback_data="go"))
        await update.message.reply_text(f"start {context.args}", reply_markup=keyboard)

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.callback_query.answer()
        await update.callback_query.edit_message_text(f"pressed {update.callback_query.data}")

    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    async with polling(app):
        for text in ("one", "two", "three"):
            tg.push(updates.text_message(text, user_id=11))
        await tg.wait_for_calls("sendMessage", n=3, chat_id=11)
        assert tg.texts_to(11) == ["echo: one", "echo: two", "echo: three"]
        tg.push(updates.command("/start payload", user_id=12))
        tg.push(updates.command("/start", chat_type="supergroup", user_id=12))
        await tg.wait_for_calls("sendMessage", text="start ['payload']")
        await tg.wait_for_calls("sendMessage", chat_id=updates.DEFAULT_GROUP_ID)
        tg.push(updates.callback_query("go", message=tg.last_bot_message(12)))
        await tg.wait_for_calls("editMessageText", chat_id=12)
        assert tg.last_bot_message(12)["text"] == "pressed go"
        assert tg.answered_queries
    tg.assert_no_errors()
    assert tg.pending_updates == [], "the updater confirms what it fetched when it stops"


async def test_polling_resumes_after_outage(tg: FakeTelegram) -> None:
    app = build_app(tg)
    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with polling(app):
        tg.push(updates.text_message("before", user_id=21))
        await tg.wait_for_calls("sendMessage", chat_id=21)
        await tg.offline_for(0.3)
        tg.push(updates.text_message("after", user_id=21))
        # PTB sleeps 1 s after the first failed poll (then 1.5, 2.25, ... up to 30 s).
        await tg.wait_for_calls("sendMessage", n=2, chat_id=21, timeout=5)
    assert tg.texts_to(21) == ["echo: before", "echo: after"]


async def test_webhook_delivery(tg: FakeTelegram) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    app = build_app(tg)
    app.add_handler(MessageHandler(filters.TEXT, echo))
    url = f"http://127.0.0.1:{port}/hook"
    await app.initialize()
    await app.start()
    await app.updater.start_webhook(
        listen="127.0.0.1", port=port, url_path="hook", webhook_url=url, secret_token="s3cret"
    )
    try:
        assert tg.webhook["url"] == url
        status = await tg.post_update_to(url, updates.text_message("hook", user_id=31), "s3cret")
        assert status == 200
        await tg.wait_for_calls("sendMessage", chat_id=31)
        assert await tg.post_update_to(url, updates.text_message("x", user_id=31), "wrong") == 403
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert tg.texts_to(31) == ["echo: hook"]


async def test_factories_parse_in_ptb(tg: FakeTelegram, bot: Bot) -> None:
    hello = tg.push(updates.text_message("hi", user_id=1))
    await bot.send_message(1, "bot says")
    await bot.get_updates(offset=hello + 1, timeout=0)  # confirm (drop) the "hi" update
    made = [
        updates.text_message("hi"),
        updates.command("/start@kidsrights_test_bot x", chat_type="group"),
        updates.mention_in_group("what are my rights?"),
        updates.callback_query("data", message=tg.last_bot_message(1)),
        updates.inline_query("q"),
        updates.sticker(),
        updates.photo(caption="c"),
        updates.voice(),
        updates.document(),
        updates.edited_message("changed", message_id=1),
        updates.channel_post("news"),
        updates.forwarded_from_channel("fwd"),
        updates.my_chat_member("kicked"),
        updates.without(updates.text_message("anon"), "message.from"),
        updates.without(updates.callback_query("x"), "callback_query.inline_message_id"),
    ]
    for update in made:
        tg.push(update)
    got = await bot.get_updates(timeout=0)
    assert len(got) == len(made)
    by_kind = {u.update_id: u for u in got}
    first = min(by_kind)
    command = by_kind[first + 1].message
    assert command.entities[0].type == "bot_command" and command.text.startswith("/start@")
    mention = by_kind[first + 2].message
    assert mention.parse_entity(mention.entities[0]) == "@kidsrights_test_bot"
    assert by_kind[first + 3].callback_query.message.text == "bot says"
    assert by_kind[first + 9].edited_message.text == "changed"
    assert by_kind[first + 10].effective_user is None
    assert by_kind[first + 11].message.forward_origin.type == "channel"
    assert by_kind[first + 13].message.from_user is None
    assert by_kind[first + 14].callback_query.message is None
    assert tg.messages[(1, 1)]["text"] == "changed"


# ---- the HTML validator ------------------------------------------------------------------------

VALID_HTML = [
    "plain text",
    "<b>b</b> <strong>s</strong> <i>i</i> <em>e</em> <u>u</u> <ins>i</ins> <s>s</s> <del>d</del>",
    '<tg-spoiler>x</tg-spoiler> <span class="tg-spoiler">y</span> <strike>z</strike>',
    '<a href="https://example.com/?a=1&b=2">a lenient URL</a>',
    '<pre><code class="language-python">print(1 &lt; 2)</code></pre> <code>x</code>',
    "<blockquote expandable>long quote</blockquote><blockquote>q</blockquote>",
    "&lt;tag&gt; &amp; &quot; &#39; &#x1F600; 5 > 3",
    "<B>upper case tags</B> <b>nested <i>fine</i></b> <b>empty end tag</>",
    '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>',
    "<b>" + "x" * 4096 + "</b>",
]

INVALID_HTML = [
    ("a < b", 'Unsupported start tag "" at byte offset 2'),
    ("line<br>break", 'Unsupported start tag "br" at byte offset 4'),
    ("é<p>", 'Unsupported start tag "p" at byte offset 2'),
    ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
    ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
    ("</b>", "Unexpected end tag at byte offset 0"),
    ("<b", "Unclosed start tag at byte offset 0"),
    ("<b>x</b", "Unclosed end tag at byte offset 4"),
    ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
    ("<a href=https://x.com>x</a>", "Unexpected end of name token at byte offset 8"),
    ("Tom & Jerry", 'Unescaped "&" at byte offset 4'),
    ("&nbsp;", 'Unescaped "&"'),
    ("&amp without semicolon", 'Unescaped "&"'),
    ('<tg-emoji emoji-id="abc">x</tg-emoji>', "Invalid custom emoji identifier specified"),
    ("", "message text is empty"),
    ("<b> \n </b>", "message text is empty"),
    ("x" * 4097, "message is too long"),
]


@pytest.mark.parametrize("html", VALID_HTML)
def test_valid_html(html: str) -> None:
    assert telegram_html_error(html) is None


@pytest.mark.parametrize(("html", "error"), INVALID_HTML)
def test_invalid_html(html: str, error: str) -> None:
    description = telegram_html_error(html)
    assert description is not None and description.startswith("Bad Request: ")
    assert error in description


def test_visible_text_and_entities() -> None:
    assert visible_text("<b>a</b> &amp; <i>b</i>") == "a & b"
    text, entities = parse_html(
        '😀 <b>x</b> <a href="https://e.com">l</a> <pre><code class="language-py">c</code></pre>'
    )
    assert text == "😀 x l c"
    assert entities == [
        {"offset": 3, "length": 1, "type": "bold"},  # UTF-16 offsets: the emoji counts 2
        {"offset": 5, "length": 1, "type": "text_link", "url": "https://e.com"},
        {"offset": 7, "length": 1, "type": "pre", "language": "py"},
    ]
    assert telegram_html_error("Tom & Jerry", strict=False) is None
