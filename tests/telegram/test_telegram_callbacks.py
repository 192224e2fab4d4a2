"""The callback data format: what ``encode`` writes, ``decode`` reads; anything else is stale."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tgharness import kb

from bot.knowledge import KnowledgeBase
from bot.telegram.callbacks import Action, Button, check_fits, decode, encode

CURRENT = [
    Button(Action.ANSWER, "ru", "hotline-111"),
    Button(Action.QUESTION, "kk", "hotline-111"),
    Button(Action.TOPIC, "en", kb.topics[0].id),
    Button(Action.TOPICS, "en"),
    Button(Action.BROWSE, "ru"),
    Button(Action.HOTLINES, "kk"),
    Button(Action.LANGUAGES, "en"),
    Button(Action.SET_LANGUAGE, "kk"),
    Button(Action.HIDE_CHAT, "ru"),
]


@pytest.mark.parametrize("button", CURRENT, ids=lambda b: b.action.name)
def test_round_trip(button: Button) -> None:
    data = encode(button)
    assert len(data.encode()) <= 64 and data.startswith("v1:")
    assert decode(data, kb) == button


def test_every_entry_and_topic_fits_in_a_button() -> None:
    check_fits(kb)


def test_an_id_too_long_for_a_button_is_refused() -> None:
    with pytest.raises(ValueError, match="longer than 64 bytes"):
        encode(Button(Action.ANSWER, "en", "a" * 60))
    entries = dict(kb.entries)
    entries["a" * 60] = entries["hotline-111"]
    with pytest.raises(ValueError):
        check_fits(KnowledgeBase(kb.topics, entries, kb.ui, kb.safety))


@given(
    st.one_of(st.text(), st.binary().map(lambda b: b.decode("latin-1")), st.none(), st.integers())
)
def test_decode_never_raises(data: object) -> None:
    button = decode(data, kb)
    assert button is None or encode(button) == data
