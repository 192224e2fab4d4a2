"""Logging that is useful to an operator and useless to anyone curious about a child.

One INFO line per update: its kind, the reply's language, the reply's kind and the milliseconds
it took. Never message text, names, usernames or user ids; never the token. Two defences:

* what we log ourselves never contains those (handlers only report a kind and a language);
* a ``PrivacyFilter`` on every log handler withholds Telegram objects and raw update JSON that a
  library may pass as log arguments, and redacts anything shaped like a bot token (httpx and
  python-telegram-bot put the token in request URLs). Their loggers are also kept at WARNING,
  because at DEBUG they log whole updates.
"""

from __future__ import annotations

import logging
import re
import time
import traceback
from collections.abc import Awaitable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from telegram import TelegramObject, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

logger = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Libraries whose DEBUG/INFO lines carry request URLs (with the token) or whole updates.
QUIET_LOGGERS = ("httpx", "httpcore", "telegram", "tornado", "hpack")
TOKEN_PATTERN = re.compile(r"\d+:[A-Za-z0-9_-]{30,}")
REDACTED_TOKEN = "<token>"
WITHHELD = "<withheld>"


class _Withheld:
    """Stands in for a withheld log argument; ``%s`` and ``%r`` both print ``<withheld>``."""

    def __repr__(self) -> str:
        return WITHHELD

    __str__ = __repr__


_WITHHELD = _Withheld()

_formatter = logging.Formatter()


def redact(text: str) -> str:
    """``text`` with anything shaped like a bot token replaced."""
    return TOKEN_PATTERN.sub(REDACTED_TOKEN, text)


def _withhold(value: object) -> object:
    """A placeholder for Telegram objects and raw JSON (which hold names and message text)."""
    return _WITHHELD if isinstance(value, (TelegramObject, Mapping, list)) else value


class PrivacyFilter(logging.Filter):
    """Withholds updates passed as log arguments and redacts tokens, in messages and tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, Mapping) and "%(" not in str(record.msg):
            # logging unwraps a single dict argument: this is `log("... %r", update_json)`
            record.args = (_WITHHELD,)
        elif isinstance(args, Mapping):
            record.args = {key: _withhold(value) for key, value in args.items()}
        elif args:
            record.args = tuple(_withhold(value) for value in args)
        try:
            message = record.getMessage()
        except Exception:  # a library's broken format string must not break its caller
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = _formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def quiet_libraries() -> None:
    """Keep the libraries that log URLs with the token, or whole updates, at WARNING."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure_logging(level: str) -> None:
    """Set up logging once for the whole process (calling it again changes nothing)."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format=LOG_FORMAT)
    numeric = logging.getLevelName(level.upper())
    root.setLevel(numeric if isinstance(numeric, int) else logging.INFO)
    quiet_libraries()
    for handler in root.handlers:
        if not any(isinstance(f, PrivacyFilter) for f in handler.filters):
            handler.addFilter(PrivacyFilter())
    if not isinstance(numeric, int):
        logger.warning("LOG_LEVEL %r is not a logging level; using INFO", level)


# ---- one line per update -------------------------------------------------------------------


@dataclass
class _Outcome:
    reply: str = "none"
    lang: str = "-"


_outcome: ContextVar[_Outcome | None] = ContextVar("update_outcome", default=None)


def note_reply(kind: str, lang: str) -> None:
    """Record what the bot answered to the update being handled (for its log line)."""
    outcome = _outcome.get()
    if outcome is not None:
        outcome.reply, outcome.lang = kind, lang


async def log_update(update: object, handling: Awaitable[Any]) -> None:
    """Await ``handling`` (all handlers for ``update``) and log one line about it."""
    outcome = _Outcome()
    token = _outcome.set(outcome)
    started = time.perf_counter()
    try:
        await handling
    finally:
        _outcome.reset(token)
        milliseconds = (time.perf_counter() - started) * 1000
        logger.info(
            "update=%s lang=%s reply=%s ms=%.1f",
            update_kind(update),
            outcome.lang,
            outcome.reply,
            milliseconds,
        )


def unreachable(error: BaseException | None) -> bool:
    """Telegram could not be reached in time (a network error, a timeout, a long 429): a reply
    about the failure would only fail the same way, or arrive as a duplicate."""
    return isinstance(error, (NetworkError, RetryAfter)) and not isinstance(error, BadRequest)


def log_handler_error(error: BaseException | None, update: object) -> None:
    """Log a handler's failure: expected conditions in one quiet line, our own bugs as ERROR.

    Expected: the user blocked the bot or left (Forbidden), the chat is gone, Telegram could not
    be reached in time (network errors, timeouts, rate limits outlasting the retries). Anything
    else is a bug: ERROR with the code locations, never the exception's message (it may quote
    what the user wrote).
    """
    kind = update_kind(update)
    name = type(error).__name__
    if isinstance(error, Forbidden):
        logger.info("Reply to %s not delivered: the user blocked the bot or left", kind)
    elif isinstance(error, BadRequest) and "chat not found" in error.message.lower():
        logger.warning("Reply to %s not delivered: the chat is gone", kind)
    elif unreachable(error):
        logger.warning("Reply to %s not delivered: Telegram unreachable (%s)", kind, name)
    else:
        where = "".join(traceback.format_tb(error.__traceback__)) if error is not None else ""
        logger.error("%s while handling %s\n%s", name, kind, where)


def update_kind(update: object) -> str:
    """A name for the kind of update, e.g. ``message/text``: never anything from its content."""
    if not isinstance(update, Update):
        return type(update).__name__
    kind = next((name for name in Update.ALL_TYPES if getattr(update, name, None)), "unknown")
    message = update.message or update.edited_message
    if message is None:
        return kind
    if not message.text:
        return f"{kind}/other"
    return f"{kind}/{'command' if message.text.startswith('/') else 'text'}"
