"""Inline mode: typing ``@bot question`` in any chat offers the best answers as articles.

The articles come from the same ``respond()`` as a chat message: a confident answer and its
related questions, or the "did you mean" suggestions, or the crisis reply, or one article saying
nothing was found. Nothing about the query is stored.
"""

from __future__ import annotations

from telegram import (
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import InlineQueryLimit, ParseMode

from bot.dialogue import Reply, Responder
from bot.telegram.context import BotContext
from bot.telegram.handlers import respond
from bot.telegram.logs import note_reply
from bot.telegram.render import answer_html, compose, shorten

#: Telegram sends at most 256 characters; a forged longer query is cut to that.
MAX_QUERY = InlineQueryLimit.MAX_QUERY_LENGTH
MAX_RESULTS = 5
TITLE_LIMIT = 64
DESCRIPTION_LIMIT = 100
#: Results may be cached by Telegram for this long, per user (answers depend on their language).
CACHE_SECONDS = 60
#: ``/start`` parameter of the "open the bot" button shown for an empty query.
START_PARAMETER = "inline"


async def on_inline_query(update: Update, context: BotContext) -> None:
    """Offer answers to ``@bot question``; an empty query gets a hint to type one."""
    query = update.inline_query
    if query is None:
        return
    text = query.query[:MAX_QUERY]
    if not text.strip():
        lang = context.interface_language(update)
        hint = InlineQueryResultsButton(
            text=context.kb.text("inline_hint", lang), start_parameter=START_PARAMETER
        )
        await query.answer([], button=hint, cache_time=CACHE_SECONDS, is_personal=True)
        note_reply("inline_hint", lang)
        return
    reply = await respond(update, context, text)  # the encoder in its worker thread
    results = articles(reply, context.responder)
    await query.answer(results, cache_time=CACHE_SECONDS, is_personal=True)
    note_reply(f"inline_{reply.kind}", reply.lang)


def articles(reply: Reply, responder: Responder) -> list[InlineQueryResultArticle]:
    """The articles offered for ``reply``: answers if there are any, else one honest article."""
    kb = responder.kb
    if reply.kind in ("answer", "smalltalk") and reply.entry_id:
        entry_ids = [reply.entry_id, *(s.id for s in reply.related)]
    elif reply.kind == "clarify":
        entry_ids = [s.id for s in reply.suggestions]
    else:
        # The crisis reply is titled with its own first line ("You are not alone ...").
        title = reply.body.splitlines()[0]
        if reply.kind == "fallback":
            title = kb.text("inline_no_results", reply.lang)
        return [_article(reply.kind, title, reply.body, compose(reply.text))]
    return [
        _answer_article(responder.answer(entry_id, reply.lang), responder)
        for entry_id in entry_ids[:MAX_RESULTS]
    ]


def _answer_article(reply: Reply, responder: Responder) -> InlineQueryResultArticle:
    entry = responder.kb.entries[reply.entry_id or ""]
    return _article(entry.id, entry.title(reply.lang), reply.body, answer_html(reply, responder.kb))


def _article(result_id: str, title: str, description: str, html: str) -> InlineQueryResultArticle:
    return InlineQueryResultArticle(
        id=result_id,
        title=shorten(title, TITLE_LIMIT),
        description=shorten(description, DESCRIPTION_LIMIT),
        input_message_content=InputTextMessageContent(
            html,
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        ),
    )
