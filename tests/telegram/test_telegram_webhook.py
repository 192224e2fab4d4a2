"""Webhook mode: only requests with the right secret are handled; the listener binds only to
the configured address."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from fakebot import FakeTelegram, updates
from tgharness import TOKEN, check_replies, kb, responder, settings_for

from bot.config import Settings
from bot.telegram import render
from bot.telegram.app import ALLOWED_UPDATES, build_application, webhook_options, webhook_route

SECRET = "s3cret-Token_value"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_only_the_right_secret_gets_in(tg: FakeTelegram, tmp_path: Path) -> None:
    port = free_port()
    settings = settings_for(
        tg,
        tmp_path,
        webhook_url=f"http://127.0.0.1:{port}",
        webhook_secret=SECRET,
        listen="127.0.0.1",
        port=port,
    )
    options = webhook_options(settings)
    url = options["webhook_url"]
    app = build_application(settings, kb, responder=responder)
    await app.initialize()
    assert app.updater is not None
    await app.updater.start_webhook(**options)
    await app.start()
    try:
        assert tg.webhook["url"] == url and tg.webhook["secret_token"] == SECRET
        hello = updates.text_message("hi", user_id=400)
        assert await tg.post_update_to(url, updates.text_message("hi", user_id=401), "wrong") == 403
        assert await tg.post_update_to(url, updates.text_message("hi", user_id=402)) == 403
        assert await tg.post_update_to(url, hello, SECRET) == 200
        [reply] = await tg.wait_for_calls("sendMessage", chat_id=400)
        assert (
            reply.params["text"]
            == render.reply_message(responder.respond("hi"), kb, private=True).text
        )
        async with httpx.AsyncClient() as client:
            wrong_path = await client.post(
                f"http://127.0.0.1:{port}/other",
                json={},
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            )
        assert wrong_path.status_code == 404
        with socket.socket() as other_address:  # still on the loopback device, another address
            assert other_address.connect_ex(("127.0.0.2", port)) != 0
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert tg.sent_to(401) == [] and tg.sent_to(402) == []
    check_replies(tg)


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("https://bot.example.org/hook/abc", "hook/abc"),
        ("https://bot.example.org/hook/abc/", "hook/abc"),
    ],
)
def test_a_given_path_is_kept(url: str, path: str) -> None:
    assert webhook_route(url, TOKEN) == (path, url)


def test_without_a_path_one_is_derived_from_the_token() -> None:
    path, url = webhook_route("https://bot.example.org", TOKEN)
    assert path.startswith("telegram-") and len(path) > 30
    assert url == f"https://bot.example.org/{path}"
    assert TOKEN.split(":")[1] not in url
    assert webhook_route("https://bot.example.org/", TOKEN) == (path, url)
    assert webhook_route("https://bot.example.org", "654321:" + "B" * 35)[0] != path


def test_options_listen_where_configured(tmp_path: Path) -> None:
    settings = Settings(
        token=TOKEN,
        webhook_url="https://bot.example.org/hook",
        webhook_secret=SECRET,
        listen="10.1.2.3",
        port=8443,
        data_dir=tmp_path,
    )
    assert webhook_options(settings) == {
        "listen": "10.1.2.3",
        "port": 8443,
        "url_path": "hook",
        "webhook_url": "https://bot.example.org/hook",
        "secret_token": SECRET,
        "allowed_updates": ALLOWED_UPDATES,
    }
