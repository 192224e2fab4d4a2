"""A fake Telegram Bot API server for end-to-end tests (see ``server.FakeTelegram``).

Typical use, with the real PTB stack pointed at the fake::

    async with FakeTelegram() as tg:
        app = ApplicationBuilder().token("123:ABC").base_url(tg.base_url).build()
        app.add_handler(...)
        await app.initialize()
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        tg.push(updates.text_message("What are my rights?", user_id=42, language_code="ru"))
        [reply] = await tg.wait_for_calls("sendMessage", chat_id=42)
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        tg.assert_no_errors()

Set ``PTB_TIMEDELTA=1`` in the test environment: PTB 22 otherwise emits a
``PTBDeprecationWarning`` while constructing ``RetryAfter``, which ``filterwarnings = error``
turns into an exception that replaces the ``RetryAfter``.
"""

from . import updates
from .server import (
    ApiError,
    Call,
    FakeTelegram,
    HtmlParseError,
    parse_html,
    telegram_html_error,
    visible_text,
)

__all__ = [
    "ApiError",
    "Call",
    "FakeTelegram",
    "HtmlParseError",
    "parse_html",
    "telegram_html_error",
    "updates",
    "visible_text",
]
