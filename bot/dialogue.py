"""``respond()``: the one pipeline from a message to a reply, shared by every front end.

Safety first, then retrieval, then an honest fallback. It knows nothing about Telegram: the
Telegram layer, the terminal chat and the evaluation all call it, so what the tests measure is
what users get.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.knowledge import Entry, KnowledgeBase, Source, load_knowledge
from bot.retrieval import Decision, Retriever, vocabulary_samples
from bot.safety import SafetyCheck
from bot.text import DEFAULT_LANGUAGE, LANGUAGES, LanguageDetector, clip, normalize

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
    entry_id: str | None = None
    score: float = 0.0
    #: Answers only: the paragraph for parents shown after the answer ("" when there is none).
    details: str = ""
    sources: tuple[Source, ...] = ()
    suggestions: tuple[Suggestion, ...] = ()
    related: tuple[Suggestion, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """The JSON object of ``python -m bot ask --json``."""
        return {
            "kind": self.kind,
            "id": self.entry_id,
            "score": round(self.score, 1),
            "lang": self.lang,
            "text": self.text,
            "suggestions": [{"id": s.id, "question": s.question} for s in self.suggestions],
        }


class Responder:
    """Holds the knowledge base and the indexes built from it; ``respond()`` is the entry point."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.retriever = Retriever(kb)
        self.safety = SafetyCheck(kb.safety)
        self.detector = LanguageDetector(vocabulary_samples(kb))

    @classmethod
    def from_directory(cls, directory: Path | None = None) -> Responder:
        return cls(load_knowledge(directory))

    def detect_language(self, message: str, default: str = DEFAULT_LANGUAGE) -> str:
        return self.detector.detect(clip(message), default)

    def respond(self, message: str, lang: str | None = None) -> Reply:
        """The reply to one message; ``lang`` forces the reply language (the user's choice)."""
        message = clip(message)
        text = normalize(message)
        if lang not in LANGUAGES:
            lang = self.detector.detect(message, normalized=text)
        if not text:
            return self._fallback(lang)
        if self.safety.check_normalized(text):
            return self.crisis(lang)
        decision = self.retriever.decide_normalized(text)
        best = decision.best
        if decision.kind == "answer" and best is not None:
            return self.answer(best.entry_id, lang, score=best.score)
        if decision.kind == "clarify":
            return self._clarify(decision, lang)
        return self._fallback(lang, score=best.score if best else 0.0)

    def is_crisis(self, message: str) -> bool:
        """Whether the message needs the crisis reply; cheap (no retrieval), for flood control."""
        return self.safety.check_normalized(normalize(clip(message))) is not None

    def answer(self, entry_id: str, lang: str, score: float = 100.0) -> Reply:
        """The answer of one entry (also what a pressed suggestion button shows)."""
        entry = self.kb.entries[entry_id]
        body = entry.answers[lang]
        details = entry.details.get(lang, "")
        paragraphs = [body, details] if details else [body]
        if entry.sources:
            paragraphs.append("\n".join(self.source_line(s, lang) for s in entry.sources))
        text = "\n\n".join(paragraphs)
        return Reply(
            kind="smalltalk" if entry.kind == "smalltalk" else "answer",
            lang=lang,
            text=text,
            body=body,
            entry_id=entry.id,
            score=score,
            details=details,
            sources=entry.sources,
            related=self._suggestions(entry.related, lang),
        )

    def crisis(self, lang: str) -> Reply:
        """The safety reply: warm words and the helplines, nothing else."""
        body = self.kb.text("crisis", lang)
        return Reply(kind="crisis", lang=lang, text=body, body=body, score=100.0)

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
