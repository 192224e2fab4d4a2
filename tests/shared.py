"""Objects several test modules share, built once per test session (loading takes ~0.5 s)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from bot.dialogue import Responder
from bot.knowledge import KnowledgeBase, default_knowledge_dir, load_knowledge

TESTS_DIR = Path(__file__).resolve().parent
CASES_DIR = TESTS_DIR / "cases"
KNOWLEDGE_DIR = default_knowledge_dir()


@cache
def shipped_knowledge() -> KnowledgeBase:
    return load_knowledge(KNOWLEDGE_DIR)


@cache
def shipped_responder() -> Responder:
    return Responder(shipped_knowledge())
