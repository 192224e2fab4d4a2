"""What every handler gets besides the update: shared services and the user's language.

The services are built once in ``build_application`` and kept in ``bot_data`` (which is never
persisted); ``BotContext`` gives handlers typed access to them, so no handler needs ``cast()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from telegram import Update, User
from telegram.ext import CallbackContext, ContextTypes, ExtBot

from bot.dialogue import Responder
from bot.knowledge import KnowledgeBase
from bot.storage import FileStore
from bot.telegram.encoding import EncoderWorker
from bot.telegram.flood import FloodGuard
from bot.telegram.persistence import LANGUAGE_KEY
from bot.telegram.privacy import MessageTracker
from bot.text import DEFAULT_LANGUAGE, LANGUAGES

SERVICES = "services"


@dataclass
class Services:
    """Built once per application: the answering pipeline and the in-memory safety state."""

    responder: Responder
    tracker: MessageTracker = field(default_factory=lambda: MessageTracker(FileStore(None)))
    flood: FloodGuard = field(default_factory=FloodGuard)
    #: The responder's sentence encoder, run in its own thread (``bot.telegram.encoding``).
    encoder: EncoderWorker = field(init=False)

    def __post_init__(self) -> None:
        self.encoder = EncoderWorker(self.responder.encode)


def telegram_language(user: User | None) -> str:
    """The user's app language if we speak it (``ru-RU`` counts as ``ru``), else English."""
    code = (user.language_code or "") if user is not None else ""
    base = code.lower().split("-")[0]
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


UserData = dict[str, str]
BotData = dict[str, Services]


class BotContext(CallbackContext[ExtBot[None], UserData, dict[Any, Any], BotData]):
    """``CallbackContext`` with the bot's services and language rules."""

    @property
    def services(self) -> Services:
        return self.bot_data[SERVICES]

    @property
    def responder(self) -> Responder:
        return self.services.responder

    @property
    def kb(self) -> KnowledgeBase:
        return self.services.responder.kb

    def chosen_language(self) -> str | None:
        """The language the user picked with /language, if any."""
        lang = self.user_data.get(LANGUAGE_KEY) if self.user_data is not None else None
        return lang if lang in LANGUAGES else None

    def choose_language(self, lang: str) -> None:
        """Remember the user's /language choice (persisted across restarts)."""
        if self.user_data is not None:
            self.user_data[LANGUAGE_KEY] = lang

    def interface_language(self, update: Update) -> str:
        """For menus and notices: the user's choice, else their Telegram app's language."""
        return self.chosen_language() or telegram_language(update.effective_user)

    def reply_language(self, update: Update, text: str) -> str:
        """For answers: the user's choice, else the language the text is written in."""
        return self.chosen_language() or self.responder.detect_language(
            text, default=telegram_language(update.effective_user)
        )


CONTEXT_TYPES = ContextTypes(context=BotContext)
