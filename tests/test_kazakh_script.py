"""Latin-script Kazakh spelt in Cyrillic for the encoder (bot/kazakh_script.py)."""

from __future__ import annotations

import pytest

from bot.kazakh_script import is_mostly_latin, latin_to_cyrillic


@pytest.mark.parametrize(
    ("latin", "cyrillic"),
    [
        ("Men özimdi öltirgim keledi", "мен өзімді өлтіргім келеді"),  # 2021 alphabet
        ("äkem meni uradı", "әкем мені ұрады"),
        ("balalar küni qashan", "балалар күні қашан"),  # ASCII digraph sh
        ("qalay", "қалай"),  # y after a vowel is й
        ("meniñ atym", "менің атым"),
        ("tyndamaidy", "тындамайды"),
    ],
)
def test_latin_kazakh_becomes_cyrillic(latin: str, cyrillic: str) -> None:
    assert latin_to_cyrillic(latin) == cyrillic


def test_digits_emoji_and_punctuation_are_kept() -> None:
    assert latin_to_cyrillic("111 ge qońyrau 😢!") == "111 ге қоңырау 😢!"


@pytest.mark.parametrize(
    ("text", "latin"),
    [("men qorqamyn", True), ("мен қорқамын", False), ("111", False), ("ok мен", False)],
)
def test_mostly_latin(text: str, latin: bool) -> None:
    assert is_mostly_latin(text) is latin
