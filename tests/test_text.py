"""Normalisation and language detection (bot/text.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shared import shipped_responder

from bot.text import MAX_MESSAGE_CHARS, clip, normalize


@given(st.text())
@settings(max_examples=2000)
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@given(st.text())
@settings(max_examples=500)
def test_normalize_gives_lowercase_words_and_single_spaces(text: str) -> None:
    result = normalize(text)
    assert result == result.strip()
    assert "  " not in result
    assert all(ch.isalnum() or ch == " " for ch in result)


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("Ёлка", "Елка"),  # missing ё
        ("балалар күні қашан", "балалар куни кашан"),  # Kazakh typed with Russian letters
        ("balalar kuni qashan", "балалар күні қашан"),  # Kazakh in Latin script
        ("ҚҰҚЫҚ", "құқық"),
        ("children\u200b's\u200d day", "childrens day"),  # zero-width characters
        ("when is children's day?!?! 🎉🎉", "when is childrens day"),  # emoji and punctuation
        ("helloooooo", "helloo"),  # stretched letters
        ("menya", "меня"),  # Russian in Latin letters
        ("Äke", "әке"),  # Kazakh Latin alphabet letters
        ("  many   spaces\t\nand\x00controls ", "many spaces and controls"),
    ],
)
def test_spelling_variants_normalise_alike(typed: str, canonical: str) -> None:
    assert normalize(typed) == normalize(canonical)


def test_numbers_survive_normalisation() -> None:
    assert normalize("Hotline 111!") == "hotline 111"


def test_clip_cuts_long_messages() -> None:
    assert len(clip("a" * 100_000)) == MAX_MESSAGE_CHARS


@pytest.mark.parametrize(
    ("message", "lang"),
    [
        ("when is children's day", "en"),
        ("what is hotline 111", "en"),
        ("когда день защиты детей", "ru"),
        ("kogda den zashity detei", "ru"),
        ("балалар күні қашан", "kk"),
        ("балалар куни кашан", "kk"),  # no Kazakh letters at all
        ("balalar kuni qashan", "kk"),
        ("день защиты детей кашан болады", "kk"),  # Russian name, Kazakh grammar
        ("111 деген не", "kk"),
        ("что такое 111", "ru"),
        ("hi", "en"),
    ],
)
def test_detects_language(message: str, lang: str) -> None:
    assert shipped_responder().detect_language(message) == lang


def test_language_of_no_letters_is_the_default() -> None:
    detector = shipped_responder().detector
    assert detector.detect("111 ???", default="ru") == "ru"
    assert detector.detect("🎉", default="kk") == "kk"
