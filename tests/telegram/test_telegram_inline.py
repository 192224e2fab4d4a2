"""Inline mode: ``@bot question`` typed in any chat."""

from __future__ import annotations

from typing import Any

import pytest
from fakebot import FakeTelegram, telegram_html_error, updates
from tgharness import (
    CRISIS_CANDIDATES,
    FALLBACK_CANDIDATES,
    LANGS,
    WAIT,
    kb,
    question,
    text_of_kind,
)

from bot.telegram.inline import START_PARAMETER

pytestmark = pytest.mark.usefixtures("bot")


async def inline(tg: FakeTelegram, text: str, **kwargs: Any) -> dict[str, Any]:
    """Send an inline query and return the bot's answerInlineQuery parameters."""
    update = updates.inline_query(text, **kwargs)
    query_id = update["inline_query"]["id"]
    tg.push(update)
    await tg.wait_for(lambda: query_id in tg.answered_queries, WAIT, what="inline answer")
    return tg.answered_queries[query_id]


def contents(answer: dict[str, Any]) -> list[str]:
    texts = [r["input_message_content"]["message_text"] for r in answer["results"]]
    for text in texts:
        assert telegram_html_error(text) is None
    return texts


@pytest.mark.parametrize("lang", LANGS)
async def test_question_offers_answers(tg: FakeTelegram, lang: str) -> None:
    answer = await inline(tg, question("hotline-111", lang), language_code="en")
    results = answer["results"]
    assert results[0]["id"] == "hotline-111"
    assert results[0]["title"] == question("hotline-111", lang)
    assert kb.entries["hotline-111"].answers[lang] in contents(answer)[0]
    assert 1 < len(results) <= 5
    assert answer["is_personal"] is True


@pytest.mark.parametrize("lang", LANGS)
async def test_empty_query_gets_a_hint(tg: FakeTelegram, lang: str) -> None:
    answer = await inline(tg, "  ", language_code=lang)
    assert answer["results"] == []
    assert answer["button"] == {
        "text": kb.text("inline_hint", lang),
        "start_parameter": START_PARAMETER,
    }


@pytest.mark.parametrize("lang", LANGS)
async def test_nothing_found_is_one_honest_article(tg: FakeTelegram, lang: str) -> None:
    text = text_of_kind("fallback", lang, FALLBACK_CANDIDATES)
    answer = await inline(tg, text)
    [article] = answer["results"]
    assert article["title"] == kb.text("inline_no_results", lang)
    assert kb.text("helpline_line", lang) in contents(answer)[0]


@pytest.mark.parametrize("lang", LANGS)
async def test_crisis_query_offers_the_crisis_reply(tg: FakeTelegram, lang: str) -> None:
    answer = await inline(tg, text_of_kind("crisis", lang, CRISIS_CANDIDATES))
    [article] = answer["results"]
    assert article["id"] == "crisis"
    assert "112" in contents(answer)[0]


async def test_query_longer_than_telegram_allows(tg: FakeTelegram) -> None:
    answer = await inline(tg, question("hotline-111", "en") + " x" * 200)
    assert len(answer["results"]) >= 1
    contents(answer)
    answer = await inline(tg, "<b>&" * 300)
    contents(answer)
