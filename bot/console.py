"""The terminal chat: the same ``respond()`` as Telegram, for trying the bot with no set-up."""

from __future__ import annotations

from typing import TextIO

from bot.dialogue import Reply, Responder

PROMPT = "you> "


def format_reply(reply: Reply) -> str:
    """The reply text, then numbered suggestions or related questions to ask next."""
    lines = [reply.text]
    if reply.related:
        lines.append("")
        lines.extend(f"  → {suggestion.question}" for suggestion in reply.related)
    return "\n".join(lines)


def chat(responder: Responder, stdin: TextIO, stdout: TextIO) -> int:
    """Read questions until an empty line or end of input; print each reply."""
    kb = responder.kb
    stdout.write(kb.text("greeting", "en") + "\n")
    stdout.write("(Type your question in English, Russian or Kazakh. Empty line to quit.)\n\n")
    while True:
        stdout.write(PROMPT)
        stdout.flush()
        line = stdin.readline()
        if not line or not line.strip():
            stdout.write("\n")
            return 0
        reply = responder.respond(line.strip())
        stdout.write(f"bot> {format_reply(reply)}\n\n")
