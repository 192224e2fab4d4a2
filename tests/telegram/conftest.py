"""Fixtures for the Telegram tests: the fake Bot API server and the real bot polling it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fakebot import FakeTelegram
from telegram.ext import Application
from tgharness import check_replies, running


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(tg: FakeTelegram, tmp_path: Path) -> AsyncIterator[Application]:
    """The bot, running; afterwards every message it sent must be one Telegram accepts."""
    async with running(tg, tmp_path) as app:
        yield app
    check_replies(tg)
