"""The language choice survives restarts; nothing else is stored, and only the bot can read it."""

from __future__ import annotations

import json
import pickle
import stat
from pathlib import Path

import pytest
from fakebot import FakeTelegram, updates
from telegram.ext import ExtBot
from tgharness import (
    LANGS,
    TOKEN,
    check_replies,
    kb,
    message_of,
    press,
    question,
    reply_to,
    running,
)

from bot.storage import LEGACY_PICKLE, STATE_FILE, UPDATES_FILE, FileStore
from bot.telegram import render
from bot.telegram.persistence import LanguagePersistence


def stored(data_dir: Path) -> dict:
    return json.loads((data_dir / STATE_FILE).read_text())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def choose(tg: FakeTelegram, chat: int, lang: str) -> None:
    menu = await reply_to(tg, updates.command("/language", user_id=chat), chat)
    await press(tg, f"v1:l:{lang}", message_of(tg, menu))
    await tg.wait_for_calls("editMessageText", chat_id=chat)


@pytest.mark.parametrize("lang", LANGS)
async def test_language_survives_a_restart(tg: FakeTelegram, tmp_path: Path, lang: str) -> None:
    data_dir = tmp_path / "data"
    async with running(tg, data_dir):
        await choose(tg, 80, lang)
        question_text = question("hotline-111", "en")
        await reply_to(tg, updates.text_message(question_text, user_id=81, first_name="Secret"), 81)
    data = stored(data_dir)
    assert data["languages"] == {"80": lang}, "only the choice, only of who made one"
    assert set(data) == {"version", "languages", "chats"}
    assert set(data["chats"]) == {"80", "81"}, "message ids only, for Hide this chat"
    ours = [data_dir / STATE_FILE, data_dir / UPDATES_FILE]
    everything = "".join(path.read_text() for path in ours)
    assert "Secret" not in everything and question_text not in everything
    for path in ours:
        assert mode(path) == 0o600, path
    assert mode(data_dir) == 0o700
    async with running(tg, data_dir):
        greeting = await reply_to(tg, updates.command("/start", user_id=80), 80)
    assert greeting.params["text"] == render.greeting(kb, lang).text
    check_replies(tg)


async def test_forget_removes_the_user_from_the_file(tg: FakeTelegram, tmp_path: Path) -> None:
    async with running(tg, tmp_path):
        await choose(tg, 82, "ru")
        await choose(tg, 83, "kk")
        await reply_to(tg, updates.command("/forget", user_id=82), 82)
    assert stored(tmp_path)["languages"] == {"83": "kk"}
    check_replies(tg)


async def test_shutdown_mid_traffic_answers_what_it_fetched_and_flushes(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    """What run_polling does on SIGTERM: stop fetching, finish the updates in hand, write."""
    users = range(100, 140)
    async with running(tg, tmp_path) as app:
        await choose(tg, 90, "kk")
        for user in users:
            tg.push(updates.text_message(question("hotline-111", "en"), user_id=user))
        await tg.wait_for(lambda: len(tg.calls_of("sendMessage")) > 5, what="traffic under way")
        stopping = app  # leaving the block stops it now, with replies still going out
    assert stopping.running is False
    assert stored(tmp_path)["languages"] == {"90": "kk"}
    answered = {u for u in users if tg.sent_to(u)}
    assert answered, "some replies went out before the stop"
    # Whatever was not handled is still queued at Telegram and is answered after a restart.
    async with running(tg, tmp_path):
        await tg.wait_for(lambda: all(tg.sent_to(u) for u in users), what="every message answered")
    assert all(len(tg.sent_to(u)) == 1 for u in users), "no message answered twice"
    check_replies(tg)


async def test_file_mode_is_fixed_on_start(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    path.write_text(json.dumps({"version": 1, "languages": {"1": "ru"}, "chats": {}}))
    path.chmod(0o644)
    store = FileStore(tmp_path)
    await store.open()
    assert mode(path) == 0o600
    assert await store.languages() == {1: "ru"}


async def test_only_known_languages_are_stored(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    await store.open()
    persistence = LanguagePersistence(store)
    persistence.set_bot(ExtBot(TOKEN))  # as the Application does
    await persistence.update_user_data(1, {"lang": "ru", "name": "Secret"})
    await persistence.update_user_data(2, {"lang": "xx"})
    await persistence.update_user_data(3, {})
    await persistence.flush()
    assert stored(tmp_path)["languages"] == {"1": "ru"}
    assert await persistence.get_user_data() == {1: {"lang": "ru"}}


async def test_an_earlier_versions_pickle_is_carried_over_then_removed(tmp_path: Path) -> None:
    legacy = {"user_data": {5: {"lang": "kk"}, 6: {}}, "chat_data": {}, "bot_data": {}}
    (tmp_path / LEGACY_PICKLE).write_bytes(pickle.dumps(legacy))
    store = FileStore(tmp_path)
    await store.open()
    assert await store.languages() == {5: "kk"}
    assert not (tmp_path / LEGACY_PICKLE).exists()
    assert stored(tmp_path)["languages"] == {"5": "kk"}


@pytest.mark.parametrize(
    "content",
    [b"", b"garbage \x00\xff", pickle.dumps({"user_data": {5: {"lang": "kk"}}})[:-7]],
    ids=["empty", "garbage", "truncated"],
)
async def test_a_damaged_pickle_of_an_earlier_version_does_not_stop_the_start(
    tg: FakeTelegram, tmp_path: Path, content: bytes
) -> None:
    (tmp_path / LEGACY_PICKLE).write_bytes(content)
    async with running(tg, tmp_path):
        await reply_to(tg, updates.text_message(question("hotline-111", "en"), user_id=84), 84)
    assert [p.name for p in tmp_path.glob(f"{LEGACY_PICKLE}.unreadable-*")]
    check_replies(tg)


class Trap:
    """Unpickling this would run code: the store must refuse it, not load it."""

    def __reduce__(self) -> tuple:
        return (Path("/nonexistent-trap").touch, ())


async def test_a_pickle_holding_objects_is_moved_aside_not_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / LEGACY_PICKLE).write_bytes(pickle.dumps({"user_data": {1: Trap()}}))
    store = FileStore(tmp_path)
    await store.open()
    assert await store.languages() == {}
    assert not Path("/nonexistent-trap").exists()
    assert [p.name for p in tmp_path.glob(f"{LEGACY_PICKLE}.unreadable-*")]
    assert "moved it to" in caplog.text
