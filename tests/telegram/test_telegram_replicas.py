"""Two bot processes in webhook mode sharing a real Redis (``STORAGE_URL``), updates spread over
both as a load balancer would, some delivered to both (a webhook retry landing on the other
replica): every user is answered exactly once, a language chosen through one replica is used
by the other, and "Hide this chat" on one deletes what the other sent.

Needs a Redis server: ``TEST_REDIS_URL=redis://127.0.0.1:6379/0`` (``.ci/run`` starts one and
sets it). Without it these tests are skipped.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import botprocess
import httpx
import pytest
from fakebot import FakeTelegram, updates
from tgharness import check_replies, kb, question

from bot.redis_store import RedisStore
from bot.storage import Claim
from bot.telegram import render

REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
SECRET = "replica-secret_" + "x" * 20
USERS = range(800_001, 800_031)

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="TEST_REDIS_URL is not set")


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    return botprocess.shared_cache_dir(request.config.cache, tmp_path_factory.mktemp("cache"))


@pytest.fixture
def token() -> str:
    """A bot id of its own for each test, so that its keys in Redis are its own."""
    return f"{secrets.randbelow(10**9) + 10**9}:" + secrets.token_urlsafe(30)[:35].replace("-", "a")


async def test_redis_store_claims_an_update_once() -> None:
    first, second = (RedisStore(REDIS_URL, namespace=secrets.token_hex(4)) for _ in range(2))
    second._prefix = first._prefix  # two replicas of one bot
    try:
        assert await first.claim(1) is Claim.NEW
        assert await second.claim(1) is Claim.BUSY
        await first.finish(1)
        assert await second.claim(1) is Claim.DONE
        assert await second.claim(2) is Claim.NEW
        await second.release(2)  # the replica went away before handling it
        assert await first.claim(2) is Claim.NEW
        await first.set_language(7, "kk")
        assert await second.language(7) == "kk"
        await second.note_messages(9, [3, 4])
        await first.note_messages(9, [5])
        span = await second.take_span(9)
        assert (span.first, span.last, span.older_remain) == (3, 5, True)
    finally:
        await first.close()
        await second.close()


class Replicas:
    """Two ``python -m bot run`` processes behind an imaginary load balancer."""

    def __init__(self, tg: FakeTelegram, base: Path) -> None:
        self.tg = tg
        self.base = base
        self.ports = [botprocess.free_port(), botprocess.free_port()]
        self.processes: list[asyncio.subprocess.Process] = []

    def url(self, replica: int) -> str:
        return f"http://127.0.0.1:{self.ports[replica]}/hook"

    async def post(self, replica: int, update: dict) -> int:
        return await self.tg.post_update_to(self.url(replica), update, SECRET)


@pytest.fixture
async def replicas(tmp_path: Path, shared_cache: Path, token: str) -> AsyncIterator[Replicas]:
    async with FakeTelegram() as tg:
        pair = Replicas(tg, tmp_path)
        for index, port in enumerate(pair.ports):
            data = botprocess.data_dir(tmp_path / f"replica-{index}", shared_cache)
            bot = await botprocess.start(
                tg,
                data,
                token,
                WEBHOOK_URL="https://bot.example.org/hook",
                WEBHOOK_SECRET=SECRET,
                LISTEN="127.0.0.1",
                PORT=str(port),
                STORAGE_URL=REDIS_URL,
            )
            pair.processes.append(bot)
        try:
            for index, bot in enumerate(pair.processes):
                await botprocess.listening(pair.ports[index], tmp_path / f"replica-{index}", bot)
            yield pair
        finally:
            codes = [await botprocess.terminate(bot) for bot in pair.processes]
        logs = "".join(botprocess.logs(tmp_path / f"replica-{i}") for i in range(2))
        assert codes == [0, 0], logs[-3000:]
        assert "Traceback" not in logs, logs[-3000:]
        check_replies(tg)


async def test_two_replicas_share_what_is_per_user_and_per_update(replicas: Replicas) -> None:
    """One pair of processes for all four checks (starting them is the slow part)."""
    await every_user_is_answered_exactly_once(replicas)
    await a_language_chosen_on_one_replica_is_used_by_the_other(replicas)
    await hide_on_one_replica_deletes_what_the_other_sent(replicas)
    await junk_gets_400(replicas)


async def every_user_is_answered_exactly_once(replicas: Replicas) -> None:
    tg = replicas.tg
    text = question("hotline-111", "en")
    posts = []
    for index, user in enumerate(USERS):
        update = updates.text_message(text, user_id=user)
        update["update_id"] = 10_000 + index
        posts.append(replicas.post(index % 2, update))
        if index % 3 == 0:  # Telegram retries this one, and the balancer picks the other replica
            posts.append(replicas.post(1 - index % 2, update))
    statuses = await asyncio.gather(*posts)
    assert set(statuses) == {200}, statuses
    await asyncio.sleep(0.3)  # a duplicate would arrive now
    assert {u: len(tg.sent_to(u)) for u in USERS} == dict.fromkeys(USERS, 1)


async def a_language_chosen_on_one_replica_is_used_by_the_other(replicas: Replicas) -> None:
    tg = replicas.tg
    user = USERS[0]
    assert await replicas.post(0, updates.command("/language", user_id=user)) == 200
    menu = tg.last_bot_message(user)
    assert await replicas.post(0, updates.callback_query("v1:l:kk", message=menu)) == 200
    assert await replicas.post(1, updates.command("/start", user_id=user)) == 200
    assert tg.texts_to(user)[-1] == render.greeting(kb, "kk").text
    # /forget on the second replica: the first no longer uses the choice either.
    assert await replicas.post(1, updates.command("/forget", user_id=user)) == 200
    assert await replicas.post(0, updates.command("/start", user_id=user)) == 200
    assert tg.texts_to(user)[-1] == render.greeting(kb, "en").text


async def hide_on_one_replica_deletes_what_the_other_sent(replicas: Replicas) -> None:
    tg = replicas.tg
    user = USERS[1]
    assert (
        await replicas.post(0, updates.text_message(question("hotline-111", "en"), user_id=user))
        == 200
    )
    crisis_text = "my father beats me"
    assert await replicas.post(1, updates.text_message(crisis_text, user_id=user)) == 200
    crisis = tg.last_bot_message(user)
    assert await replicas.post(0, updates.callback_query("v1:h:en", message=crisis)) == 200
    assert [m["text"] for m in tg.chat_log(user)] == [kb.text("chat_hidden", "en")]


async def junk_gets_400(replicas: Replicas) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            replicas.url(0), content=b"{", headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
    assert response.status_code == 400
