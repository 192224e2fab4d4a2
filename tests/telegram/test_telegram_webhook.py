"""Webhook mode: only requests with the right secret are handled; the listener binds only to
the configured address."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fakebot import FakeTelegram, updates
from tgharness import TOKEN, check_replies, kb, responder, settings_for, stop

from bot.config import Settings
from bot.telegram import render
from bot.telegram.app import ALLOWED_UPDATES, build_application, webhook_options, webhook_route
from bot.telegram.intake import BotApplication, ConfirmingUpdater

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


# ---- answered after handling, once; hardened -----------------------------------------------


@contextlib.asynccontextmanager
async def webhook_bot(
    tg: FakeTelegram, data_dir: Path, *, answer_within: float | None = None
) -> AsyncIterator[tuple[BotApplication, str, int]]:
    """The bot in webhook mode: (application, URL Telegram posts to, port)."""
    port = free_port()
    settings = settings_for(
        tg, data_dir, webhook_url=f"http://127.0.0.1:{port}/hook", webhook_secret=SECRET, port=port
    )
    app = build_application(settings, kb, responder=responder)
    await app.initialize()
    assert isinstance(app.updater, ConfirmingUpdater)
    if answer_within is not None:
        app.updater.answer_within = answer_within
    await app.updater.start_webhook(**webhook_options(settings))
    await app.start()
    try:
        yield app, f"http://127.0.0.1:{port}/hook", port
    finally:
        await stop(app)


async def test_telegram_gets_200_only_once_the_reply_is_out(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    tg.delay("sendMessage", 0.3)
    async with webhook_bot(tg, tmp_path) as (_, url, _):
        assert await tg.post_update_to(url, updates.text_message("hi", user_id=410), SECRET) == 200
        assert tg.sent_to(410), "answered before Telegram was told the update was handled"
    check_replies(tg)


async def test_the_same_update_twice_is_answered_once(tg: FakeTelegram, tmp_path: Path) -> None:
    """A webhook retry: Telegram posts an update again (at once, or later)."""
    tg.delay("sendMessage", 0.2)
    async with webhook_bot(tg, tmp_path) as (_, url, _):
        update = updates.text_message("hi", user_id=411)
        update["update_id"] = 5000
        statuses = await asyncio.gather(
            tg.post_update_to(url, update, SECRET), tg.post_update_to(url, update, SECRET)
        )
        assert statuses == [200, 200]
        assert await tg.post_update_to(url, update, SECRET) == 200
    assert len(tg.sent_to(411)) == 1
    check_replies(tg)


async def test_still_busy_is_503_and_the_retry_is_not_answered_again(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    tg.delay("sendMessage", 0.6)
    async with webhook_bot(tg, tmp_path, answer_within=0.2) as (_, url, _):
        update = updates.text_message("hi", user_id=412)
        update["update_id"] = 5001
        assert await tg.post_update_to(url, update, SECRET) == 503  # Telegram will retry
        await tg.wait_for_calls("sendMessage", chat_id=412)
        assert await tg.post_update_to(url, update, SECRET) == 200
    assert len(tg.sent_to(412)) == 1


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"no": "update_id"}', b""])
async def test_malformed_json_gets_400(tg: FakeTelegram, tmp_path: Path, body: bytes) -> None:
    """400, not 500: Telegram retries a 5xx, and this request will never get better."""
    async with webhook_bot(tg, tmp_path) as (_, url, _), httpx.AsyncClient() as client:
        response = await client.post(
            url, content=body, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
    assert response.status_code == 400


async def raw_request(port: int, head: str) -> str:
    """Send only the request line and headers (no body) and read the status line."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head.encode())
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 2)
    writer.close()
    return status.decode()


@pytest.mark.parametrize(("secret", "status"), [(SECRET, "413"), ("wrong", "403"), (None, "403")])
async def test_big_bodies_and_wrong_secrets_are_refused_before_the_body_is_read(
    tg: FakeTelegram, tmp_path: Path, secret: str | None, status: str
) -> None:
    """The answer comes while the client has sent none of its 100 MB: nothing was read."""
    async with webhook_bot(tg, tmp_path) as (_, _, port):
        header = f"X-Telegram-Bot-Api-Secret-Token: {secret}\r\n" if secret else ""
        line = await raw_request(
            port,
            "POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"{header}Content-Length: {100 * 1024 * 1024}\r\n\r\n",
        )
    assert line.startswith(f"HTTP/1.1 {status}"), line
