"""Flood control: more than 20 messages a minute get one "slow down", then silence for a while;
other users are not slowed down. And the bot's own sending stays within Telegram's limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fakebot import FakeTelegram, updates
from telegram.ext import Application
from tgharness import (
    CRISIS_CANDIDATES,
    Clock,
    check_replies,
    kb,
    question,
    running,
    settings_for,
)

from bot.dialogue import Responder
from bot.telegram import render
from bot.telegram.app import build_application
from bot.telegram.delivery import GROUP_SENDS_PER_MINUTE, SENDS_PER_SECOND, PatientRateLimiter
from bot.telegram.flood import LIMIT, QUIET_FOR, WINDOW, CrisisAnswer, FloodGuard, Verdict

#: Crisis judged by the lexicon alone: the same reply every time.
responder = Responder(kb)


def test_the_limit_then_one_warning_then_quiet() -> None:
    clock = Clock()
    guard = FloodGuard(clock=clock)
    verdicts = [guard.check("a") for _ in range(LIMIT + 5)]
    assert verdicts[:LIMIT] == [Verdict.ALLOW] * LIMIT
    assert verdicts[LIMIT:] == [Verdict.WARN] + [Verdict.IGNORE] * 4
    assert guard.check("b") is Verdict.ALLOW, "others are not slowed down"
    clock.now += QUIET_FOR
    assert guard.check("a") is Verdict.ALLOW, "answered again once the quiet period is over"


def test_a_steady_pace_is_never_a_flood() -> None:
    clock = Clock()
    guard = FloodGuard(clock=clock)
    for _ in range(10 * LIMIT):
        assert guard.check("a") is Verdict.ALLOW
        clock.now += WINDOW / LIMIT


def test_a_crisis_in_a_flood_is_answered_in_full_once_then_reminded() -> None:
    clock = Clock()
    guard = FloodGuard(clock=clock)
    for _ in range(LIMIT + 1):
        guard.check("a")
    assert [guard.crisis_answer("a") for _ in range(3)] == [
        CrisisAnswer.FULL,
        CrisisAnswer.REMINDER,
        CrisisAnswer.REMINDER,
    ]
    clock.now += QUIET_FOR
    for _ in range(LIMIT + 1):
        guard.check("a")
    assert guard.crisis_answer("a") is CrisisAnswer.FULL, "in full again in the next flood"


def test_idle_users_are_forgotten() -> None:
    clock = Clock()
    guard = FloodGuard(clock=clock)
    for user in range(1000):
        guard.check(user)
    clock.now += WINDOW + QUIET_FOR
    guard.check("last")
    assert len(guard) == 1


@pytest.fixture
async def bot(tg: FakeTelegram, tmp_path: Path) -> AsyncIterator[Application]:
    async with running(tg, tmp_path, bot_responder=responder) as app:
        yield app
    check_replies(tg)


@pytest.mark.usefixtures("bot")
async def test_flooding_user_gets_one_slow_down_and_others_are_answered(tg: FakeTelegram) -> None:
    flooder, other = 300, 301
    text = question("hotline-111", "ru")
    for n in range(25):
        tg.push(updates.text_message(text, user_id=flooder, language_code="ru"))
        if n % 8 == 0:
            tg.push(updates.text_message(question("hotline-111", "kk"), user_id=other))
    await tg.wait_for(lambda: len(tg.sent_to(other)) == 4, what="the other user's 4 answers")
    await tg.wait_for(lambda: len(tg.sent_to(flooder)) == LIMIT + 1, what="the flooder's replies")
    texts = tg.texts_to(flooder)
    slow_down = render.notice(kb, "slow_down", "ru").text
    assert texts.count(slow_down) == 1
    assert texts[-1] == slow_down
    assert (
        texts.count(render.reply_message(responder.respond(text), kb, private=True).text) == LIMIT
    )
    # Still quiet afterwards, but a child in danger is answered even now.
    tg.push(updates.text_message(text, user_id=flooder))
    tg.push(updates.text_message(CRISIS_CANDIDATES["ru"][0], user_id=flooder))
    [crisis] = (await tg.wait_for_calls("sendMessage", n=LIMIT + 2, chat_id=flooder))[LIMIT + 1 :]
    assert (
        crisis.params["text"] == render.reply_message(responder.crisis("ru"), kb, private=True).text
    )


async def test_sending_keeps_within_the_overall_limit(tmp_path: Path) -> None:
    """However many replies are waiting, they go out at the configured rate (a burst first).

    Shown at 10 a second, to be quick; the bot ships with Telegram's 30 a second.
    """
    rate, count = 10, 40
    async with FakeTelegram() as tg, running(tg, tmp_path, sends_per_second=rate) as app:
        limiter = app.bot.rate_limiter
        for user in range(600, 600 + count):
            tg.push(updates.text_message(question("hotline-111", "en"), user_id=user))
        await tg.wait_for(lambda: len(tg.calls_of("sendMessage")) == count, 10, what="replies")
    sent = sorted(c.at for c in tg.calls_of("sendMessage"))
    # A burst of `rate`, then `rate` a second; arrival at the server may jitter a little.
    assert sent[-1] - sent[0] >= (count - rate) / rate - 0.5
    check_replies(tg)
    shipped = build_application(settings_for(tg, tmp_path), kb, responder=responder)
    assert isinstance(limiter, PatientRateLimiter)
    assert isinstance(shipped.bot.rate_limiter, PatientRateLimiter)
    assert shipped.bot.rate_limiter.sends_per_second == SENDS_PER_SECOND
    assert shipped.bot.rate_limiter.group_sends_per_minute == GROUP_SENDS_PER_MINUTE
