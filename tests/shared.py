"""Objects several test modules share, built once per test session (loading takes ~0.5 s)."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import cache
from pathlib import Path

from bot.dialogue import Responder
from bot.knowledge import KnowledgeBase, default_knowledge_dir, load_knowledge

TESTS_DIR = Path(__file__).resolve().parent
ROOT = TESTS_DIR.parent
CASES_DIR = TESTS_DIR / "cases"
KNOWLEDGE_DIR = default_knowledge_dir()


@cache
def shipped_knowledge() -> KnowledgeBase:
    return load_knowledge(KNOWLEDGE_DIR)


@cache
def shipped_responder() -> Responder:
    """What users get: the shipped knowledge base with the sentence encoder and crisis model."""
    return Responder.for_knowledge(shipped_knowledge(), KNOWLEDGE_DIR)


@cache
def lexicon_only_responder() -> Responder:
    """The responder when the encoder is unavailable: crisis detection by the lexicon alone."""
    return Responder(shipped_knowledge())


def run_bot_process(
    *args: str,
    cwd: Path,
    pythonpath: Path = ROOT,
    stdin: str = "",
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m bot ARGS`` as a user runs it, without any Telegram settings from this shell."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    environment["PYTHONPATH"] = str(pythonpath)
    # The phrasing-vector cache built once for the checkout (python -m bot index), not per test.
    environment.setdefault("DATA_DIR", str(ROOT / "data"))
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        timeout=60,
        check=False,
    )
