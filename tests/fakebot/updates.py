"""Factories for Telegram-shaped update dicts, as the Bot API would deliver them.

Every factory returns a plain ``dict`` shaped like a Bot API ``Update`` but **without** an
``update_id`` and, for new messages, with ``"message_id": None``: the fake server owns both
counters (update ids increase globally, message ids increase per chat and are shared between
user and bot messages, exactly like real private chats), so ``FakeTelegram.push()`` fills them in.
That keeps ids consistent however the test mixes user messages and bot replies.

Entity offsets and lengths are in UTF-16 code units, as in the real API (PTB relies on that when
it slices ``message.text`` for commands and mentions).
"""

from __future__ import annotations

import copy
import itertools
import time
from typing import Any

BOT_USERNAME = "kidsrights_test_bot"
DEFAULT_GROUP_ID = -1001000000001
DEFAULT_CHANNEL_ID = -1001000000002

_query_ids = itertools.count(1)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: the unit Telegram uses for entity offsets and lengths."""
    return len(text.encode("utf-16-le")) // 2


def _now() -> int:
    return int(time.time())


def user(
    user_id: int = 1,
    *,
    first_name: str = "Test",
    username: str | None = None,
    language_code: str | None = "en",
    is_bot: bool = False,
) -> dict[str, Any]:
    """A ``User`` object; ``language_code`` is what the bot uses to pick en/ru/kk."""
    result: dict[str, Any] = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
    if username is not None:
        result["username"] = username
    if language_code is not None:
        result["language_code"] = language_code
    return result


def chat(
    chat_id: int,
    chat_type: str = "private",
    *,
    first_name: str = "Test",
    username: str | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """A ``Chat`` object: private chats carry the user's name, groups and channels a title."""
    result: dict[str, Any] = {"id": chat_id, "type": chat_type}
    if chat_type == "private":
        result["first_name"] = first_name
    else:
        result["title"] = title or ("Test channel" if chat_type == "channel" else "Test group")
    if username is not None:
        result["username"] = username
    return result


def _default_chat_id(user_id: int, chat_type: str) -> int:
    if chat_type == "private":
        return user_id
    return DEFAULT_CHANNEL_ID if chat_type == "channel" else DEFAULT_GROUP_ID


def _message(
    content: dict[str, Any],
    *,
    user_id: int = 1,
    chat_id: int | None = None,
    chat_type: str = "private",
    language_code: str | None = "en",
    first_name: str = "Test",
    username: str | None = None,
    title: str | None = None,
    reply_to_message: dict[str, Any] | None = None,
    message_id: int | None = None,
    date: int | None = None,
) -> dict[str, Any]:
    """Build a ``Message`` sent by a user; the server fills ``message_id`` when it is None."""
    msg: dict[str, Any] = {
        "message_id": message_id,
        "from": user(
            user_id, first_name=first_name, username=username, language_code=language_code
        ),
        "chat": chat(
            chat_id if chat_id is not None else _default_chat_id(user_id, chat_type),
            chat_type,
            first_name=first_name,
            username=username if chat_type == "private" else None,
            title=title,
        ),
        "date": date if date is not None else _now(),
    }
    if reply_to_message is not None:
        msg["reply_to_message"] = copy.deepcopy(reply_to_message)
    msg.update(content)
    return msg


def text_message(
    text: str,
    *,
    user_id: int = 1,
    chat_id: int | None = None,
    chat_type: str = "private",
    language_code: str | None = "en",
    first_name: str = "Test",
    username: str | None = None,
    title: str | None = None,
    reply_to_message: dict[str, Any] | None = None,
    entities: list[dict[str, Any]] | None = None,
    message_id: int | None = None,
    date: int | None = None,
) -> dict[str, Any]:
    """An update with a plain text ``message`` (private chat with ``user_id`` by default)."""
    content: dict[str, Any] = {"text": text}
    if entities:
        content["entities"] = entities
    return {
        "message": _message(
            content,
            user_id=user_id,
            chat_id=chat_id,
            chat_type=chat_type,
            language_code=language_code,
            first_name=first_name,
            username=username,
            title=title,
            reply_to_message=reply_to_message,
            message_id=message_id,
            date=date,
        )
    }


def command(
    text: str = "/start",
    *,
    bot_username: str = BOT_USERNAME,
    mention_bot: bool | None = None,
    chat_type: str = "private",
    **kwargs: Any,
) -> dict[str, Any]:
    """A command message with the ``bot_command`` entity PTB's ``CommandHandler`` requires.

    In groups Telegram clients send ``/start@botname``; ``mention_bot`` (default: True outside
    private chats) appends the bot's username to the command word when it has none.
    """
    if not text.startswith("/"):
        raise ValueError("a command starts with '/'")
    word, sep, rest = text.partition(" ")
    if mention_bot is None:
        mention_bot = chat_type != "private"
    if mention_bot and "@" not in word:
        word = f"{word}@{bot_username}"
    full = word + sep + rest
    entity = {"type": "bot_command", "offset": 0, "length": utf16_len(word)}
    return text_message(full, chat_type=chat_type, entities=[entity], **kwargs)


def mention_in_group(
    text: str,
    *,
    bot_username: str = BOT_USERNAME,
    chat_type: str = "supergroup",
    **kwargs: Any,
) -> dict[str, Any]:
    """A group message mentioning the bot (prefixed with ``@bot`` unless the text has it)."""
    mention = f"@{bot_username}"
    if mention not in text:
        text = f"{mention} {text}"
    start = text.index(mention)
    entity = {"type": "mention", "offset": utf16_len(text[:start]), "length": utf16_len(mention)}
    return text_message(text, chat_type=chat_type, entities=[entity], **kwargs)


def edited_message(text: str, *, message_id: int, **kwargs: Any) -> dict[str, Any]:
    """An ``edited_message`` update: the user changed the text of message ``message_id``."""
    msg = text_message(text, message_id=message_id, **kwargs)["message"]
    msg["edit_date"] = _now()
    return {"edited_message": msg}


def sticker(*, emoji: str = "👍", **kwargs: Any) -> dict[str, Any]:
    """A sticker message (no text: handlers filtering on ``filters.TEXT`` must ignore it)."""
    content = {
        "sticker": {
            "file_id": "sticker-file-id",
            "file_unique_id": "sticker-unique",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
    }
    return {"message": _message(content, **kwargs)}


def photo(*, caption: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """A photo message, optionally with a caption (captions are not ``text``)."""
    sizes = [
        {"file_id": f"photo-{w}", "file_unique_id": f"photo-u-{w}", "width": w, "height": w}
        for w in (90, 320, 800)
    ]
    content: dict[str, Any] = {"photo": sizes}
    if caption is not None:
        content["caption"] = caption
    return {"message": _message(content, **kwargs)}


def voice(*, duration: int = 3, **kwargs: Any) -> dict[str, Any]:
    """A voice note message."""
    content = {
        "voice": {
            "file_id": "voice-file-id",
            "file_unique_id": "voice-unique",
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": 4096,
        }
    }
    return {"message": _message(content, **kwargs)}


def document(
    *,
    file_name: str = "document.pdf",
    mime_type: str = "application/pdf",
    caption: str | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """A document (file) message."""
    content: dict[str, Any] = {
        "document": {
            "file_id": "document-file-id",
            "file_unique_id": "document-unique",
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": 12345,
        }
    }
    if caption is not None:
        content["caption"] = caption
    return {"message": _message(content, **kwargs)}


def channel_post(
    text: str,
    *,
    chat_id: int = DEFAULT_CHANNEL_ID,
    title: str = "Test channel",
    username: str | None = None,
    message_id: int | None = None,
) -> dict[str, Any]:
    """A ``channel_post`` update: no ``from``, only ``sender_chat`` (PTB's ``effective_user``
    is None here, a classic crash source)."""
    channel = chat(chat_id, "channel", title=title, username=username)
    post = {
        "message_id": message_id,
        "sender_chat": channel,
        "chat": channel,
        "date": _now(),
        "text": text,
    }
    return {"channel_post": post}


def forwarded_from_channel(
    text: str,
    *,
    channel_id: int = DEFAULT_CHANNEL_ID,
    channel_title: str = "Test channel",
    channel_message_id: int = 1,
    **kwargs: Any,
) -> dict[str, Any]:
    """A private message the user forwarded from a channel (Bot API 7 ``forward_origin``)."""
    update = text_message(text, **kwargs)
    update["message"]["forward_origin"] = {
        "type": "channel",
        "chat": chat(channel_id, "channel", title=channel_title),
        "message_id": channel_message_id,
        "date": _now() - 60,
    }
    return update


def callback_query(
    data: str,
    *,
    message: dict[str, Any] | None = None,
    user_id: int | None = None,
    language_code: str | None = "en",
    first_name: str = "Test",
    username: str | None = None,
    query_id: str | None = None,
    chat_instance: str | None = None,
) -> dict[str, Any]:
    """A button press on ``message`` (a message dict the bot sent, e.g. from
    ``tg.last_bot_message(chat_id)`` or a recorded ``sendMessage`` result).

    ``user_id`` defaults to the private chat's user. ``message=None`` builds a callback without
    a message (as for inline-mode messages), which handlers must survive.
    """
    if user_id is None:
        msg_chat = (message or {}).get("chat", {})
        user_id = msg_chat.get("id", 1) if msg_chat.get("type") == "private" else 1
    query: dict[str, Any] = {
        "id": query_id or f"cbq-{next(_query_ids)}",
        "from": user(
            user_id, first_name=first_name, username=username, language_code=language_code
        ),
        "chat_instance": chat_instance
        or str((message or {}).get("chat", {}).get("id", f"inline-{user_id}")),
        "data": data,
    }
    if message is not None:
        query["message"] = copy.deepcopy(message)
    else:
        query["inline_message_id"] = f"inline-msg-{user_id}"
    return {"callback_query": query}


def inline_query(
    query: str,
    *,
    user_id: int = 1,
    language_code: str | None = "en",
    first_name: str = "Test",
    username: str | None = None,
    offset: str = "",
    chat_type: str | None = "sender",
    query_id: str | None = None,
) -> dict[str, Any]:
    """An ``inline_query`` (``@bot question`` typed in any chat)."""
    result: dict[str, Any] = {
        "id": query_id or f"iq-{next(_query_ids)}",
        "from": user(
            user_id, first_name=first_name, username=username, language_code=language_code
        ),
        "query": query,
        "offset": offset,
    }
    if chat_type is not None:
        result["chat_type"] = chat_type
    return {"inline_query": result}


def my_chat_member(
    status: str = "kicked",
    *,
    user_id: int = 1,
    language_code: str | None = "en",
    bot_username: str = BOT_USERNAME,
) -> dict[str, Any]:
    """The user blocked (``"kicked"``) or restarted (``"member"``) the bot in their private
    chat. Pushing it also makes the fake answer sends to that chat with 403 (or stop doing so),
    as Telegram does."""
    bot = user(999, first_name="Kids Rights Test Bot", username=bot_username, is_bot=True)
    del bot["language_code"]

    def member(member_status: str) -> dict[str, Any]:
        result: dict[str, Any] = {"status": member_status, "user": bot}
        if member_status == "kicked":
            result["until_date"] = 0
        return result

    return {
        "my_chat_member": {
            "chat": chat(user_id),
            "from": user(user_id, language_code=language_code),
            "date": _now(),
            "old_chat_member": member("member" if status == "kicked" else "kicked"),
            "new_chat_member": member(status),
        }
    }


def raw(**fields: Any) -> dict[str, Any]:
    """Any update shape at all, e.g. ``raw(poll={...})`` or one with an unknown update type."""
    return copy.deepcopy(fields)


def without(update: dict[str, Any], *paths: str) -> dict[str, Any]:
    """A deep copy of ``update`` with dotted ``paths`` removed, to build malformed updates:
    ``without(text_message("hi"), "message.from")`` or
    ``without(callback_query("x", message=m), "callback_query.message")``."""
    result = copy.deepcopy(update)
    for path in paths:
        *parents, last = path.split(".")
        node: Any = result
        for key in parents:
            node = node[key]
        node.pop(last, None)
    return result
