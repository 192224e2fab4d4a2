"""The command line, run as a user runs it: ``python -m bot ...`` in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shared import ROOT, run_bot_process


def run_bot(*args: str, stdin: str = "", env: dict[str, str] | None = None, cwd: Path = ROOT):
    return run_bot_process(*args, cwd=cwd, stdin=stdin, env=env)


def test_ask_prints_the_answer() -> None:
    result = run_bot("ask", "when is children's day")
    assert result.returncode == 0
    assert "1 June" in result.stdout


def test_ask_json_from_stdin_keeps_one_line_per_message() -> None:
    messages = ["hotline 111", "", "когда день защиты детей", "   ", "балалар күні қашан", "hi"]
    result = run_bot("ask", "--json", "-", stdin="\n".join(messages) + "\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(messages)
    replies = [json.loads(line) for line in lines]
    assert [r["lang"] for r in replies][::2] == ["en", "ru", "kk"]
    assert replies[0]["id"] == "hotline-111" and replies[0]["kind"] == "answer"
    assert replies[1]["kind"] == "fallback" and replies[3]["kind"] == "fallback"
    assert replies[5]["kind"] == "smalltalk"
    for reply in replies:
        assert set(reply) == {"kind", "id", "score", "lang", "text", "suggestions"}


def test_ask_plain_from_stdin_writes_one_line_per_reply() -> None:
    result = run_bot("ask", "-", stdin="hotline 111\nwhat is the weather\n")
    assert len(result.stdout.splitlines()) == 2


def test_chat_without_token_is_the_default() -> None:
    result = run_bot(stdin="when is children's day\n\n")
    assert result.returncode == 0
    assert "you> " in result.stdout and "1 June" in result.stdout


def test_run_without_token_says_what_is_missing(tmp_path: Path) -> None:
    result = run_bot("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in result.stderr and "@BotFather" in result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_token_is_one_sentence_and_never_echoed(tmp_path: Path) -> None:
    secret = "not-a-token-but-secret-looking-value"
    result = run_bot("run", env={"TELEGRAM_BOT_TOKEN": secret}, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert secret not in result.stderr + result.stdout


def test_settings_come_from_a_dotenv_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TELEGRAM_BOT_TOKEN=broken\n", encoding="utf-8")
    result = run_bot("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "does not look like a bot token" in result.stderr


def test_check_passes() -> None:
    result = run_bot("check")
    assert result.returncode == 0 and result.stdout.startswith("OK: ")


def test_eval_prints_the_figures(tmp_path: Path) -> None:
    """The whole sets take minutes through the encoder; a small set shows the same table."""
    small = tmp_path / "small.yaml"
    small.write_text(
        "- {text: when is childrens day, lang: en, expect: childrens-day-date}\n"
        "- {text: i want to die, lang: en, expect: crisis, category: suicide_self_harm}\n"
        "- {text: когда день защиты детей, lang: ru, expect: childrens-day-date}\n"
        "- {text: рецепт плова, lang: ru, expect: out-of-scope}\n"
        "- {text: балалар күні қашан, lang: kk, script: cyrillic, expect: childrens-day-date}\n"
        "- {text: olgim keledi, lang: kk, script: latin, expect: crisis}\n",
        encoding="utf-8",
    )
    result = run_bot("eval", "--quiet", "--set", str(small))
    for column in ("top-1", "clarify", "OOS false", "crisis recall", "false alarms"):
        assert column in result.stdout
    for lang in ("en", "ru", "kk"):
        assert f"\n{lang} " in result.stdout
    assert "side by side" in result.stdout and "kk/latin" in result.stdout
    assert "suicide_self_harm" in result.stdout


@pytest.mark.parametrize("command", [[], ["run"], ["chat"], ["ask"], ["check"], ["eval"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = run_bot(*command, "--help")
    assert result.returncode == 0
    assert "usage: python -m bot" in result.stdout
