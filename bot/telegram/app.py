"""Building and running the Telegram application: the one place where handlers are wired.

``build_application`` assembles python-telegram-bot's parts (rate limiter, update processor,
persistence, defaults, handlers) around a ``Responder``; tests and benchmarks use it against the
fake Bot API server. ``run_bot`` configures logging and runs it by long polling, or by webhook
when ``WEBHOOK_URL`` is set, until Ctrl-C or SIGTERM (persistence is written on the way out).
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot.config import Settings
from bot.dialogue import Responder
from bot.knowledge import KnowledgeBase
from bot.storage import Store, open_store
from bot.telegram import handlers
from bot.telegram.addressing import ADDRESSED, FORWARDED_FROM_CHANNEL, FROM_PEOPLE
from bot.telegram.callbacks import check_fits
from bot.telegram.context import CONTEXT_TYPES, SERVICES, BotContext, Services
from bot.telegram.delivery import (
    CONNECTIONS,
    READ_TIMEOUT,
    SENDS_PER_SECOND,
    OrderedUpdateProcessor,
    Patience,
    PatientRateLimiter,
    UpdatesRequest,
)
from bot.telegram.inline import on_inline_query
from bot.telegram.intake import BotApplication, ConfirmingUpdater
from bot.telegram.logs import configure_logging
from bot.telegram.persistence import LanguagePersistence
from bot.telegram.privacy import MessageTracker
from bot.telegram.urgency import crisis_on_arrival
from bot.text import DEFAULT_LANGUAGE, LANGUAGES

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2

#: The updates the bot asks Telegram for; channel posts, reactions and the rest never arrive.
ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CALLBACK_QUERY,
    Update.INLINE_QUERY,
]

Callback = Callable[[Update, BotContext], Awaitable[None]]
#: Commands in menu order: (command, key of its menu description in ui.yaml, callback).
COMMANDS: tuple[tuple[str, str, Callback], ...] = (
    ("start", "cmd_start", handlers.start),
    ("topics", "cmd_topics", handlers.topics),
    ("hotline", "cmd_hotline", handlers.hotline),
    ("language", "cmd_language", handlers.language),
    ("about", "cmd_about", handlers.about),
    ("forget", "cmd_forget", handlers.forget),
    ("help", "cmd_help", handlers.help_command),
)


def build_application(
    settings: Settings,
    kb: KnowledgeBase,
    *,
    responder: Responder | None = None,
    sends_per_second: float = SENDS_PER_SECOND,
    patience: Patience | None = None,
    read_timeout: float = READ_TIMEOUT,
    store: Store | None = None,
) -> BotApplication:
    """The bot's Application, ready for ``initialize()``/``start()`` or ``run_polling()``.

    ``sends_per_second`` is Telegram's overall limit (0 lifts it, for measuring the bot itself);
    ``patience`` how long sending is retried (default ``Patience()``; tests make it short).
    ``read_timeout`` is how long an answer from Telegram is waited for; ``store`` where
    languages, handled updates and message spans live (default: what ``STORAGE_URL`` names).
    Raises ValueError if an entry or topic id is too long to fit in a button.
    """
    check_fits(kb)
    if store is None:
        store = open_store(settings.storage_url, settings.data_dir, namespace=bot_id(settings))
    tracker = MessageTracker(store)
    processor = OrderedUpdateProcessor()
    builder = (
        ApplicationBuilder()
        .application_class(BotApplication)
        .token(settings.token)
        .context_types(CONTEXT_TYPES)
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .rate_limiter(PatientRateLimiter(sends_per_second=sends_per_second, patience=patience))
        .connection_pool_size(CONNECTIONS)
        .read_timeout(read_timeout)
        .get_updates_request(UpdatesRequest())
        .concurrent_updates(processor)
        .persistence(LanguagePersistence(store))
        .post_init(set_command_menus)
    )
    if settings.api_base_url:
        builder = builder.base_url(settings.api_base_url)
    application = builder.build()
    assert isinstance(application, BotApplication)
    # Updates are confirmed to Telegram only once handled (see bot.telegram.intake).
    application.attach(store, tracker)
    application.updater = ConfirmingUpdater(application)
    application.bot_data[SERVICES] = Services(
        responder or Responder.for_knowledge(kb, settings.knowledge_dir), tracker=tracker
    )
    # A crisis is recognised the moment its update arrives, and goes ahead of everything else.
    processor.is_urgent = crisis_on_arrival(application.bot_data[SERVICES].responder)
    register_handlers(application)
    return application


def register_handlers(application: Application) -> None:
    """Add every handler. Order matters: groups run from the lowest number up, and within a
    group only the first handler whose filters match an update runs."""
    # -2: remember the ids of private messages first, so "Hide this chat" can delete even the
    # messages that flood control swallows.
    application.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE, handlers.remember_incoming
        ),
        group=-2,
    )
    # -1: flood control; it ends the update (ApplicationHandlerStop) for a flooding user.
    application.add_handler(
        MessageHandler(ADDRESSED | (FROM_PEOPLE & filters.COMMAND), handlers.guard_flood),
        group=-1,
    )
    # 0: commands before free text, so that "/start" is never taken for a question; CommandHandler
    # also accepts "/start@ourbot" in groups and ignores commands meant for other bots.
    for command, _, callback in COMMANDS:
        application.add_handler(CommandHandler(command, callback))
    application.add_handler(CallbackQueryHandler(handlers.on_button))
    application.add_handler(InlineQueryHandler(on_inline_query))
    # A forwarded channel post has text, but it is not the user's question: before on_text.
    # It is still read for a crisis, and so are the captions of photos, videos and files.
    application.add_handler(
        MessageHandler(
            ADDRESSED & (FORWARDED_FROM_CHANNEL | filters.CAPTION), handlers.on_caption_or_post
        )
    )
    application.add_handler(
        MessageHandler(ADDRESSED & filters.TEXT & ~filters.COMMAND, handlers.on_text)
    )
    # Unknown commands get the help text in a private chat (in a group they may be another bot's).
    application.add_handler(MessageHandler(ADDRESSED & filters.COMMAND, handlers.help_command))
    # Last: whatever else reaches us (stickers, photos, voice, files, empty text) in a private
    # chat, or sent to us in a group as a reply. Group service messages stay unanswered.
    application.add_handler(
        MessageHandler(
            ADDRESSED & (filters.ChatType.PRIVATE | filters.ATTACHMENT), handlers.on_non_text
        )
    )
    # Channel posts match nothing above and are ignored.
    application.add_error_handler(handlers.on_error)


async def set_command_menus(application: Application) -> None:
    """Set the command menu once per language (English is the default for everyone else)."""
    kb = application.bot_data[SERVICES].responder.kb
    for lang in LANGUAGES:
        commands = [BotCommand(name, kb.text(key, lang)) for name, key, _ in COMMANDS]
        code = None if lang == DEFAULT_LANGUAGE else lang
        try:
            await application.bot.set_my_commands(commands, language_code=code)
        except TelegramError as error:
            # The menu is a convenience: without it, the bot still answers.
            logger.warning("Could not set the %s command menu (%s)", lang, type(error).__name__)


def webhook_options(settings: Settings) -> dict[str, Any]:
    """Arguments for ``run_webhook`` (and ``Updater.start_webhook``) from the settings.

    The listener binds to ``LISTEN`` only. If ``WEBHOOK_URL`` has no path, one derived from the
    token is added, so that the endpoint cannot be guessed; ``WEBHOOK_SECRET`` is checked on
    every request (python-telegram-bot answers 403 when it is missing or wrong).
    """
    url_path, webhook_url = webhook_route(settings.webhook_url or "", settings.token)
    return {
        "listen": settings.listen,
        "port": settings.port,
        "url_path": url_path,
        "webhook_url": webhook_url,
        "secret_token": settings.webhook_secret or None,
        "allowed_updates": ALLOWED_UPDATES,
    }


def bot_id(settings: Settings) -> str:
    """The bot's numeric id (the token's public part), to keep bots apart in shared storage."""
    return settings.token.split(":", 1)[0] if ":" in settings.token else ""


def webhook_route(webhook_url: str, token: str) -> tuple[str, str]:
    """(path to listen on, URL to register with Telegram) for ``webhook_url``."""
    parts = urlsplit(webhook_url)
    path = parts.path.strip("/")
    if path:
        return path, webhook_url
    path = "telegram-" + hashlib.sha256(token.encode()).hexdigest()[:32]
    return path, urlunsplit(parts._replace(path=f"/{path}"))


def run_bot(settings: Settings, kb: KnowledgeBase) -> int:
    """Run the bot until Ctrl-C or SIGTERM; the exit code for the command line."""
    configure_logging(settings.log_level)
    # Opt in to PTB 22's future `timedelta` durations now, instead of a deprecation warning.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    try:
        application = build_application(settings, kb)
    except (ValueError, OSError) as error:
        print(f"Cannot start the Telegram bot: {error}", file=sys.stderr)
        return EXIT_FAILED
    try:
        if settings.webhook_url:
            logger.info("Receiving updates by webhook on %s:%d", settings.listen, settings.port)
            application.run_webhook(**webhook_options(settings))
        else:
            logger.info("Receiving updates by long polling")
            application.run_polling(allowed_updates=ALLOWED_UPDATES)
    except InvalidToken:
        print(
            "Cannot start the Telegram bot: Telegram does not accept TELEGRAM_BOT_TOKEN "
            "(check it with @BotFather).",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    except TelegramError as error:
        print(
            "Cannot start the Telegram bot: Telegram could not be reached "
            f"({type(error).__name__}).",
            file=sys.stderr,
        )
        return EXIT_FAILED
    logger.info("Stopped")
    return EXIT_OK
