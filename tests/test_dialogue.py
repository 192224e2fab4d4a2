"""``respond()`` end to end without Telegram (bot/dialogue.py, bot/retrieval.py)."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shared import CASES_DIR, KNOWLEDGE_DIR, lexicon_only_responder, shipped_responder

from bot.dialogue import REPLY_KINDS, Responder
from bot.knowledge import TELEGRAM_MESSAGE_LIMIT
from bot.retrieval import MAX_SUGGESTIONS


@pytest.fixture(scope="module")
def responder() -> Responder:
    return shipped_responder()


@pytest.mark.parametrize(
    ("message", "lang", "entry", "must_contain"),
    [
        ("when is children's day", "en", "childrens-day-date", "1 June"),
        ("hotline 111", "en", "hotline-111", "111"),
        ("когда день защиты детей", "ru", "childrens-day-date", "1 июня"),
        ("что такое телефон 111", "ru", "hotline-111", "111"),
        ("балалар күні қашан", "kk", "childrens-day-date", "1 маусым"),
        ("балалар куни кашан", "kk", "childrens-day-date", "1 маусым"),
        ("when is world children's day", "en", "world-childrens-day", "20 November"),
        ("how many orphans are in kazakhstan", "en", "orphans-statistics", "21,387"),
    ],
)
def test_answers_in_the_language_of_the_question(
    responder: Responder, message: str, lang: str, entry: str, must_contain: str
) -> None:
    reply = responder.respond(message)
    assert (reply.kind, reply.entry_id, reply.lang) == ("answer", entry, lang)
    assert must_contain in reply.text


def test_answer_ends_with_its_source(responder: Responder) -> None:
    reply = responder.respond("what is hotline 111")
    assert reply.sources
    last_line = reply.text.splitlines()[-1]
    assert last_line.startswith("Source: ") and reply.sources[-1].url("en") in last_line


@pytest.mark.parametrize("lang", ["en", "ru", "kk"])
def test_each_source_gets_a_line_in_the_reply_language(responder: Responder, lang: str) -> None:
    entry = next(e for e in responder.kb.entries.values() if len(e.sources) > 1)
    reply = responder.answer(entry.id, lang)
    lines = reply.text.splitlines()[-len(entry.sources) :]
    label = responder.kb.text("source_label", lang)
    for line, source in zip(lines, entry.sources, strict=True):
        assert line == f"{label}: {source.title(lang)} — {source.url(lang)}"


@pytest.mark.parametrize("lang", ["en", "ru", "kk"])
def test_details_for_parents_follow_the_answer_as_their_own_paragraph(
    responder: Responder, lang: str
) -> None:
    entry = next(e for e in responder.kb.entries.values() if e.details)
    reply = responder.answer(entry.id, lang)
    assert reply.body == entry.answers[lang] and reply.details == entry.details[lang]
    paragraphs = reply.text.split("\n\n")
    assert paragraphs[:2] == [entry.answers[lang], entry.details[lang]]
    assert paragraphs[2].startswith(responder.kb.text("source_label", lang))


def test_source_label_is_translated(responder: Responder) -> None:
    assert (
        responder.respond("когда день защиты детей").text.splitlines()[-1].startswith("Источник: ")
    )
    assert responder.respond("балалар күні қашан").text.splitlines()[-1].startswith("Дереккөз: ")


def test_forced_language_wins_over_detection(responder: Responder) -> None:
    reply = responder.respond("when is children's day", lang="kk")
    assert reply.lang == "kk" and reply.entry_id == "childrens-day-date"
    assert "маусым" in reply.text


def test_reply_in_message_language_even_when_best_phrasing_is_another(
    responder: Responder,
) -> None:
    reply = responder.respond("dosbollike это что")
    assert reply.lang == "ru"
    assert reply.entry_id in ("dosbollike", None)
    assert any("\u0400" <= ch <= "\u04ff" for ch in reply.text)


@pytest.mark.parametrize("message", ["what's the weather in almaty tomorrow", "рецепт борща"])
def test_unknown_questions_fall_back_honestly_with_help(responder: Responder, message: str) -> None:
    reply = responder.respond(message)
    assert reply.kind in ("fallback", "clarify")
    if reply.kind == "fallback":
        assert "111" in reply.text and "/topics" in reply.text


@pytest.mark.parametrize("message", ["", "   ", "\u200b\u200b", "🎉🎉🎉", "?!.,"])
def test_empty_messages_get_a_fallback(responder: Responder, message: str) -> None:
    reply = responder.respond(message)
    assert reply.kind == "fallback"
    assert reply.text.strip()


def test_clarify_when_two_entries_match_equally(tmp_path: Path) -> None:
    """Two entries with the same questions: the bot must ask, not guess, and list both once."""
    knowledge = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, knowledge)
    support = knowledge / "support.yaml"
    data = yaml.safe_load(support.read_text(encoding="utf-8"))
    twin = copy.deepcopy(next(e for e in data["entries"] if e["id"] == "free-school-meals"))
    twin["id"] = "free-school-meals-twin"
    data["entries"].append(twin)
    support.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    responder = Responder.from_directory(knowledge)

    reply = responder.respond("free school meals")

    assert reply.kind == "clarify"
    ids = [s.id for s in reply.suggestions]
    assert {"free-school-meals", "free-school-meals-twin"} <= set(ids)
    assert len(ids) == len(set(ids)) <= MAX_SUGGESTIONS
    assert all(s.question in reply.text for s in reply.suggestions)


def test_greeting_is_small_talk_but_greeting_plus_question_is_the_question(
    responder: Responder,
) -> None:
    assert responder.respond("hi").kind == "smalltalk"
    assert responder.respond("hi, when is children's day?").entry_id == "childrens-day-date"


def test_answer_offers_related_questions(responder: Responder) -> None:
    reply = responder.respond("hotline 111")
    assert reply.related
    assert all(responder.kb.entry(s.id) for s in reply.related)


def test_very_long_input_is_cut_before_scoring(responder: Responder) -> None:
    reply = responder.respond("when is children's day " + "blah " * 50_000)
    assert reply.kind in REPLY_KINDS


def test_json_shape(responder: Responder) -> None:
    data = responder.respond("when is children's day").to_json()
    assert set(data) == {"kind", "id", "score", "lang", "text", "suggestions"}
    assert 0 <= data["score"] <= 100


TRICKY_TEXT = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(categories=["Cf", "Cc", "Zs", "So"])),
    st.text(alphabet="абвгқүәіңөұ қазақша<>&\"'*_`[]()#/;-- DROP TABLE \x00\u202e\u200b"),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=5), st.integers(1, 20_000)),
)


def _check_replies(responder: Responder, messages: list[str]) -> None:
    for message in messages:
        reply = responder.respond(message)
        assert reply.kind in REPLY_KINDS
        assert reply.text.strip()
        assert len(reply.text) <= TELEGRAM_MESSAGE_LIMIT
        assert reply.lang in ("en", "ru", "kk")
        assert 0 <= reply.score <= 100


@given(st.lists(TRICKY_TEXT, min_size=100, max_size=100))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_text_gets_exactly_one_valid_reply(messages: list[str]) -> None:
    """10,000 generated messages in CI (100 examples x 100 messages), words and lexicon only:
    the encoder costs ~1 ms per token, which 10,000 messages of up to 20,000 characters cannot
    afford; the next test sends fewer through the whole pipeline."""
    _check_replies(lexicon_only_responder(), messages)


@given(st.lists(TRICKY_TEXT, min_size=10, max_size=10))
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_text_gets_one_valid_reply_with_the_encoder(messages: list[str]) -> None:
    """50 generated messages through the shipped pipeline (encoder, both scorers, crisis model)."""
    _check_replies(shipped_responder(), messages)


SMALLTALK_CASES = yaml.safe_load((CASES_DIR / "smalltalk.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", SMALLTALK_CASES, ids=[case["message"] for case in SMALLTALK_CASES])
def test_small_talk_gets_its_reply_not_the_fallback(responder: Responder, case: dict) -> None:
    """Thanks, greetings, "what can I ask you", "who made you" and goodbyes, in every language."""
    reply = responder.respond(case["message"])
    assert (reply.kind, reply.entry_id) == ("smalltalk", case["entry"])
