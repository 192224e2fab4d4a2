"""``python -m bot run``: clear failures without a usable token, and a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import sys
from pathlib import Path

import botprocess
import pytest
from fakebot import FakeTelegram, updates
from tgharness import TOKEN, WAIT, check_replies

from bot.__main__ import main
from bot.storage import STATE_FILE

REPOSITORY = Path(__file__).resolve().parents[2]
SECRET_TEXT = "a question nobody may log"
#: User ids distinctive enough that finding one in the log cannot be a coincidence.
USERS = range(987_650_001, 987_650_031)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_API_BASE_URL", "WEBHOOK_URL", "WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env file here
    return monkeypatch


def test_missing_token_is_one_clear_sentence(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run"]) == 2
    out, err = capsys.readouterr()
    assert "TELEGRAM_BOT_TOKEN is not set" in err and "@BotFather" in err
    assert "Traceback" not in out + err


def test_malformed_token_is_rejected_without_showing_it(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("TELEGRAM_BOT_TOKEN", "not-a-token-but-a-password")
    assert main(["run"]) == 2
    out, err = capsys.readouterr()
    assert "does not look like a bot token" in err
    assert "not-a-token-but-a-password" not in out + err and "Traceback" not in out + err


async def start_bot(
    tg: FakeTelegram, tmp_path: Path, token: str = TOKEN
) -> asyncio.subprocess.Process:
    # The phrasing-vector cache is shared (building it takes longer than these tests wait).
    data = botprocess.data_dir(tmp_path, botprocess.shared_cache_dir(None, tmp_path / "cache"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WEBHOOK_"))},
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_API_BASE_URL": tg.base_url,
        "DATA_DIR": str(data),
        "PYTHONPATH": str(REPOSITORY),
        "LOG_LEVEL": "DEBUG",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_token_refused_by_telegram(tmp_path: Path) -> None:
    async with FakeTelegram(tokens={"111111:" + "B" * 35}) as tg:
        bot = await start_bot(tg, tmp_path)
        out, err = await asyncio.wait_for(bot.communicate(), 30)
    assert bot.returncode == 2
    last_line = err.decode().strip().splitlines()[-1]
    assert last_line == (
        "Cannot start the Telegram bot: Telegram does not accept TELEGRAM_BOT_TOKEN "
        "(check it with @BotFather)."
    )
    # python-telegram-bot logs the refusal with a traceback; the token in it is redacted.
    assert TOKEN not in (out + err).decode()


async def test_sigterm_mid_traffic_stops_cleanly_and_writes_the_language(tmp_path: Path) -> None:
    async with FakeTelegram() as tg:
        bot = await start_bot(tg, tmp_path)
        try:
            await tg.wait_for(lambda: tg.calls_of("deleteWebhook"), 30, what="the bot starting")
            tg.push(updates.command("/language", user_id=500))
            [menu] = await tg.wait_for_calls("sendMessage", chat_id=500, timeout=WAIT)
            tg.push(updates.callback_query("v1:l:ru", message=tg.last_bot_message(500)))
            await tg.wait_for_calls("editMessageText", chat_id=500, timeout=WAIT)
            for user in USERS:
                tg.push(updates.text_message(SECRET_TEXT, user_id=user, first_name="Secret"))
            await tg.wait_for(lambda: tg.sent_to(USERS[0]), WAIT, what="traffic under way")
            bot.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(bot.communicate(), 30)
        finally:
            if bot.returncode is None:
                bot.kill()
                await bot.wait()
    log = (out + err).decode()
    assert bot.returncode == 0, log[-2000:]
    assert menu.ok
    path = tmp_path / "data" / STATE_FILE
    assert json.loads(path.read_text())["languages"] == {"500": "ru"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for secret in (TOKEN, TOKEN.split(":")[1], SECRET_TEXT, "Secret", "98765"):
        assert secret not in log
    assert "update=message/text" in log and "Traceback" not in log
    answered = [u for u in USERS if tg.sent_to(u)]
    assert all(len(tg.sent_to(u)) == 1 for u in answered)
    check_replies(tg)
