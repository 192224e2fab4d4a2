"""Rendering replies as Telegram HTML and keyboards, without a network."""

from __future__ import annotations

from dataclasses import replace
from html import escape

import pytest
from fakebot import telegram_html_error, visible_text
from hypothesis import given
from hypothesis import strategies as st
from tgharness import LANGS, kb, responder

from bot.dialogue import Reply
from bot.knowledge import Source
from bot.telegram import render
from bot.telegram.render import TEXT_LIMIT, compose, shorten, utf16_len


def valid(message: render.Rendered) -> render.Rendered:
    assert telegram_html_error(message.text) is None, message.text[:200]
    if message.markup is not None:
        for row in message.markup.inline_keyboard:
            for button in row:
                assert button.text.strip()
                assert 1 <= len(str(button.callback_data).encode()) <= 64
    return message


@pytest.mark.parametrize("lang", LANGS)
def test_every_answer_renders(lang: str) -> None:
    for entry_id in kb.entries:
        reply = responder.answer(entry_id, lang)
        message = valid(render.reply_message(reply, kb, private=True))
        if reply.sources:
            footer = message.text.splitlines()[-len(reply.sources) :]
            for line, source in zip(footer, reply.sources, strict=True):
                assert line.startswith(f"{kb.text('source_label', lang)}: <a href=")
                assert f'href="{escape(source.url(lang), quote=True)}"' in line
        if reply.details:
            assert escape(reply.details, quote=False) in message.text
        assert message.markup is None or len(message.markup.inline_keyboard) <= 3


@pytest.mark.parametrize("lang", LANGS)
def test_every_menu_and_notice_renders(lang: str) -> None:
    valid(render.greeting(kb, lang))
    valid(render.greeting(kb, lang, group=True))
    valid(render.topics_menu(kb, lang))
    valid(render.language_menu(kb, lang))
    for topic in kb.topics:
        valid(render.topic_page(kb, topic, lang))
    for key in ("help", "about", "hotlines", "non_text", "slow_down", "chat_hidden", "forgotten"):
        valid(render.notice(kb, key, lang))
    for reply in (responder.crisis(lang), responder.respond("zzzz qqqq", lang=lang)):
        valid(render.reply_message(reply, kb, private=True))
        valid(render.reply_message(reply, kb, private=False))


def test_crisis_has_only_the_hide_button_and_only_in_private() -> None:
    private = render.reply_message(responder.crisis("kk"), kb, private=True)
    assert private.markup is not None
    [[button]] = private.markup.inline_keyboard
    assert (button.text, button.callback_data) == (kb.text("button_hide_chat", "kk"), "v1:h:kk")
    assert render.reply_message(responder.crisis("kk"), kb, private=False).markup is None


def test_markup_from_the_knowledge_base_is_escaped() -> None:
    reply = Reply(
        kind="answer",
        lang="en",
        text="",
        body='Use <b> & "quotes" & </i>',
        sources=(
            Source(
                dict.fromkeys(LANGS, 'A & B <c> "d"'),
                dict.fromkeys(LANGS, "https://example.org/?a=1&b=<2>"),
            ),
        ),
    )
    message = valid(render.reply_message(reply, kb, private=True))
    assert visible_text(message.text).startswith('Use <b> & "quotes" & </i>')
    assert 'href="https://example.org/?a=1&amp;b=&lt;2&gt;"' in message.text


def test_a_huge_answer_is_cut_to_telegrams_limit() -> None:
    base = responder.answer("hotline-111", "en")
    for body in ("x" * 10_000, "😀" * 5_000, "&<" * 5_000):
        message = valid(render.reply_message(replace(base, body=body), kb, private=True))
        shown = visible_text(message.text)
        assert utf16_len(shown) <= TEXT_LIMIT
        assert shown.rstrip().endswith(base.sources[-1].title("en") if base.sources else "")


@given(st.text(), st.integers(1, 50))
def test_shorten_fits_and_keeps_short_text(text: str, limit: int) -> None:
    short = shorten(text, limit)
    assert utf16_len(short) <= limit
    if utf16_len(text) <= limit:
        assert short == text


@given(st.text(max_size=5000), st.text(max_size=100))
def test_compose_is_always_valid(body: str, title: str) -> None:
    html = compose(body + "x", title=title.strip())
    assert telegram_html_error(html) is None
    assert utf16_len(visible_text(html)) <= TEXT_LIMIT
