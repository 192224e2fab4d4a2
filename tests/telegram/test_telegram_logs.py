"""Logs never hold message text, names, usernames, user ids or the token."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakebot import FakeTelegram, updates
from telegram import Update
from tgharness import TOKEN, check_replies, kb, message_of, press, reply_to, responder, running

from bot.dialogue import Message, Reply
from bot.telegram import render
from bot.telegram.logs import (
    QUIET_LOGGERS,
    REDACTED_TOKEN,
    WITHHELD,
    PrivacyFilter,
    configure_logging,
    quiet_libraries,
)

SECRET_TEXT = "my neighbour Aigerim-Zhumabekova asked about 111"
CRISIS_TEXT = "my stepfather Bakhytzhan beats me"
FIRST_NAME = "Dariga-Secret-Name"
USERNAME = "dariga_secret_username"
USER_ID = 987654321
SECRETS = (TOKEN, SECRET_TEXT, "Aigerim", "Bakhytzhan", FIRST_NAME, USERNAME, str(USER_ID))


class ExplodingResponder:
    """The real responder, except that it fails, quoting the message, when asked to explode."""

    def __getattr__(self, name: str) -> Any:
        return getattr(responder, name)

    def respond(self, message: str, lang: str | None = None) -> Reply:
        if "explode" in message:
            raise ValueError(f"cannot handle {message!r} from {FIRST_NAME}")
        return responder.respond(message, lang)

    def prepare(self, message: str, lang: str | None = None) -> Message:
        if "explode" in message:
            raise ValueError(f"cannot handle {message!r} from {FIRST_NAME}")
        return responder.prepare(message, lang)


@pytest.fixture
def deployed_logging() -> Iterator[None]:
    """The library log levels ``run_bot`` sets, restored afterwards."""
    saved = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    quiet_libraries()
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def rendered_record(record: logging.LogRecord) -> str:
    text = record.getMessage()
    if record.exc_info:
        text += logging.Formatter().formatException(record.exc_info)
    return text + (record.exc_text or "") + (record.stack_info or "")


@pytest.mark.usefixtures("deployed_logging")
async def test_a_whole_conversation_logs_nothing_personal(
    tg: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    who: dict[str, Any] = {
        "user_id": USER_ID,
        "first_name": FIRST_NAME,
        "username": USERNAME,
        "language_code": "ru",
    }
    async with running(tg, tmp_path, bot_responder=ExplodingResponder()):  # type: ignore[arg-type]
        await reply_to(tg, updates.command("/start", **who), USER_ID)
        await reply_to(tg, updates.text_message(SECRET_TEXT, **who), USER_ID)
        tg.fail("sendMessage", 502)
        crisis = await reply_to(tg, updates.text_message(CRISIS_TEXT, **who), USER_ID)
        await press(tg, "v1:h:en", message_of(tg, crisis), **who)
        hidden = render.notice(kb, "chat_hidden", "en").text
        await tg.wait_for_calls("sendMessage", chat_id=USER_ID, text=hidden)
        await reply_to(tg, updates.sticker(**who), USER_ID)
        failed = await reply_to(tg, updates.text_message(f"explode {SECRET_TEXT}", **who), USER_ID)
        assert failed.params["text"] == render.notice(kb, "error", "ru").text
        tg.push(updates.inline_query(SECRET_TEXT, user_id=USER_ID, first_name=FIRST_NAME))
        tg.push(updates.mention_in_group(SECRET_TEXT, **who))
        tg.push(updates.raw(message={"message_id": 1, "text": SECRET_TEXT}))  # unreadable
        await tg.wait_for(lambda: tg.answered_queries and tg.sent_to(updates.DEFAULT_GROUP_ID))
    check_replies(tg)
    assert caplog.records
    for record in caplog.records:
        text = rendered_record(record)
        leaked = [secret for secret in SECRETS if secret in text]
        assert not leaked, f"{leaked} in {record.name}: {text[:300]}"
    # One INFO line per update; our own bug (the exploding responder) is an ERROR of its own.
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name == "bot.telegram.logs" and r.levelno == logging.INFO
    ]
    assert len(lines) == 9, "one line per update"
    assert all(
        re.fullmatch(r"update=[a-z_/]+ lang=(en|ru|kk|-) reply=[a-z_]+ ms=[\d.]+", x) for x in lines
    )
    assert "update=message/command lang=ru reply=greeting" in lines[0]
    assert any("reply=crisis" in line for line in lines)
    assert any("reply=error" in line for line in lines)
    assert any(
        r.levelno == logging.ERROR and "ValueError" in r.getMessage() for r in caplog.records
    )


def record(msg: str, args: Any = (), exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord(
        "telegram.ext.Updater", logging.CRITICAL, __file__, 1, msg, args, exc_info
    )


def filtered(item: logging.LogRecord) -> str:
    assert PrivacyFilter().filter(item) is True
    return logging.Formatter().format(item)


def test_filter_withholds_raw_updates_and_telegram_objects() -> None:
    data = {"update_id": 1, "message": {"text": SECRET_TEXT}}
    assert filtered(record("Received data was: %r", (data,))) == f"Received data was: {WITHHELD}"
    assert filtered(record("Updates: %s", ([data],))) == f"Updates: {WITHHELD}"
    update = Update.de_json(data | {"message": None}, None)
    assert filtered(record("Processing update %s", (update,))) == f"Processing update {WITHHELD}"
    assert (
        filtered(record("%(kind)s took %(ms)d ms", {"kind": "message", "ms": 5}))
        == "message took 5 ms"
    )


def test_filter_redacts_tokens_in_messages_and_tracebacks() -> None:
    url = f"https://api.telegram.org/bot{TOKEN}/getMe"
    assert (
        filtered(record("POST %s", (url,)))
        == f"POST https://api.telegram.org/bot{REDACTED_TOKEN}/getMe"
    )
    try:
        raise RuntimeError(f"cannot reach {url}")
    except RuntimeError as error:
        text = filtered(record("failed", exc=error))
    assert TOKEN not in text and REDACTED_TOKEN in text


def test_filter_survives_a_broken_format_string() -> None:
    assert "%d" in filtered(record("broken %d", ("not a number",)))


def test_configure_logging_installs_the_filter_once() -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    handler = logging.StreamHandler()
    root.handlers = [handler]
    try:
        configure_logging("debug")
        configure_logging("DEBUG")
        assert [type(f) for f in handler.filters] == [PrivacyFilter]
        assert root.level == logging.DEBUG
        assert all(logging.getLogger(n).level == logging.WARNING for n in QUIET_LOGGERS)
        configure_logging("nonsense")
        assert root.level == logging.INFO
    finally:
        root.handlers, root.level = saved_handlers, saved_level
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
