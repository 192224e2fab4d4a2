"""Crisis detection (bot/safety.py): helplines first for a child in danger, never for trivia."""

from __future__ import annotations

import pytest
import yaml
from shared import CASES_DIR, shipped_responder

from bot.text import LANGUAGES

CASES = yaml.safe_load((CASES_DIR / "safety.yaml").read_text(encoding="utf-8"))


def _cases(kind: str) -> list[tuple[str, str]]:
    return [(lang, text) for lang in LANGUAGES for text in CASES[kind][lang]]


@pytest.mark.parametrize(("lang", "message"), _cases("crisis"))
def test_danger_gets_the_helplines_first(lang: str, message: str) -> None:
    reply = shipped_responder().respond(message)
    assert reply.kind == "crisis", reply
    assert "111" in reply.text and "112" in reply.text
    assert reply.entry_id is None and not reply.suggestions


@pytest.mark.parametrize(("lang", "message"), _cases("not_crisis"))
def test_questions_about_the_subject_are_not_a_crisis(lang: str, message: str) -> None:
    assert shipped_responder().respond(message).kind != "crisis"


@pytest.mark.parametrize(
    "message",
    [
        "I want to die",
        "i want to die, what is the law on suicide?",  # a first-person statement wins over "law"
        "хочу умереть, какой закон об этом",
        "өлгім келеді",
    ],
)
def test_first_person_statements_stay_a_crisis_even_inside_questions(message: str) -> None:
    assert shipped_responder().respond(message).kind == "crisis"


@pytest.mark.parametrize(
    ("message", "lang"),
    [("my dad hits me", "en"), ("папа бьет меня", "ru"), ("әкем мені ұрады", "kk")],
)
def test_crisis_reply_is_in_the_users_language(message: str, lang: str) -> None:
    reply = shipped_responder().respond(message)
    assert reply.kind == "crisis"
    assert reply.lang == lang
    assert reply.text == shipped_responder().kb.text("crisis", lang)


def test_crisis_buried_in_a_long_message_is_found() -> None:
    message = "hello " * 30 + "my stepdad beats me " + "ok " * 30
    assert shipped_responder().respond(message).kind == "crisis"


@pytest.mark.parametrize("typo", ["i wnat to die", "kil myself", "хочу умерееть", "олгим келеди"])
def test_typos_in_crisis_messages_are_forgiven(typo: str) -> None:
    assert shipped_responder().respond(typo).kind == "crisis"
