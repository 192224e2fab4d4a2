"""``kill -9`` in the middle of a burst: after a restart every message is answered, at most once
more than it should be. The real ``python -m bot run``, against the fake Bot API server, which
keeps an update pending until a later getUpdates confirms it (as Telegram does)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import botprocess
import pytest
from fakebot import FakeTelegram, updates
from tgharness import TOKEN, check_replies, kb

#: Users and the (distinct) questions each sends: every reply text names its question.
USERS = range(700_001, 700_041)
ENTRIES = ("hotline-111", "emergency-112", "childrens-day-date")


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    return botprocess.shared_cache_dir(request.config.cache, tmp_path_factory.mktemp("cache"))


def replies(tg: FakeTelegram) -> Counter[tuple[int, str]]:
    return Counter(
        (int(c.params["chat_id"]), c.params["text"])
        for c in tg.calls_of("sendMessage")
        if int(c.params["chat_id"]) in USERS
    )


async def test_kill_9_mid_burst_loses_nothing(tmp_path: Path, shared_cache: Path) -> None:
    data = botprocess.data_dir(tmp_path, shared_cache)
    questions = [kb.entries[e].title("en") for e in ENTRIES]
    async with FakeTelegram() as tg:
        bot = await botprocess.start(tg, data, TOKEN)
        try:
            await botprocess.polling(tg, tmp_path, bot)
            for question in questions:
                for user in USERS:
                    tg.push(updates.text_message(question, user_id=user))
            burst = len(USERS) * len(questions)
            await tg.wait_for(lambda: sum(replies(tg).values()) >= burst // 4, 30, what="burst")
            await botprocess.kill(bot)
            answered_before = sum(replies(tg).values())
            pending = len(tg.pending_updates)
            assert answered_before < burst, "the kill came too late to test anything"

            bot = await botprocess.start(tg, data, TOKEN)
            await tg.wait_for(
                lambda: len(replies(tg)) == burst, 60, what="every message answered after restart"
            )
            await asyncio.sleep(0.5)  # a late duplicate would arrive now
            assert not tg.pending_updates
            assert await botprocess.terminate(bot) == 0, botprocess.logs(tmp_path)[-3000:]
        finally:
            await botprocess.kill(bot)
    counts = replies(tg)
    assert len(counts) == burst, "every message answered at least once"
    duplicates = sum(n - 1 for n in counts.values())
    assert max(counts.values()) <= 2, "at most one duplicate of any message"
    print(
        f"kill -9 after {answered_before}/{burst} replies ({pending} updates pending): "
        f"{duplicates} duplicates after the restart"
    )
    log = botprocess.logs(tmp_path)
    assert "Traceback" not in log.split("Receiving updates")[-1], log[-3000:]
    check_replies(tg)
