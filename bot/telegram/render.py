"""Replies as Telegram messages: HTML text and inline keyboards, nothing else.

Everything that comes from the knowledge base is escaped, so an editor's ``<`` or ``&`` can never
make Telegram reject a message, and the user's own text is never echoed back at all. Every text
is cut to fit Telegram's 4096-character limit (counted in UTF-16 code units, as Telegram does).
These functions build objects and send nothing, so they are tested without a network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import MessageLimit

from bot.dialogue import Reply, Suggestion
from bot.knowledge import KnowledgeBase, Source, Topic
from bot.telegram.callbacks import Action, Button, encode
from bot.text import LANGUAGES

#: Telegram's limit on the visible text of one message.
TEXT_LIMIT = MessageLimit.MAX_TEXT_LENGTH
#: How many "related question" buttons follow an answer.
RELATED_BUTTONS = 3
#: A source title longer than this is shortened (titles come from editors, with no limit).
SOURCE_TITLE_LIMIT = 300
#: Telegram allows 100 buttons per keyboard; a topic's question list stays below that.
TOPIC_BUTTONS = 99
_GAP = "\n\n"
_ELLIPSIS = "…"

Row = list[InlineKeyboardButton]


@dataclass(frozen=True)
class Rendered:
    """A message ready to send: HTML text, optional keyboard, and what it is (for the log)."""

    text: str
    kind: str
    lang: str
    markup: InlineKeyboardMarkup | None = None


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def shorten(text: str, limit: int) -> str:
    """``text`` cut (with an ellipsis) so that it is at most ``limit`` UTF-16 code units."""
    if utf16_len(text) <= limit:
        return text
    room = max(limit - utf16_len(_ELLIPSIS), 0)
    cut = text.encode("utf-16-le", "surrogatepass")[: room * 2]
    return cut.decode("utf-16-le", "ignore").rstrip() + _ELLIPSIS


def compose(body: str, *, title: str = "", footer: tuple[str, str] = ("", "")) -> str:
    """HTML of a bold ``title``, the ``body`` and a ``footer`` given as (plain, HTML).

    Only the body is shortened when the whole would exceed Telegram's limit: the title says
    what is answered and the footer where it comes from, and both are short.
    """
    footer_plain, footer_html = footer
    fixed = sum(utf16_len(part) + len(_GAP) for part in (title, footer_plain) if part)
    parts = [f"<b>{escape(title, quote=False)}</b>"] if title else []
    parts.append(escape(shorten(body, TEXT_LIMIT - fixed), quote=False))
    if footer_html:
        parts.append(footer_html)
    return _GAP.join(parts)


def source_footer(kb: KnowledgeBase, sources: Sequence[Source], lang: str) -> tuple[str, str]:
    """One ``Source: title`` line per source as (plain, HTML), each title a link to it."""
    label = kb.text("source_label", lang)
    plain, html = [], []
    for source in sources:
        title = shorten(source.title(lang), SOURCE_TITLE_LIMIT)
        url = escape(source.url(lang), quote=True)
        plain.append(f"{label}: {title}")
        link = f'<a href="{url}">{escape(title, quote=False)}</a>'
        html.append(f"{escape(label, quote=False)}: {link}")
    return "\n".join(plain), "\n".join(html)


def answer_html(reply: Reply, kb: KnowledgeBase) -> str:
    """An answer: the question it answers in bold, the answer, the details for parents as a
    paragraph of their own, and the sources on the last lines."""
    title = ""
    if reply.kind == "answer" and reply.entry_id in kb.entries:
        title = kb.entries[reply.entry_id].title(reply.lang)
    footer = source_footer(kb, reply.sources, reply.lang) if reply.sources else ("", "")
    body = f"{reply.body}{_GAP}{reply.details}" if reply.details else reply.body
    return compose(body, title=title, footer=footer)


def reply_message(reply: Reply, kb: KnowledgeBase, *, private: bool) -> Rendered:
    """What the bot sends for a ``respond()`` reply, with the buttons its kind calls for."""
    lang = reply.lang
    if reply.kind in ("answer", "smalltalk"):
        rows = _suggestion_rows(reply.related[:RELATED_BUTTONS], lang)
        return Rendered(answer_html(reply, kb), reply.kind, lang, _markup(rows))
    if reply.kind == "clarify":
        rows = _suggestion_rows(reply.suggestions, lang)
    elif reply.kind == "crisis":
        # One button only, and only where it can work: bots can delete both sides of a private
        # chat, but not other people's messages in a group.
        hide = Button(Action.HIDE_CHAT, lang)
        rows = [[_button(kb, "button_hide_chat", hide)]] if private else []
    else:
        rows = [[_button(kb, "button_topics", Button(Action.BROWSE, lang))]]
    return Rendered(compose(reply.text), reply.kind, lang, _markup(rows))


def browsed_answer(reply: Reply, kb: KnowledgeBase, topic_id: str) -> Rendered:
    """An answer shown in the topic browser: a back button returns to its topic."""
    back = Button(Action.TOPIC, reply.lang, topic_id)
    markup = _markup([[_button(kb, "button_back", back)]])
    return Rendered(answer_html(reply, kb), reply.kind, reply.lang, markup)


def greeting(kb: KnowledgeBase, lang: str, *, group: bool = False) -> Rendered:
    """The /start message: what the bot answers, and buttons to browse, call or switch language."""
    text = kb.text("greeting", lang)
    if group:
        text = f"{text}{_GAP}{kb.text('group_hint', lang)}"
    rows = [
        [
            _button(kb, "button_topics", Button(Action.BROWSE, lang)),
            _button(kb, "button_hotlines", Button(Action.HOTLINES, lang)),
        ],
        [_button(kb, "button_language", Button(Action.LANGUAGES, lang))],
    ]
    return Rendered(compose(text), "greeting", lang, _markup(rows))


def topics_menu(kb: KnowledgeBase, lang: str) -> Rendered:
    """The list of topics, one button each."""
    rows = [
        [_labelled(topic.title(lang), Button(Action.TOPIC, lang, topic.id))]
        for topic in kb.browsable_topics()
    ]
    return Rendered(compose(kb.text("topics_heading", lang)), "topics", lang, _markup(rows))


def topic_page(kb: KnowledgeBase, topic: Topic, lang: str) -> Rendered:
    """One topic: its questions as buttons, then a way back to all topics."""
    entries = [kb.entries[eid] for eid in topic.entry_ids if kb.entries[eid].kind == "faq"]
    rows = [
        [_labelled(entry.title(lang), Button(Action.QUESTION, lang, entry.id))]
        for entry in entries[:TOPIC_BUTTONS]
    ]
    rows.append([_button(kb, "button_back", Button(Action.TOPICS, lang))])
    text = compose(kb.text("topic_questions_heading", lang), title=topic.title(lang))
    return Rendered(text, "topic", lang, _markup(rows))


def language_menu(kb: KnowledgeBase, lang: str) -> Rendered:
    """Three buttons, each language named in itself."""
    row = [
        _labelled(kb.text("language_name", code), Button(Action.SET_LANGUAGE, code))
        for code in LANGUAGES
    ]
    return Rendered(compose(kb.text("choose_language", lang)), "languages", lang, _markup([row]))


def notice(kb: KnowledgeBase, key: str, lang: str) -> Rendered:
    """An interface string on its own (help, about, helplines, "slow down", ...)."""
    return Rendered(compose(kb.text(key, lang)), key, lang)


def _suggestion_rows(suggestions: Sequence[Suggestion], lang: str) -> list[Row]:
    return [[_labelled(s.question, Button(Action.ANSWER, lang, s.id))] for s in suggestions]


def _button(kb: KnowledgeBase, label_key: str, button: Button) -> InlineKeyboardButton:
    return _labelled(kb.text(label_key, button.lang), button)


def _labelled(label: str, button: Button) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=encode(button))


def _markup(rows: list[Row]) -> InlineKeyboardMarkup | None:
    return InlineKeyboardMarkup(rows) if rows else None
