"""The command line: ``python -m bot [run|chat|ask|check|train|index|eval]``.

With no subcommand the bot runs on Telegram when ``TELEGRAM_BOT_TOKEN`` is set, and otherwise
opens the terminal chat, so a newcomer sees it work with no set-up at all.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import ConfigError, Settings
from bot.crisis_model import MODEL_FILE, CrisisModelError, faq_examples, stale_reason, train
from bot.dialogue import Responder
from bot.knowledge import KnowledgeBase, KnowledgeError, default_knowledge_dir, load_knowledge
from bot.vector_cache import CACHE_FILE, default_cache_dir

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_CONFIG = 2


def _knowledge_dir(args: argparse.Namespace, settings: Settings) -> Path | None:
    return args.knowledge or settings.knowledge_dir


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description=(
            "A bot that answers questions about children's rights in Kazakhstan "
            "(English, Russian, Kazakh). Without a command: runs on Telegram if "
            "TELEGRAM_BOT_TOKEN is set, otherwise opens the terminal chat."
        ),
    )
    parser.add_argument(
        "--knowledge",
        type=Path,
        metavar="DIR",
        help="knowledge base directory (default: KNOWLEDGE_DIR or the bundled one)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "run",
        help="run the Telegram bot (polling; webhook mode when WEBHOOK_URL is set)",
        description="Run the Telegram bot. Settings come from the environment or .env "
        "(see .env.example): TELEGRAM_BOT_TOKEN is required.",
    )
    commands.add_parser(
        "chat",
        help="talk to the bot in the terminal",
        description="Talk to the bot in the terminal. Type a question; an empty line or "
        "Ctrl-D quits.",
    )
    ask = commands.add_parser(
        "ask",
        help="answer one question, or one per line from standard input",
        description="Answer a question. With '-' read questions from standard input, one per "
        "line, and write exactly one reply per line, in the same order.",
    )
    ask.add_argument("question", nargs="+", help="the question, or '-' for standard input")
    ask.add_argument("--json", action="store_true", help="write one JSON object per reply")
    ask.add_argument(
        "--lang", choices=("en", "ru", "kk"), help="reply in this language (default: detect)"
    )
    commands.add_parser(
        "check",
        help="validate the knowledge base; exit code 1 if it has problems",
        description="Validate every YAML file of the knowledge base. Each problem is printed "
        "as file:line: entry-id: what is wrong. Stale entries are listed as warnings.",
    )
    commands.add_parser(
        "train",
        help="rebuild the crisis model from knowledge/crisis_examples (needs .[train])",
        description="Embed every labelled example in knowledge/crisis_examples/ and fit the "
        "crisis classifier; writes knowledge/crisis_model.npz. Deterministic: the same examples "
        "give the same file. Needs scikit-learn (pip install '.[train]').",
    )
    commands.add_parser(
        "index",
        help="build the cache of the phrasings' sentence vectors ahead of start-up",
        description="Encode every question phrasing of the knowledge base that is not cached "
        "yet (all of them the first time: tens of seconds) and save the vectors in "
        "DATA_DIR/cache, dropping those of phrasings no longer in the knowledge base. The bot "
        "builds the same cache on its first start if this was not run.",
    )
    evaluate = commands.add_parser(
        "eval",
        help="measure answers on the development set",
        description="Run the development set through the bot and print, per language, top-1 "
        "accuracy, clarify rate, false answers out of scope, crisis recall, false alarms and "
        "the failures. Exit code 1 if a target is missed.",
    )
    evaluate.add_argument("--set", type=Path, dest="devset", help="development set YAML file")
    evaluate.add_argument("--quiet", action="store_true", help="do not list the failures")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return EXIT_CONFIG
    command = args.command or ("run" if settings.token else "chat")
    if command == "check":
        return _check(_knowledge_dir(args, settings))
    if command == "train":
        return _train(_knowledge_dir(args, settings))
    try:
        kb = load_knowledge(_knowledge_dir(args, settings))
    except KnowledgeError as error:
        print("The knowledge base has problems; the bot will not start:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_PROBLEMS
    if command == "run":
        return _run(settings, kb)
    if command == "index":
        return _index(kb, settings)
    responder = Responder.for_knowledge(
        kb, _knowledge_dir(args, settings), cache_dir=default_cache_dir(settings.data_dir)
    )
    if command == "chat":
        from bot.console import chat

        return chat(responder, sys.stdin, sys.stdout)
    if command == "ask":
        return _ask(responder, args)
    return _eval(responder, args)


def _check(directory: Path | None) -> int:
    try:
        kb = load_knowledge(directory)
    except KnowledgeError as error:
        for problem in error.problems:
            print(problem)
        print(f"{len(error.problems)} problem(s) found.", file=sys.stderr)
        return EXIT_PROBLEMS
    for warning in kb.warnings:
        print(f"warning: {warning}")
    stale = stale_reason(directory or default_knowledge_dir(), faq_examples(kb))
    if stale:
        print(stale)
        print("1 problem(s) found.", file=sys.stderr)
        return EXIT_PROBLEMS
    topics = len(kb.topics)
    print(f"OK: {len(kb.entries)} entries in {topics} topics, {len(kb.ui)} interface strings.")
    return EXIT_OK


def _train(directory: Path | None) -> int:
    from bot.dialogue import embedding_text
    from bot.encoder import shared_encoder
    from bot.vector_cache import VectorCache, default_cache_dir

    directory = directory or default_knowledge_dir()
    # Vectors are cached like the phrasings' (same keys): retraining after an edit is quick.
    cache = VectorCache(default_cache_dir() / "examples.npz")
    encode = shared_encoder().encode
    try:
        kb = load_knowledge(directory)
        model = train(
            directory, faq_examples(kb), lambda texts: cache.vectors(texts, encode), embedding_text
        )
    except KnowledgeError as error:
        print("\n".join(error.problems), file=sys.stderr)
        return EXIT_PROBLEMS
    except CrisisModelError as error:
        print(error, file=sys.stderr)
        return EXIT_PROBLEMS
    model.save(directory / MODEL_FILE)
    print(f"wrote {directory / MODEL_FILE}: classes {', '.join(model.classes)}")
    return EXIT_OK


def _index(kb: KnowledgeBase, settings: Settings) -> int:
    from bot.dialogue import build_semantic_index
    from bot.encoder import shared_encoder

    cache_dir = default_cache_dir(settings.data_dir)
    index = build_semantic_index(kb, shared_encoder().encode, cache_dir, prune=True)
    print(
        f"OK: vectors of {index.phrasing_count} phrasings ({len(index.entry_ids)} entries) in "
        f"{cache_dir / CACHE_FILE}"
    )
    return EXIT_OK


def _ask(responder: Responder, args: argparse.Namespace) -> int:
    def emit(message: str) -> None:
        reply = responder.respond(message, lang=args.lang)
        if args.json:
            line = json.dumps(reply.to_json(), ensure_ascii=False)
        else:
            # One reply per line: newlines inside a reply would break the line contract.
            line = reply.text.replace("\n", " ") if args.question == ["-"] else reply.text
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    if args.question == ["-"]:
        for line in sys.stdin:
            emit(line.rstrip("\r\n"))
    else:
        emit(" ".join(args.question))
    return EXIT_OK


def _eval(responder: Responder, args: argparse.Namespace) -> int:
    from bot.evaluation import (
        DEFAULT_DEVSET,
        blind_sets,
        evaluate_with_safety,
        format_report,
        format_safety,
        load_cases,
        meets_targets,
    )

    if args.devset:
        sets = [("evaluation set", args.devset)]
    else:
        sets = [("development set (tuned on: optimistic)", DEFAULT_DEVSET)]
        sets += [(f"blind set {path.stem}", path) for path in blind_sets()]
    ok = True
    for title, path in sets:
        if not path.is_file():
            print(f"Evaluation set not found: {path} (use --set FILE).", file=sys.stderr)
            return EXIT_PROBLEMS
        reports, safety = evaluate_with_safety(responder, load_cases(path))
        print(f"== {title}: {path.name}\n")
        print(format_report(reports, show_failures=not args.quiet))
        print("\n" + format_safety(safety) + "\n")
        # The targets of the development set guard against regressions; blind sets are reported.
        ok = ok and (path != DEFAULT_DEVSET or meets_targets(reports))
    print("All development-set targets met." if ok else "Some targets are missed.")
    return EXIT_OK if ok else EXIT_PROBLEMS


def _run(settings: Settings, kb: KnowledgeBase) -> int:
    try:
        settings.check_for_telegram()
    except ConfigError as error:
        print(f"Cannot start the Telegram bot: {error}", file=sys.stderr)
        return EXIT_CONFIG
    from bot.telegram.app import run_bot

    return run_bot(settings, kb)


if __name__ == "__main__":
    sys.exit(main())
