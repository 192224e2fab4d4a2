"""Running the real bot against the fake Bot API server, and checking what it sent.

Imported by the tests in this folder (pytest puts the folder on ``sys.path``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fakebot import Call, FakeTelegram, telegram_html_error, updates
from shared import shipped_responder
from telegram import Update
from telegram.ext import Application

from bot.config import Settings
from bot.dialogue import Reply, Responder
from bot.telegram import render
from bot.telegram.app import build_application
from bot.telegram.context import SERVICES

TOKEN = "123456:" + "A" * 35
BOT_USERNAME = updates.BOT_USERNAME
GROUP = updates.DEFAULT_GROUP_ID
LANGS = ("en", "ru", "kk")
#: Long enough for any reply to arrive; short enough to keep a failing test quick.
WAIT = 5.0
#: How long "nothing more arrives" is watched for.
QUIET = 0.25

responder: Responder = shipped_responder()
kb = responder.kb


class Clock:
    """A clock the test moves by hand (``clock.now += 60``)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def settings_for(tg: FakeTelegram, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"token": TOKEN, "api_base_url": tg.base_url, "data_dir": data_dir}
    values.update(overrides)
    return Settings(**values)


@contextlib.asynccontextmanager
async def running(
    tg: FakeTelegram,
    data_dir: Path,
    *,
    bot_responder: Responder | None = None,
    sends_per_second: float = 0,
    **options: Any,
) -> AsyncIterator[Application]:
    """The real Application polling the fake, started in ``run_polling``'s order (but asking
    for every update type: stricter than production). ``options`` go to build_application."""
    app = build_application(
        settings_for(tg, data_dir),
        kb,
        responder=bot_responder or responder,
        sends_per_second=sends_per_second,
        **options,
    )
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES)
    await app.start()
    try:
        yield app
    finally:
        await stop(app)


async def stop(app: Application) -> None:
    """What ``run_polling`` does on SIGTERM: stop fetching, finish pending updates, flush."""
    if app.updater is not None and app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
    await app.shutdown()
    app.bot_data[SERVICES].encoder.close()


def sent_texts(tg: FakeTelegram, chat_id: int) -> list[str]:
    return tg.texts_to(chat_id)


def check_replies(tg: FakeTelegram) -> None:
    """Every text the bot sent or edited is HTML Telegram accepts; no call was rejected."""
    tg.assert_no_errors()
    for call in tg.calls:
        if call.method in ("sendMessage", "editMessageText"):
            problem = telegram_html_error(call.params["text"])
            assert problem is None, f"{problem}: {call.params['text'][:200]!r}"


async def reply_to(
    tg: FakeTelegram, update: dict[str, Any], chat_id: int, method: str = "sendMessage"
) -> Call:
    """Push ``update`` and return the bot's next ``method`` call in ``chat_id``."""
    before = len([c for c in tg.calls_of(method) if c.params.get("chat_id") == chat_id])
    tg.push(update)
    calls = await tg.wait_for_calls(method, n=before + 1, timeout=WAIT, chat_id=chat_id)
    return calls[before]


async def press(tg: FakeTelegram, data: str, message: dict[str, Any], **kwargs: Any) -> str:
    """Press a button with ``data`` on ``message``; returns the callback query id."""
    update = updates.callback_query(data, message=message, **kwargs)
    query_id = update["callback_query"]["id"]
    tg.push(update)
    await tg.wait_for(lambda: query_id in tg.answered_queries, WAIT, what=f"answer to {data}")
    return query_id


async def nothing_more(tg: FakeTelegram, chat_id: int) -> None:
    """Wait a moment and fail if the bot sends or edits anything else in ``chat_id``."""
    before = len(tg.calls)
    await asyncio.sleep(QUIET)
    extra = [
        c
        for c in tg.calls[before:]
        if c.ok
        and c.method in ("sendMessage", "editMessageText")
        and c.params.get("chat_id") == chat_id
    ]
    assert not extra, f"unexpected: {[(c.method, c.params.get('text')) for c in extra]}"


def buttons(call_or_message: Call | dict[str, Any]) -> list[tuple[str, str]]:
    """(label, callback data) of every button of a sent message or a recorded call."""
    source = call_or_message.params if isinstance(call_or_message, Call) else call_or_message
    markup = source.get("reply_markup") or {}
    return [
        (button["text"], button.get("callback_data", ""))
        for row in markup.get("inline_keyboard", [])
        for button in row
    ]


def message_of(tg: FakeTelegram, call: Call) -> dict[str, Any]:
    """The stored message a sendMessage call created (to press its buttons)."""
    return tg.messages[(call.result["chat"]["id"], call.result["message_id"])]


def expected(reply: Reply, *, private: bool = True) -> render.Rendered:
    return render.reply_message(reply, kb, private=private)


def question(entry_id: str, lang: str) -> str:
    """An entry's own first question: it is answered by that entry."""
    return kb.entries[entry_id].title(lang)


def text_of_kind(kind: str, lang: str, candidates: dict[str, list[str]]) -> str:
    """The first candidate that ``respond()`` answers with ``kind`` in ``lang``."""
    for text in candidates[lang]:
        reply = responder.respond(text)
        if reply.kind == kind and reply.lang == lang:
            return text
    raise AssertionError(f"no candidate gives a {kind} reply in {lang}; update the candidates")


CLARIFY_CANDIDATES = {
    "en": ["what are my rights at school and at home", "rights of children at school", "rights"],
    "ru": [
        "зачем вообще нужен день защиты детей",
        "на что можно потратить деньги из нацфонда детям",
    ],
    "kk": ["балалар құқығы", "құқық", "балалар"],
}
FALLBACK_CANDIDATES = {
    "en": ["How do I fix my bicycle chain?", "best pizza recipe with mushrooms"],
    "ru": ["Как починить цепь велосипеда?", "рецепт пиццы с грибами"],
    "kk": ["Велосипед шынжырын қалай жөндеуге болады?", "саңырауқұлақ қосылған пицца рецепті"],
}
CRISIS_CANDIDATES = {
    "en": ["my father beats me", "I want to die"],
    "ru": ["отчим бьет меня", "хочу умереть"],
    "kk": ["әкем мені ұрады", "өлгім келеді"],
}
