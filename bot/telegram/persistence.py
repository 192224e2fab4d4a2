"""Remembering each user's chosen language across restarts and replicas, and nothing else.

A python-telegram-bot ``BasePersistence`` over the bot's ``Store`` (a JSON file by default,
Redis with ``STORAGE_URL``): only ``user_data`` is stored, and of that only the ``lang`` key
with a known language; users who never chose a language are not written at all (otherwise every
user id that ever wrote to the bot would end up stored). With a shared store every update reads
its user's language afresh (``refresh_user_data``), so a choice made through one replica is
used by all of them.
"""

from __future__ import annotations

from typing import Any

from telegram.ext import BasePersistence, PersistenceInput

from bot.storage import Store
from bot.text import LANGUAGES

#: The only key of ``context.user_data`` that is ever stored.
LANGUAGE_KEY = "lang"
#: Seconds between python-telegram-bot's own rounds of saving (the bot also saves after each
#: update, before confirming it to Telegram: see ``intake``).
UPDATE_INTERVAL = 5.0
STORE = PersistenceInput(bot_data=False, chat_data=False, user_data=True, callback_data=False)

UserData = dict[str, Any]
#: Users whose stored language this process remembers, to skip writing what is stored already.
KNOWN_USERS = 100_000
_UNKNOWN = object()


def chosen(data: UserData) -> str | None:
    """The language in ``data`` if it is one we speak."""
    lang = data.get(LANGUAGE_KEY)
    return lang if lang in LANGUAGES else None


class LanguagePersistence(BasePersistence[UserData, dict[Any, Any], dict[Any, Any]]):
    """``{user_id: {"lang": "ru"}}`` for users who chose a language, in the ``Store``."""

    def __init__(self, store: Store) -> None:
        super().__init__(store_data=STORE, update_interval=UPDATE_INTERVAL)
        self.store = store
        self._stored: dict[int, str | None] = {}

    async def get_user_data(self) -> dict[int, UserData]:
        """Everything stored (a shared store gives nothing up front: see refresh_user_data)."""
        languages = await self.store.languages()
        self._stored.update(languages)
        return {user: {LANGUAGE_KEY: lang} for user, lang in languages.items() if lang in LANGUAGES}

    async def update_user_data(self, user_id: int, data: UserData) -> None:
        """Store the user's language choice; a user without one is not stored at all."""
        await self._store(user_id, chosen(data))

    async def drop_user_data(self, user_id: int) -> None:
        """Forget the user (/forget)."""
        self._stored.pop(user_id, None)
        await self._store(user_id, None)

    async def refresh_user_data(self, user_id: int, user_data: UserData) -> None:
        """With a shared store, take the language another replica may have stored."""
        if not self.store.shared:
            return
        lang = await self.store.language(user_id)
        self._remember(user_id, lang)
        if lang in LANGUAGES:
            user_data[LANGUAGE_KEY] = lang
        else:
            user_data.pop(LANGUAGE_KEY, None)

    async def flush(self) -> None:
        """Write everything on shutdown."""
        await self.store.flush()

    async def _store(self, user_id: int, lang: str | None) -> None:
        if self._stored.get(user_id, _UNKNOWN) == lang:
            return
        await self.store.set_language(user_id, lang)
        self._remember(user_id, lang)

    def _remember(self, user_id: int, lang: str | None) -> None:
        if len(self._stored) >= KNOWN_USERS:
            self._stored.clear()
        self._stored[user_id] = lang

    # ---- what is never stored ------------------------------------------------------------

    async def get_chat_data(self) -> dict[int, dict[Any, Any]]:
        return {}

    async def get_bot_data(self) -> dict[Any, Any]:
        return {}

    async def get_callback_data(self) -> None:
        return None

    async def get_conversations(self, name: str) -> dict[Any, Any]:
        return {}

    async def update_conversation(self, name: str, key: Any, new_state: object | None) -> None:
        """No conversations are stored."""

    async def update_chat_data(self, chat_id: int, data: dict[Any, Any]) -> None:
        """No chat data is stored."""

    async def update_bot_data(self, data: dict[Any, Any]) -> None:
        """No bot data is stored."""

    async def update_callback_data(self, data: Any) -> None:
        """No callback data is stored."""

    async def drop_chat_data(self, chat_id: int) -> None:
        """No chat data is stored."""

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[Any, Any]) -> None:
        """No chat data is stored."""

    async def refresh_bot_data(self, bot_data: dict[Any, Any]) -> None:
        """No bot data is stored."""
