"""Settings from the environment and a ``.env`` file (bot/config.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings


def test_env_file_with_comments_and_quotes(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "# settings\n"
        "PORT=8443  # the default\n"
        'WEBHOOK_SECRET="s3cret_value" # quoted, then a comment\n'
        "export DATA_DIR=/var/lib/bot\n"
        "LOG_LEVEL='debug'\n",
        encoding="utf-8",
    )
    settings = Settings.from_env({}, env)
    assert settings.port == 8443
    assert settings.webhook_secret == "s3cret_value"
    assert settings.data_dir == Path("/var/lib/bot")
    assert settings.log_level == "DEBUG"


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("PORT=9000\n", encoding="utf-8")
    assert Settings.from_env({"PORT": "9100"}, env).port == 9100


def test_missing_file_is_no_problem(tmp_path: Path) -> None:
    assert Settings.from_env({}, tmp_path / "absent.env").port == 8443


def test_bad_port_is_one_clear_sentence(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PORT must be a number"):
        Settings.from_env({"PORT": "eighty"}, None)


def test_token_never_in_repr() -> None:
    token = "123456789:" + "A" * 35
    assert token not in repr(Settings.from_env({"TELEGRAM_BOT_TOKEN": token}, None))
