"""The language choice survives restarts; nothing else is stored, and only the bot can read it."""

from __future__ import annotations

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

from bot.telegram import render
from bot.telegram.persistence import FILE_NAME, LanguagePersistence


def stored(data_dir: Path) -> dict:
    with (data_dir / FILE_NAME).open("rb") as file:
        return pickle.load(file)


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
    assert data["user_data"] == {80: {"lang": lang}}, "only the choice, only of who made one"
    assert not data["chat_data"] and not data["bot_data"] and not data["conversations"]
    assert "Secret" not in repr(data) and question_text not in repr(data)
    assert mode(data_dir / FILE_NAME) == 0o600
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
    assert stored(tmp_path)["user_data"] == {83: {"lang": "kk"}}
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
    assert stored(tmp_path)["user_data"] == {90: {"lang": "kk"}}
    answered = {u for u in users if tg.sent_to(u)}
    assert answered, "some replies went out before the stop"
    # Whatever was not fetched is still queued at Telegram and is answered after a restart.
    async with running(tg, tmp_path):
        await tg.wait_for(lambda: all(tg.sent_to(u) for u in users), what="every message answered")
    assert all(len(tg.sent_to(u)) == 1 for u in users), "no message answered twice"
    check_replies(tg)


async def test_file_mode_is_fixed_on_start(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    with path.open("wb") as file:
        pickle.dump({"user_data": {1: {"lang": "ru"}}}, file)
    path.chmod(0o644)
    LanguagePersistence(tmp_path)
    assert mode(path) == 0o600


async def test_only_known_languages_are_stored(tmp_path: Path) -> None:
    persistence = LanguagePersistence(tmp_path)
    persistence.set_bot(ExtBot(TOKEN))  # as the Application does
    await persistence.update_user_data(1, {"lang": "ru", "name": "Secret"})
    await persistence.update_user_data(2, {"lang": "xx"})
    await persistence.update_user_data(3, {})
    await persistence.flush()
    assert stored(tmp_path)["user_data"] == {1: {"lang": "ru"}}
