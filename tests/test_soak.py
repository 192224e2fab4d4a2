"""The soak test (issue 5, "Load is held"): outside the default suite, run with
``python -m pytest -m soak`` (or ``python -m benchmarks.soak`` for the printed table).

Two sizes: a short one (100 users, 2,500 messages, about 1.5 minutes) that shows quickly whether
the harness and the bot still work together, and the full one from the issue (500 users, 20,000
messages, several minutes). Both must answer every message exactly once, log nothing at ERROR
and keep the bot's memory bounded; see ``benchmarks/soak.py`` for how and why.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("PTB_TIMEDELTA", "1")  # before telegram is imported (see conftest.py)

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.soak


def _soak(users: int, messages: int) -> None:
    pytest.importorskip("psutil", reason="the soak test reads the bot's memory with psutil")
    if str(ROOT) not in sys.path:  # `benchmarks` is not installed, only importable from ROOT
        sys.path.insert(0, str(ROOT))
    from benchmarks.soak import format_result, run_soak

    result = run_soak(users, messages)
    print(format_result(result))  # shown with `pytest -s`, and on failure
    assert result.answered == messages
    assert result.errors == 0, format_result(result)
    assert result.memory_problems() == [], format_result(result)
    assert result.failures() == []


def test_soak_short() -> None:
    """Enough messages per user (25) to cross the flood limit's 20 if the pacing were wrong."""
    _soak(users=100, messages=2_500)


def test_soak_full() -> None:
    """The issue's figures: 500 users, 20,000 messages."""
    _soak(users=500, messages=20_000)
