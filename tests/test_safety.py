"""Crisis detection (bot/safety.py): helplines first for a child in danger, never for trivia."""

from __future__ import annotations

import pytest
import yaml
from shared import CASES_DIR, lexicon_only_responder, run_bot_process, shipped_responder

from bot.knowledge import CRISIS_CATEGORIES
from bot.text import LANGUAGES

CASES = yaml.safe_load((CASES_DIR / "safety.yaml").read_text(encoding="utf-8"))
KINDS = yaml.safe_load((CASES_DIR / "crisis_kinds.yaml").read_text(encoding="utf-8"))


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
    assert reply.category == "violence"
    assert reply.text == shipped_responder().kb.crisis_text("violence", lang)


def test_every_kind_of_crisis_has_cases_in_every_language() -> None:
    assert set(KINDS) == set(CRISIS_CATEGORIES)
    assert all(set(KINDS[category]) == set(LANGUAGES) for category in KINDS)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_ask_gives_the_reply_written_for_each_kind_of_crisis(lang: str, tmp_path) -> None:
    """`python -m bot ask --json -` as a user runs it: one message of every kind, one language."""
    import json

    messages = [KINDS[category][lang] for category in CRISIS_CATEGORIES]
    result = run_bot_process("ask", "--json", "-", cwd=tmp_path, stdin="\n".join(messages) + "\n")
    assert result.returncode == 0, result.stderr
    replies = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["kind"] for r in replies] == ["crisis"] * len(messages)
    assert [r["category"] for r in replies] == list(CRISIS_CATEGORIES)
    kb = shipped_responder().kb
    for reply, category in zip(replies, CRISIS_CATEGORIES, strict=True):
        assert reply["lang"] == lang
        assert reply["text"] == kb.crisis_text(category, lang)


@pytest.mark.parametrize("category", CRISIS_CATEGORIES)
def test_every_crisis_reply_names_the_helplines(category: str) -> None:
    kb = shipped_responder().kb
    for lang in LANGUAGES:
        text = kb.crisis_text(category, lang)
        assert "111" in text and "112" in text, (category, lang)
        assert "150" not in text  # its current status is unconfirmed (knowledge/FACTS.md)


def test_danger_now_puts_112_first() -> None:
    kb = shipped_responder().kb
    for lang in LANGUAGES:
        text = kb.crisis_text("danger_now", lang)
        assert text.index("112") < text.index("111"), lang


def test_adults_get_a_reply_written_for_them() -> None:
    reply = shipped_responder().respond(KINDS["adult_report"]["en"])
    assert reply.category == "adult_report"
    assert "102" in reply.text and "tell an adult you trust" not in reply.text.lower()


@pytest.mark.parametrize(
    "message",
    [
        "my stepdad beats me, can you help",
        "отчим бьет меня, кто может помочь",
        "әкем мені ұрады, көмектесе аласың ба",
    ],
)
def test_asking_for_help_does_not_switch_detection_off(message: str) -> None:
    assert shipped_responder().respond(message).kind == "crisis"
    assert lexicon_only_responder().respond(message).kind == "crisis"


def test_danger_at_the_end_of_a_very_long_message_is_found() -> None:
    message = "so today at school we had maths and then lunch and it was fine. " * 40
    message += "but when i got home my dad beat me again and i am scared"
    assert len(message) > 2000
    assert shipped_responder().respond(message).kind == "crisis"


def test_without_the_encoder_the_lexicon_still_answers_with_the_general_crisis_reply() -> None:
    reply = lexicon_only_responder().respond("i want to kill myself")
    assert reply.kind == "crisis" and reply.category is None
    assert reply.text == lexicon_only_responder().kb.text("crisis", "en")


@pytest.mark.parametrize(
    "message",
    [
        "i died laughing at that meme",
        "I killed him in Fortnite so bad",
        "what is the punishment for beating a child in kazakhstan",
        "эта домашка меня убивает",
    ],
)
def test_idioms_and_topics_are_not_a_crisis(message: str) -> None:
    assert shipped_responder().respond(message).kind != "crisis"


def test_crisis_buried_in_a_long_message_is_found() -> None:
    message = "hello " * 30 + "my stepdad beats me " + "ok " * 30
    assert shipped_responder().respond(message).kind == "crisis"


@pytest.mark.parametrize("typo", ["i wnat to die", "kil myself", "хочу умерееть", "олгим келеди"])
def test_typos_in_crisis_messages_are_forgiven(typo: str) -> None:
    assert shipped_responder().respond(typo).kind == "crisis"
