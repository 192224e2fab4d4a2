"""Nothing lost, nobody locked out: updates confirmed only once handled, no double answers,
"Hide this chat" after a restart and with a slow Telegram, storage that is damaged, read-only
or full. End to end against the fake Bot API server, which keeps an update pending until a later
getUpdates confirms it, as Telegram does."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fakebot import FakeTelegram, updates
from telegram import Update
from tgharness import (
    CRISIS_CANDIDATES,
    Clock,
    check_replies,
    kb,
    message_of,
    press,
    question,
    reply_to,
    responder,
    settings_for,
    stop,
)

from bot import storage
from bot.storage import BUCKET, DELETABLE_FOR, STATE_FILE, UPDATES_FILE, FileStore
from bot.telegram import render
from bot.telegram.app import build_application
from bot.telegram.intake import BotApplication, ConfirmingUpdater

QUESTION = question("hotline-111", "en")
CRISIS = CRISIS_CANDIDATES["en"][0]


@contextlib.asynccontextmanager
async def bot_at(tg: FakeTelegram, data_dir: Path, **options: Any) -> AsyncIterator[BotApplication]:
    """The real bot polling the fake (as ``tgharness.running``), with build options."""
    app = build_application(
        settings_for(tg, data_dir), kb, responder=responder, sends_per_second=0, **options
    )
    await app.initialize()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES)
    await app.start()
    try:
        yield app
    finally:
        await stop(app)


async def confirmed(tg: FakeTelegram) -> None:
    await tg.wait_for(lambda: not tg.pending_updates, what="every update confirmed")


# ---- every received message answered, once -------------------------------------------------


async def test_an_update_stays_pending_until_it_was_handled(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    tg.delay("sendMessage", 0.5)  # the reply takes a while
    async with bot_at(tg, tmp_path):
        update_id = tg.push(updates.text_message(QUESTION, user_id=300))
        await tg.wait_for(lambda: [c for c in tg.calls_of("getUpdates") if c.result], 2)
        await asyncio.sleep(0.3)  # the bot polls meanwhile; it must not confirm the update
        assert [u["update_id"] for u in tg.pending_updates] == [update_id]
        await tg.wait_for_calls("sendMessage", chat_id=300)
        await confirmed(tg)
    check_replies(tg)


async def test_an_update_delivered_again_is_not_answered_again(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    """As after a crash (Telegram sends what was not confirmed) or a webhook retry."""
    async with bot_at(tg, tmp_path):
        update = updates.text_message(QUESTION, user_id=301)
        update["update_id"] = tg.push(update)
        await tg.wait_for_calls("sendMessage", chat_id=301)
        await confirmed(tg)
        tg.push(update)  # the same update_id again
        await confirmed(tg)
    async with bot_at(tg, tmp_path):  # and after a restart
        tg.push(update)
        tg.push(updates.text_message(QUESTION, user_id=302))
        await tg.wait_for_calls("sendMessage", chat_id=302)
        await confirmed(tg)
    assert len(tg.sent_to(301)) == 1
    check_replies(tg)


async def test_a_slow_telegram_gives_at_most_one_duplicate(
    tg: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every call slower than the read timeout (as 6 s against PTB's 5 s used to be): each
    reply is sent once and resent once, not again and again; no error notice follows it."""
    tg.delay("sendMessage", 0.6, times=None, processed=True)
    users = range(310, 315)
    async with bot_at(tg, tmp_path, read_timeout=0.3):
        for user in users:
            tg.push(updates.text_message(QUESTION, user_id=user))
        await tg.wait_for(lambda: not tg.pending_updates, 10, what="every update handled")
    for user in users:
        texts = [
            c.params["text"] for c in tg.calls_of("sendMessage") if c.params["chat_id"] == user
        ]
        assert 1 <= len(texts) <= 2 and len(set(texts)) == 1, texts
    assert "Traceback" not in caplog.text
    assert "not delivered: Telegram unreachable (TimedOut)" in caplog.text


async def test_a_slow_telegram_within_the_read_timeout_answers_once(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    tg.delay("sendMessage", 0.4, times=None)
    users = range(320, 330)
    async with bot_at(tg, tmp_path, read_timeout=2.0):
        for user in users:
            tg.push(updates.text_message(QUESTION, user_id=user))
        await tg.wait_for(lambda: all(tg.sent_to(u) for u in users), 10, what="every reply")
        await confirmed(tg)
    assert [len(tg.sent_to(u)) for u in users] == [1] * len(users)
    assert not tg.faulted_calls


# ---- "Hide this chat" keeps its word --------------------------------------------------------


async def test_hide_after_a_restart_deletes_the_earlier_messages(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    async with bot_at(tg, tmp_path):
        await reply_to(tg, updates.text_message(QUESTION, user_id=340), 340)
        crisis = await reply_to(tg, updates.text_message(CRISIS, user_id=340), 340)
        await confirmed(tg)
    async with bot_at(tg, tmp_path):
        await press(tg, "v1:h:en", message_of(tg, crisis))
        await tg.wait_for(lambda: len(tg.chat_log(340)) == 1, what="only the notice left")
    [left] = tg.chat_log(340)
    assert left["text"] == kb.text("chat_hidden", "en")
    check_replies(tg)


async def test_hide_with_a_slow_telegram_deletes_every_copy(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    """The crisis reply times out once and is sent twice; both copies go."""
    async with bot_at(tg, tmp_path, read_timeout=0.3):
        tg.delay("sendMessage", 0.6, processed=True)
        tg.push(updates.text_message(CRISIS, user_id=341))
        copies = await tg.wait_for_calls("sendMessage", n=1, chat_id=341)
        await confirmed(tg)
        assert len(tg.bot_messages[341]) == 2, "sent, timed out, sent again"
        await press(tg, "v1:h:en", message_of(tg, copies[0]))
        await tg.wait_for(lambda: len(tg.chat_log(341)) == 1, what="only the notice left")
    assert tg.chat_log(341)[0]["text"] == kb.text("chat_hidden", "en")


async def test_hide_says_honestly_what_could_not_be_deleted(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    async with bot_at(tg, tmp_path):
        first = await reply_to(tg, updates.text_message(QUESTION, user_id=342), 342)
        crisis = await reply_to(tg, updates.text_message(CRISIS, user_id=342), 342)
        tg.undeletable.add((342, first.result["message_id"]))
        await press(tg, "v1:h:en", message_of(tg, crisis))
        notice = await tg.wait_for_calls("sendMessage", n=3, chat_id=342)
    assert notice[2].params["text"] == kb.text("chat_hidden_partly", "en")
    assert [m["message_id"] for m in tg.chat_log(342)] == [first.result["message_id"], 5]
    assert {c.method for c in tg.errors} == {"deleteMessages"}, "only the refusals"


async def test_messages_older_than_48_hours_are_reported_after_forget(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    clock = Clock(1_800_000_000.0)
    store = FileStore(tmp_path, clock=clock)
    async with bot_at(tg, tmp_path, store=store):
        await reply_to(tg, updates.text_message(QUESTION, user_id=343), 343)
        await confirmed(tg)
        clock.now += DELETABLE_FOR + 2 * BUCKET
        call = await reply_to(tg, updates.command("/forget", user_id=343), 343)
    assert call.params["text"] == kb.text("forgotten_partly", "en")
    assert (343, 3) in tg.deleted, "the /forget itself"
    assert (343, 1) not in tg.deleted, "too old for Telegram: not even tried"


# ---- storage that survives -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content"),
    [
        (STATE_FILE, b"\x00\xffnot json at all"),
        (STATE_FILE, b""),
        (STATE_FILE, b'{"version": 1, "languages": {"5": "ru"}, "chats": {"5": {"buck'),
        (STATE_FILE, b'{"version": 1, "languages": [1, 2], "chats": {}}'),
        (UPDATES_FILE, b"12\n\xff\xfe garbage\n13"),
    ],
    ids=["garbage", "empty", "truncated", "wrong shape", "updates log"],
)
async def test_damaged_storage_is_moved_aside_and_the_bot_answers(
    tg: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, content: bytes
) -> None:
    (tmp_path / name).write_bytes(content)
    async with bot_at(tg, tmp_path):
        await reply_to(tg, updates.text_message(QUESTION, user_id=350), 350)
        await confirmed(tg)
    if name == STATE_FILE:
        [aside] = tmp_path.glob(f"{STATE_FILE}.unreadable-*")
        assert aside.read_bytes() == content
        assert "moved it to" in caplog.text
    json.loads((tmp_path / STATE_FILE).read_text())  # written afresh
    check_replies(tg)


class FailingDisk:
    """``os`` for bot.storage, with writes into ``directory`` failing with ``code``."""

    def __init__(self, directory: Path, code: int) -> None:
        self.directory = str(directory)
        self.code = code

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def _fail(self, path: Any) -> None:
        if str(path).startswith(self.directory):
            raise OSError(self.code, os.strerror(self.code), str(path))

    def open(self, path: Any, flags: int, *args: Any) -> int:
        if flags & (os.O_WRONLY | os.O_RDWR):
            self._fail(path)
        return os.open(path, flags, *args)

    def write(self, descriptor: int, data: Any) -> int:
        if self.code == errno.ENOSPC:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return os.write(descriptor, data)

    def replace(self, source: Any, target: Any) -> None:
        self._fail(target)
        os.replace(source, target)


@pytest.mark.parametrize("code", [errno.EROFS, errno.ENOSPC], ids=["read-only", "full"])
async def test_a_disk_that_cannot_be_written_is_a_warning_not_a_failure(
    tg: FakeTelegram,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    code: int,
) -> None:
    (tmp_path / STATE_FILE).write_text(json.dumps({"version": 1, "languages": {}, "chats": {}}))
    monkeypatch.setattr(storage, "os", FailingDisk(tmp_path, code))
    async with bot_at(tg, tmp_path):
        menu = await reply_to(tg, updates.command("/language", user_id=351), 351)
        await press(tg, "v1:l:ru", message_of(tg, menu))
        await tg.wait_for_calls("editMessageText", chat_id=351)
        greeting = await reply_to(tg, updates.command("/start", user_id=351), 351)
        for user in range(352, 357):
            await reply_to(tg, updates.text_message(QUESTION, user_id=user), user)
        await confirmed(tg)
    assert greeting.params["text"] == render.greeting(kb, "ru").text, "kept in memory"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "Cannot" in r.msg]
    assert warnings and len(warnings) <= 2, "one warning per file, not one per write"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    check_replies(tg)


# ---- quiet logs ----------------------------------------------------------------------------


async def test_expected_failures_are_logged_quietly(
    tg: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with bot_at(tg, tmp_path) as app:
        assert app.updater is not None
        app.updater.first_retry = 0.05  # type: ignore[attr-defined]
        tg.blocked.add(360)  # the user blocked the bot
        tg.push(updates.text_message(QUESTION, user_id=360))
        tg.fail("getUpdates", 502, times=2)
        await tg.wait_for(lambda: len(tg.faulted_calls) >= 2, what="getUpdates failing")
        await reply_to(tg, updates.text_message(QUESTION, user_id=361), 361)
        await confirmed(tg)
    assert "blocked the bot" in caplog.text
    assert "getUpdates failed (NetworkError)" in caplog.text
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_one_stuck_update_does_not_hold_back_the_others(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    """A reply stuck on its way (Telegram slow for that call) must not stop the confirmations:
    otherwise, once a getUpdates' worth of updates is done behind it, no new update would be
    fetched. (5 per getUpdates here instead of 100, to keep the test short.)"""
    async with bot_at(tg, tmp_path, read_timeout=10) as app:
        assert isinstance(app.updater, ConfirmingUpdater)
        app.updater.hold_for, app.updater.limit = 0.3, 5
        tg.delay("sendMessage", 4.0)  # only the first reply hangs
        tg.push(updates.text_message(QUESTION, user_id=370))
        await tg.wait_for(lambda: not tg.pending_updates or len(tg.pending_updates) == 1, 2)
        await asyncio.sleep(0.2)
        users = range(371, 391)
        for user in users:
            tg.push(updates.text_message(QUESTION, user_id=user))
        await tg.wait_for(lambda: all(tg.sent_to(u) for u in users), 3.5, what="the others")
        assert not tg.sent_to(370), "still stuck"
        await tg.wait_for_calls("sendMessage", chat_id=370, timeout=10)
        await confirmed(tg)
    assert all(len(tg.sent_to(u)) == 1 for u in [370, *users])
