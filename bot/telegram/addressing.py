"""Which messages are meant for the bot: everything in a private chat; in groups, only
messages that mention it or reply to it (commands are matched by ``CommandHandler`` itself).

Built from python-telegram-bot's filters; the two small ones here only add the check "is it
*us*", which needs the bot's own id and username, known once the application has started.
"""

from __future__ import annotations

import re

from telegram import Message, MessageEntity
from telegram.constants import MessageOriginType
from telegram.ext import filters


def _bot_mention(message: Message) -> str:
    return f"@{message.get_bot().username}".casefold()


class _MentionsBot(filters.MessageFilter):
    """The message (or a photo's, video's or file's caption) has an @mention of this bot."""

    def filter(self, message: Message) -> bool:
        mention = _bot_mention(message)
        found = [
            *message.parse_entities([MessageEntity.MENTION]).values(),
            *message.parse_caption_entities([MessageEntity.MENTION]).values(),
        ]
        return any(text.casefold() == mention for text in found)


class _RepliesToBot(filters.MessageFilter):
    """The message replies to one of this bot's messages."""

    def filter(self, message: Message) -> bool:
        replied = message.reply_to_message
        author = replied.from_user if replied is not None else None
        return author is not None and author.id == message.get_bot().id


class _ForwardedFromChannel(filters.MessageFilter):
    """The message is a channel post the user forwarded (news, not their question)."""

    def filter(self, message: Message) -> bool:
        origin = message.forward_origin
        return origin is not None and origin.type == MessageOriginType.CHANNEL


#: Messages from people (not channel posts), new or edited.
FROM_PEOPLE = filters.UpdateType.MESSAGES
#: A message the bot should answer.
ADDRESSED = FROM_PEOPLE & (
    filters.ChatType.PRIVATE
    | (
        (filters.Entity(MessageEntity.MENTION) | filters.CaptionEntity(MessageEntity.MENTION))
        & _MentionsBot()
    )
    | (filters.REPLY & _RepliesToBot())
)
FORWARDED_FROM_CHANNEL = _ForwardedFromChannel()


def without_mention(text: str, bot_username: str | None) -> str:
    """The text with ``@bot`` removed, so that the bot's name is not taken for a question word."""
    if not bot_username:
        return text
    return re.sub(rf"@{re.escape(bot_username)}\b", " ", text, flags=re.IGNORECASE).strip()
