"""Remembering each user's chosen language across restarts, and nothing else.

``PicklePersistence`` as python-telegram-bot ships it, restricted: only ``user_data`` is stored,
and of that only the ``lang`` key with a known language; users who never chose a language are
not written at all (otherwise every user id that ever wrote to the bot would end up on disk).
The file is made readable by the bot's own user only (mode 0600) in a directory only it can
enter, when the bot creates that directory.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from telegram.ext import PersistenceInput, PicklePersistence

from bot.text import LANGUAGES

#: The only key of ``context.user_data`` that is ever stored.
LANGUAGE_KEY = "lang"
FILE_NAME = "users.pickle"
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
#: Seconds between writes of changed data (the file is also written on a clean shutdown).
UPDATE_INTERVAL = 10.0
STORE = PersistenceInput(bot_data=False, chat_data=False, user_data=True, callback_data=False)


class LanguagePersistence(PicklePersistence):
    """A pickle file holding ``{user_id: {"lang": "ru"}}`` for users who chose a language."""

    def __init__(self, data_dir: Path) -> None:
        if not data_dir.exists():
            data_dir.mkdir(parents=True, mode=DIRECTORY_MODE)
        super().__init__(data_dir / FILE_NAME, store_data=STORE, update_interval=UPDATE_INTERVAL)
        self._make_private()

    async def update_user_data(self, user_id: int, data: dict[Any, Any]) -> None:
        """Store the user's language choice; a user without one is not stored at all."""
        kept = {LANGUAGE_KEY: data[LANGUAGE_KEY]} if data.get(LANGUAGE_KEY) in LANGUAGES else {}
        if kept:
            await super().update_user_data(user_id, kept)
        elif self.user_data and user_id in self.user_data:
            await super().drop_user_data(user_id)
        self._make_private()

    async def drop_user_data(self, user_id: int) -> None:
        """Forget the user (/forget)."""
        await super().drop_user_data(user_id)
        self._make_private()

    async def flush(self) -> None:
        """Write the file on shutdown."""
        await super().flush()
        self._make_private()

    def _make_private(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(self.filepath, FILE_MODE)
