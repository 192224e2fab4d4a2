"""Any text at all, through the real handlers over HTTP: exactly one reply each, non-empty, at
most 4096 characters, HTML that Telegram accepts. 500 generated messages per run."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path

from fakebot import FakeTelegram, telegram_html_error, updates, visible_text
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from telegram.ext import Application
from tgharness import running

from bot.telegram.render import utf16_len

BATCH = 50
BATCHES = 10
FIRST_USER = 10_000
HUGE = 100_000

#: Characters that break naive bots: zero-width and bidi controls, NUL, markup, quotes.
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
TRICKY = list(ZERO_WIDTH + BIDI + "\x00\t\r\n <>&\"'`*_[]()~|#")
TRICKY += [
    "<b>",
    "</i>",
    "&amp;",
    "&#0;",
    "<a href='x'>",
    "'; DROP TABLE users; --",
    "👨‍👩‍👧",
    "🏳️‍🌈",
    "й",
    "қ",
]

plain = st.text()
#: Telegram delivers valid UTF-8 only: no lone surrogates.
any_character = st.characters(codec="utf-8")
tricky = st.lists(st.sampled_from(TRICKY) | any_character, max_size=60).map("".join)
huge = st.text(min_size=1, max_size=20).map(lambda s: (s * (HUGE // len(s) + 1))[:HUGE])
#: Mostly ordinary Unicode, often tricky characters, now and then 100,000 characters.
message_text = st.integers(0, 99).flatmap(lambda n: huge if n == 0 else tricky if n < 40 else plain)


class Harness:
    """One fake server and one running bot for the whole property test."""

    def __init__(self) -> None:
        self.stack = contextlib.AsyncExitStack()
        self.next_user = FIRST_USER

    async def start(self, data_dir: Path) -> None:
        self.tg: FakeTelegram = await self.stack.enter_async_context(FakeTelegram())
        self.app: Application = await self.stack.enter_async_context(running(self.tg, data_dir))

    async def check(self, texts: list[str]) -> None:
        """One user per text (so flood control stays out of it), then one reply per user."""
        users = list(range(self.next_user, self.next_user + len(texts)))
        self.next_user += len(texts)
        for user, text in zip(users, texts, strict=True):
            self.tg.push(updates.text_message(text, user_id=user))
        try:
            await self.tg.wait_for(lambda: all(self.tg.sent_to(u) for u in users), 20)
        except AssertionError:
            unanswered = [
                t[:80] for u, t in zip(users, texts, strict=True) if not self.tg.sent_to(u)
            ]
            raise AssertionError(f"no reply to {unanswered!r}") from None
        await asyncio.sleep(0.1)
        for user, text in zip(users, texts, strict=True):
            [reply] = self.tg.sent_to(user)
            html = reply.params["text"]
            assert telegram_html_error(html) is None, (text[:80], html[:200])
            shown = visible_text(html).strip()
            assert shown and utf16_len(shown) <= 4096
        self.tg.assert_no_errors()


def test_any_text_gets_exactly_one_valid_reply() -> None:
    harness = Harness()
    with asyncio.Runner() as runner, tempfile.TemporaryDirectory() as data_dir:
        runner.run(harness.start(Path(data_dir)))

        @settings(
            max_examples=BATCHES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            # Shrinking would rerun whole batches over HTTP; a failure names its text anyway.
            phases=[Phase.generate],
        )
        @given(st.lists(message_text, min_size=BATCH, max_size=BATCH))
        def batch(texts: list[str]) -> None:
            runner.run(harness.check(texts))

        try:
            batch()
        finally:
            runner.run(harness.stack.aclose())
    assert harness.next_user - FIRST_USER >= BATCH * BATCHES
