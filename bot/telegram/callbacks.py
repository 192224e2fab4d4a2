"""The data behind inline buttons: a compact, versioned format parsed defensively.

Telegram gives a button at most 64 bytes of ``callback_data`` and hands back whatever a client
sends, so the data is treated as untrusted input: ``decode`` returns None for anything that is
not exactly what ``encode`` would write today (garbage, a future or past version, an entry that
no longer exists), and the handler answers such a press with a polite "this button is out of
date" instead of an exception.

Format: ``v1:<action>[:<lang>[:<id>]]``, e.g. ``v1:a:ru:hotline-111``. The language travels with
the button, so a Russian answer's related-question buttons answer in Russian even for a user
whose Telegram is in English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.knowledge import KnowledgeBase
from bot.text import LANGUAGES

VERSION = "v1"
#: Telegram's limit for ``callback_data``, in bytes.
MAX_DATA_BYTES = 64
_ARGUMENT = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class Action(StrEnum):
    """What a button does; the value is its one-letter code in the data."""

    ANSWER = "a"  # send an entry's answer as a new message (related and "did you mean" buttons)
    QUESTION = "q"  # topic browser: show an entry's answer in place, with a way back
    TOPIC = "t"  # topic browser: list a topic's questions in place
    TOPICS = "b"  # topic browser: back to the list of topics, in place
    BROWSE = "m"  # open the topic browser as a new message (greeting and fallback buttons)
    HOTLINES = "p"  # send the helplines
    LANGUAGES = "c"  # send the language menu
    SET_LANGUAGE = "l"  # remember the language chosen in the language menu
    HIDE_CHAT = "h"  # delete this private chat's messages ("Hide this chat")


#: Actions whose argument names an entry or a topic in the knowledge base.
_ENTRY_ACTIONS = frozenset({Action.ANSWER, Action.QUESTION})
_TOPIC_ACTIONS = frozenset({Action.TOPIC})


@dataclass(frozen=True)
class Button:
    """One decoded button press: what to do, in which language, on which entry or topic."""

    action: Action
    lang: str
    arg: str = ""


def encode(button: Button) -> str:
    """The callback data for ``button``; ValueError if it would not fit in 64 bytes."""
    parts = [VERSION, button.action.value, button.lang]
    if button.arg:
        parts.append(button.arg)
    data = ":".join(parts)
    if len(data.encode("utf-8")) > MAX_DATA_BYTES:
        raise ValueError(f"callback data for {button.arg!r} is longer than {MAX_DATA_BYTES} bytes")
    return data


def decode(data: object, kb: KnowledgeBase) -> Button | None:
    """The button ``data`` stands for, or None if it is not a current button of ours."""
    if not isinstance(data, str) or len(data.encode("utf-8")) > MAX_DATA_BYTES:
        return None
    parts = data.split(":")
    if len(parts) not in (3, 4) or parts[0] != VERSION:
        return None
    try:
        action = Action(parts[1])
    except ValueError:
        return None
    lang = parts[2]
    arg = parts[3] if len(parts) == 4 else ""
    if lang not in LANGUAGES or (arg and not _ARGUMENT.match(arg)):
        return None
    button = Button(action, lang, arg)
    return button if _is_current(button, kb) else None


def _is_current(button: Button, kb: KnowledgeBase) -> bool:
    """Whether the entry or topic the button names still exists (and nothing extra is given)."""
    if button.action in _ENTRY_ACTIONS:
        return kb.entry(button.arg) is not None
    if button.action in _TOPIC_ACTIONS:
        return kb.topic(button.arg) is not None
    return not button.arg


def check_fits(kb: KnowledgeBase) -> None:
    """Raise ValueError naming the first entry or topic id too long for a button's data.

    Run at start-up, so that a long id added by an editor stops the bot with a clear message
    instead of making Telegram reject every keyboard that contains it.
    """
    longest_lang = max(LANGUAGES, key=len)
    for entry_id in kb.entries:
        encode(Button(Action.QUESTION, longest_lang, entry_id))
    for topic in kb.topics:
        encode(Button(Action.TOPIC, longest_lang, topic.id))
