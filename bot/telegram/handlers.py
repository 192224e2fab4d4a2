"""The bot's callbacks: one per thing a user can do.

Each takes what it needs from the update, asks the responder or the knowledge base, and sends a
message built by ``render``. Registration (and its order) lives in ``app.register_handlers``.

Every way a person can write to the bot is checked for a crisis: text, edited text, forwarded
text (a forwarded channel post too), and the captions of photos, videos and files. A crisis
reply goes out ahead of other traffic (``bot.telegram.urgency``); in a group it names the
helplines without quoting the child and invites them to write privately.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

import numpy as np
from telegram import CallbackQuery, Message, ReplyParameters, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.dialogue import Reply
from bot.telegram import render
from bot.telegram.addressing import without_mention
from bot.telegram.callbacks import Action, Button, decode
from bot.telegram.context import BotContext
from bot.telegram.encoding import Lane
from bot.telegram.flood import CrisisAnswer, Verdict
from bot.telegram.logs import log_handler_error, note_reply, unreachable
from bot.telegram.privacy import clear_chat, clear_gap
from bot.telegram.urgency import is_urgent, mark_urgent, message_text

logger = logging.getLogger(__name__)

#: How long a crisis the lexicon flagged on arrival waits for the encoder, which picks the reply
#: written for its kind of danger. Past this it gets the general crisis reply, at once.
URGENT_ENCODE_WAIT = 0.3


# ---- sending ---------------------------------------------------------------------------------


def _is_private(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type == ChatType.PRIVATE


async def send(
    update: Update, context: BotContext, message: render.Rendered, *, quote: bool = True
) -> Message | None:
    """Send ``message`` to the update's chat; in a private chat remember its id for hiding.

    In a group the message answers the one it replies to, unless ``quote`` is False.
    """
    chat = update.effective_chat
    if chat is None:
        return None
    asked = update.message or update.edited_message
    replied = None
    if quote and asked is not None and chat.type != ChatType.PRIVATE:
        # In a busy group, a reply shows which question it answers.
        replied = ReplyParameters(asked.message_id, allow_sending_without_reply=True)
    sent = await context.bot.send_message(
        chat.id, message.text, reply_markup=message.markup, reply_parameters=replied
    )
    if chat.type == ChatType.PRIVATE:
        context.services.tracker.add(chat.id, sent.message_id)
    note_reply(message.kind, message.lang)
    return sent


async def send_reply(update: Update, context: BotContext, reply: Reply) -> None:
    """Send a ``respond()`` reply with the buttons its kind calls for.

    A crisis reply goes first from here on. In a private chat it carries "Hide this chat"; in a
    group everyone can read it, so it is the group notice instead (the helplines and an
    invitation to write privately), not an answer to the child's message.
    """
    private = _is_private(update)
    if reply.kind == "crisis":
        mark_urgent()
        if not private:
            reply = crisis_notice(context, "crisis_group", reply.lang)
    message = render.reply_message(reply, context.kb, private=private)
    await send(update, context, message, quote=reply.kind != "crisis")


def crisis_notice(context: BotContext, key: str, lang: str) -> Reply:
    """One of the crisis notices (``crisis_reminder``, ``crisis_group``) as a crisis reply."""
    text = context.kb.crisis_text(key, lang)
    return Reply(kind="crisis", lang=lang, text=text, body=text)


async def respond(update: Update, context: BotContext, text: str) -> Reply:
    """``respond()`` with the encoder in its worker thread: prepare, encode, reply."""
    responder = context.responder
    message = responder.prepare(text, context.reply_language(update, text))
    vectors = await _vectors(context, message.windows)
    return responder.reply(message, vectors)


async def _vectors(
    context: BotContext, windows: Sequence[str], lane: Lane | None = None
) -> np.ndarray | None:
    """The windows' vectors, or None (judge by the lexicon alone) if they cannot be had in time.

    A crisis the lexicon flagged on arrival does not queue behind other messages: it has a lane
    of its own, and is not waited for longer than URGENT_ENCODE_WAIT.
    """
    encoder = context.services.encoder
    if not windows or not encoder.enabled:
        return None
    if lane is None:
        lane = Lane.URGENT if is_urgent() else Lane.ORDINARY
    wait = URGENT_ENCODE_WAIT if lane is Lane.URGENT else None
    try:
        return await asyncio.wait_for(encoder.encode(windows, lane), wait)
    except TimeoutError:
        return None
    except Exception as error:
        logger.warning("Encoding failed (%s): judging by the lexicon alone", type(error).__name__)
        return None


def _question_text(update: Update, context: BotContext) -> str:
    """What the user wrote (text or caption), without the bot's @name."""
    return without_mention(message_text(update.effective_message), context.bot.username)


async def edit(update: Update, context: BotContext, message: render.Rendered) -> None:
    """Show ``message`` in place of the one whose button was pressed (the topic browser)."""
    query = update.callback_query
    shown = query.message if query is not None else None
    if shown is None:
        return
    try:
        await context.bot.edit_message_text(
            message.text,
            chat_id=shown.chat.id,
            message_id=shown.message_id,
            reply_markup=message.markup,
        )
    except BadRequest as error:
        if "not modified" not in error.message.lower():
            # Deleted meanwhile, or too old to edit: show it as a new message instead.
            await send(update, context, message)
            return
    note_reply(message.kind, message.lang)


async def _answer_query(query: CallbackQuery, text: str | None = None) -> None:
    """Stop the button's spinner; an expired query is not worth an error message."""
    with contextlib.suppress(TelegramError):
        await query.answer(text)


async def _clear_chat(update: Update, context: BotContext, lang: str, key: str, *also: int) -> None:
    """Delete the whole private chat (up to the newest of ``also``), then leave the notice
    ``key``, or ``<key>_partly`` saying honestly that some messages could not be deleted."""
    chat = update.effective_chat
    if chat is None or chat.type != ChatType.PRIVATE:
        return
    cleared = await clear_chat(context.bot, context.services.tracker, chat.id, *also)
    notice = key if cleared.complete else f"{key}_partly"
    sent = await send(update, context, render.notice(context.kb, notice, lang))
    if sent is not None:
        await clear_gap(context.bot, chat.id, cleared, sent.message_id)


# ---- before everything else (negative groups) ---------------------------------------------


async def remember_incoming(update: Update, context: BotContext) -> None:
    """Remember the id (never the text) of a user's private message, for "Hide this chat"."""
    if update.message is not None:
        context.services.tracker.add(update.message.chat.id, update.message.message_id)


async def guard_flood(update: Update, context: BotContext) -> None:
    """Stop a flooding user's messages here: one "slow down", then silence for a while.

    Never for a crisis: the first of a quiet period is answered in full, later ones get the
    one-line reminder. What the lexicon does not flag is checked by meaning when the encoder
    has nothing else to do.
    """
    message = update.effective_message
    if message is None:
        return
    user = update.effective_user
    key = user.id if user is not None else message.chat.id
    flood = context.services.flood
    verdict = flood.check(key)
    if verdict is Verdict.ALLOW:
        return
    text = _question_text(update, context)
    if is_urgent() or context.responder.is_crisis(text):
        mark_urgent()
        if flood.crisis_answer(key) is CrisisAnswer.FULL:
            return  # answered by the handlers, crisis first
        await _remind(update, context, text)
        raise ApplicationHandlerStop
    if verdict is Verdict.WARN:
        lang = context.interface_language(update)
        await send(update, context, render.notice(context.kb, "slow_down", lang))
    else:
        note_reply("ignored", "-")
    if text.strip() and context.services.encoder.enabled:
        context.application.create_task(_check_held_back(update, context, key, text), update=update)
    raise ApplicationHandlerStop


async def _check_held_back(update: Update, context: BotContext, key: int, text: str) -> None:
    """Check a message flood control held back by its meaning, when the encoder is idle."""
    responder = context.responder
    message = responder.prepare(text, context.reply_language(update, text))
    vectors = await _vectors(context, message.windows, Lane.BACKGROUND)
    if vectors is None:
        return
    reply = responder.reply(message, vectors)
    if reply.kind != "crisis":
        return
    mark_urgent()
    if context.services.flood.crisis_answer(key) is CrisisAnswer.FULL:
        await send_reply(update, context, reply)
    else:
        await _remind(update, context, text)


async def _remind(update: Update, context: BotContext, text: str) -> None:
    """The one-line crisis reminder (111 and 112), for a crisis repeated within a flood."""
    lang = context.reply_language(update, text)
    key = "crisis_reminder" if _is_private(update) else "crisis_group"
    await send_reply(update, context, crisis_notice(context, key, lang))


# ---- commands --------------------------------------------------------------------------------


async def start(update: Update, context: BotContext) -> None:
    """Greet with menu buttons; ``/start <topic-id>`` (a deep link) opens that topic."""
    lang = context.interface_language(update)
    kb = context.kb
    topic = kb.topic(context.args[0]) if context.args else None
    if topic is not None and topic in kb.browsable_topics():
        await send(update, context, render.topic_page(kb, topic, lang))
    else:
        await send(update, context, render.greeting(kb, lang, group=not _is_private(update)))


async def help_command(update: Update, context: BotContext) -> None:
    """List the commands and the emergency numbers."""
    await _notice(update, context, "help")


async def topics(update: Update, context: BotContext) -> None:
    """Open the topic browser."""
    lang = context.interface_language(update)
    await send(update, context, render.topics_menu(context.kb, lang))


async def hotline(update: Update, context: BotContext) -> None:
    """List every helpline and what it is for."""
    await _notice(update, context, "hotlines")


async def language(update: Update, context: BotContext) -> None:
    """Offer the three languages as buttons."""
    lang = context.interface_language(update)
    await send(update, context, render.language_menu(context.kb, lang))


async def about(update: Update, context: BotContext) -> None:
    """Say what the bot is, where its facts come from and what it keeps."""
    await _notice(update, context, "about")


async def forget(update: Update, context: BotContext) -> None:
    """Delete the chat's messages the bot can and everything stored about the user."""
    lang = context.interface_language(update)
    if update.effective_user is not None:
        context.application.drop_user_data(update.effective_user.id)
    if not _is_private(update):  # a bot cannot delete a group's messages for a member
        await send(update, context, render.notice(context.kb, "forgotten_group", lang))
        return
    asked = update.effective_message
    await _clear_chat(update, context, lang, "forgotten", *([asked.message_id] if asked else []))


async def _notice(update: Update, context: BotContext, key: str) -> None:
    """Send one interface string in the user's language."""
    lang = context.interface_language(update)
    await send(update, context, render.notice(context.kb, key, lang))


# ---- messages --------------------------------------------------------------------------------


async def on_text(update: Update, context: BotContext) -> None:
    """Answer a question (a new, edited or forwarded text message) with respond()."""
    if update.effective_message is None:
        return
    reply = await respond(update, context, _question_text(update, context))
    await send_reply(update, context, reply)


async def on_caption_or_post(update: Update, context: BotContext) -> None:
    """A caption (of a photo, video or file) or a forwarded channel post is not read as a
    question ("please write it as text"), but a crisis in it is answered."""
    text = _question_text(update, context)
    reply = await respond(update, context, text) if text.strip() else None
    if reply is not None and reply.kind == "crisis":
        await send_reply(update, context, reply)
    else:
        await _notice(update, context, "non_text")


async def on_non_text(update: Update, context: BotContext) -> None:
    """Ask for text when given a sticker, photo, voice note or file without a caption."""
    await _notice(update, context, "non_text")


# ---- buttons ---------------------------------------------------------------------------------


async def on_button(update: Update, context: BotContext) -> None:
    """Act on a pressed button; old, forged or misplaced data gets a polite answer instead."""
    query = update.callback_query
    if query is None:
        return
    button = decode(query.data, context.kb)
    if button is not None and button.action is Action.HIDE_CHAT and not _is_private(update):
        lang = context.interface_language(update)
        await _answer_query(query, context.kb.text("hide_group", lang))
        note_reply("hide_group", lang)
        return
    if button is None or query.message is None:
        lang = context.interface_language(update)
        await _answer_query(query, context.kb.text("stale_button", lang))
        note_reply("stale_button", lang)
        return
    await _answer_query(query)
    await _BUTTON_ACTIONS[button.action](update, context, button)


def _button_language(context: BotContext, button: Button) -> str:
    """The user's /language choice wins over the language the buttons were drawn in."""
    return context.chosen_language() or button.lang


async def _send_answer(update: Update, context: BotContext, button: Button) -> None:
    """Send an entry's answer as a new message (related and "did you mean" buttons)."""
    reply = context.responder.answer(button.arg, _button_language(context, button))
    await send_reply(update, context, reply)


async def _show_question(update: Update, context: BotContext, button: Button) -> None:
    """Topic browser: show an entry's answer in place, with a way back to its topic."""
    reply = context.responder.answer(button.arg, _button_language(context, button))
    topic_id = context.kb.entries[button.arg].topic_id
    await edit(update, context, render.browsed_answer(reply, context.kb, topic_id))


async def _show_topic(update: Update, context: BotContext, button: Button) -> None:
    """Topic browser: list a topic's questions in place."""
    topic = context.kb.topic(button.arg)
    if topic is not None:
        lang = _button_language(context, button)
        await edit(update, context, render.topic_page(context.kb, topic, lang))


async def _show_topics(update: Update, context: BotContext, button: Button) -> None:
    """Topic browser: back to the list of topics, in place."""
    await edit(update, context, render.topics_menu(context.kb, _button_language(context, button)))


async def _send_topics(update: Update, context: BotContext, button: Button) -> None:
    """Open the topic browser as a new message (greeting and fallback buttons)."""
    await send(update, context, render.topics_menu(context.kb, _button_language(context, button)))


async def _send_hotlines(update: Update, context: BotContext, button: Button) -> None:
    """Send the helplines (greeting button)."""
    lang = _button_language(context, button)
    await send(update, context, render.notice(context.kb, "hotlines", lang))


async def _send_languages(update: Update, context: BotContext, button: Button) -> None:
    """Send the language menu (greeting button)."""
    lang = _button_language(context, button)
    await send(update, context, render.language_menu(context.kb, lang))


async def _set_language(update: Update, context: BotContext, button: Button) -> None:
    """Remember the chosen language and confirm it, in that language, in place of the menu."""
    context.choose_language(button.lang)
    await edit(update, context, render.notice(context.kb, "language_set", button.lang))


async def _hide_chat(update: Update, context: BotContext, button: Button) -> None:
    """Delete what can be deleted of this private chat and leave one neutral line."""
    query = update.callback_query
    pressed_on = [query.message.message_id] if query and query.message else []
    lang = _button_language(context, button)
    await _clear_chat(update, context, lang, "chat_hidden", *pressed_on)


_BUTTON_ACTIONS: dict[Action, Callable[[Update, BotContext, Button], Awaitable[None]]] = {
    Action.ANSWER: _send_answer,
    Action.QUESTION: _show_question,
    Action.TOPIC: _show_topic,
    Action.TOPICS: _show_topics,
    Action.BROWSE: _send_topics,
    Action.HOTLINES: _send_hotlines,
    Action.LANGUAGES: _send_languages,
    Action.SET_LANGUAGE: _set_language,
    Action.HIDE_CHAT: _hide_chat,
}


# ---- errors ----------------------------------------------------------------------------------


async def on_error(update: object, context: BotContext) -> None:
    """Log the failure (its type and where, never content) and tell the user, then carry on."""
    error = context.error
    log_handler_error(error, update)  # expected conditions quietly, our own bugs as ERROR
    if not isinstance(update, Update) or isinstance(error, Forbidden) or unreachable(error):
        return
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.CHANNEL:
        return
    lang = context.interface_language(update)
    with contextlib.suppress(TelegramError):
        await send(update, context, render.notice(context.kb, "error", lang))
