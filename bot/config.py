"""Settings from environment variables and an optional ``.env`` file.

One frozen dataclass, read once at start-up. The token is kept out of ``repr`` so that it can
never end up in a log line or a traceback by accident.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

#: What BotFather issues: a numeric bot id, a colon, and a 35-character secret.
TOKEN_PATTERN = re.compile(r"^\d{5,}:[A-Za-z0-9_-]{30,}$")
#: Telegram accepts 1-256 characters from A-Z, a-z, 0-9, _ and - as a webhook secret.
SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
#: What ``STORAGE_URL`` may name besides the default files: a Redis server.
STORAGE_SCHEMES = ("redis://", "rediss://", "unix://")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message is one sentence for the user."""


def read_env_file(path: Path) -> dict[str, str]:
    """The KEY=value pairs of a ``.env`` file (python-dotenv's parser: comments after values,
    quotes, ``export``), or nothing if there is no such file."""
    if not path.is_file():
        return {}
    return {key: value for key, value in dotenv_values(path).items() if value is not None}


@dataclass(frozen=True)
class Settings:
    """Everything the bot reads from its environment."""

    token: str = field(default="", repr=False)
    api_base_url: str | None = None
    webhook_url: str | None = None
    webhook_secret: str = field(default="", repr=False)
    listen: str = "127.0.0.1"
    port: int = 8443
    data_dir: Path = Path("data")
    #: Empty: files in ``data_dir``. ``redis://...``: shared by every replica (may hold a password).
    storage_url: str = field(default="", repr=False)
    knowledge_dir: Path | None = None
    log_level: str = "INFO"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
    ) -> Settings:
        """Read settings; real environment variables win over the ``.env`` file."""
        values = read_env_file(env_file) if env_file else {}
        values.update(environ if environ is not None else os.environ)

        def get(name: str) -> str | None:
            value = values.get(name, "").strip()
            return value or None

        port_text = get("PORT") or "8443"
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(f"PORT must be a number from 1 to 65535, not {port_text!r}.")
        knowledge = get("KNOWLEDGE_DIR")
        storage_url = get("STORAGE_URL") or ""
        if storage_url and not storage_url.startswith(STORAGE_SCHEMES):
            raise ConfigError(
                "STORAGE_URL must be empty (files in DATA_DIR) or a Redis URL such as "
                "redis://127.0.0.1:6379/0."
            )
        return cls(
            token=get("TELEGRAM_BOT_TOKEN") or "",
            api_base_url=get("TELEGRAM_API_BASE_URL"),
            webhook_url=get("WEBHOOK_URL"),
            webhook_secret=get("WEBHOOK_SECRET") or "",
            listen=get("LISTEN") or "127.0.0.1",
            port=int(port_text),
            data_dir=Path(get("DATA_DIR") or "data"),
            storage_url=storage_url,
            knowledge_dir=Path(knowledge) if knowledge else None,
            log_level=(get("LOG_LEVEL") or "INFO").upper(),
        )

    def check_for_telegram(self) -> None:
        """Raise ConfigError, in one clear sentence, if the bot cannot run on Telegram."""
        if not self.token:
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and put its token "
                "in the environment or in a .env file (see .env.example)."
            )
        if not TOKEN_PATTERN.match(self.token):
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN does not look like a bot token from @BotFather "
                "(expected digits, a colon and a long secret)."
            )
        if self.webhook_url:
            if not self.webhook_url.startswith("https://"):
                raise ConfigError("WEBHOOK_URL must start with https:// (Telegram requires it).")
            if not SECRET_PATTERN.match(self.webhook_secret):
                raise ConfigError(
                    "WEBHOOK_SECRET must be set in webhook mode: 1-256 characters of "
                    "A-Z, a-z, 0-9, _ and -."
                )
