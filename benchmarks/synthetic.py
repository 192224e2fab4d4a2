"""Knowledge bases 10x and 100x larger than the shipped one, generated from its entries.

Latency must stay low as editors add entries, and we cannot wait for them to write 6,000 to
find out. Each copy of an entry keeps the real questions' length, language and vocabulary (so
the inverted index and the IDF weights see realistic word frequencies) but is not identical:
one word of every question is swapped for a word from another entry, and every copy carries its
own made-up word, which also grows the vocabulary as a real, larger knowledge base would. All
choices come from seeded random generators, so every run builds the same knowledge bases.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import replace
from types import MappingProxyType

import numpy as np

from bot.knowledge import Entry, KnowledgeBase, Topic
from bot.semantic import SemanticIndex
from bot.text import LANGUAGES, normalize

# Letters that normalize() leaves alone, so a made-up word stays one distinct word.
_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"


def nonsense_words(taken: set[str]) -> Iterator[str]:
    """Distinct pronounceable made-up words (not in ``taken``), the same sequence every time.

    The fastest-changing syllable comes first, so consecutive words do not share the first
    letters that retrieval treats as a common stem.
    """
    syllables = [c + v for c in _CONSONANTS for v in _VOWELS]
    for parts in itertools.product(syllables, repeat=3):
        word = "".join(reversed(parts))
        if word not in taken:
            yield word


def scale_knowledge(kb: KnowledgeBase, factor: int, *, seed: int = 0) -> KnowledgeBase:
    """``kb`` with ``factor - 1`` perturbed copies of every entry added (``factor`` 1: ``kb``)."""
    if factor < 1:
        raise ValueError("factor must be at least 1")
    if factor == 1:
        return kb
    words_by_lang = {
        lang: sorted(
            {
                word
                for entry in kb.entries.values()
                for q in entry.questions[lang]
                for word in q.split()
            }
        )
        for lang in LANGUAGES
    }
    vocabulary = {
        word
        for entry in kb.entries.values()
        for lang in LANGUAGES
        for text in (*entry.questions[lang], entry.answers[lang])
        for word in normalize(text).split()
    }
    # Words from other entries, per entry and language: what a copy's questions borrow.
    borrowable = {
        entry.id: {lang: _others(entry, words_by_lang[lang]) for lang in LANGUAGES}
        for entry in kb.entries.values()
    }
    made_up = nonsense_words(vocabulary)
    entries = dict(kb.entries)
    topic_entries: dict[str, list[str]] = {t.id: list(t.entry_ids) for t in kb.topics}
    for copy in range(1, factor):
        for entry in kb.entries.values():
            rng = random.Random(f"{seed}:{copy}:{entry.id}")
            clone = _perturbed(entry, copy, next(made_up), borrowable[entry.id], rng)
            entries[clone.id] = clone
            topic_entries[entry.topic_id].append(clone.id)
    topics = tuple(Topic(t.id, t.order, t.titles, tuple(topic_entries[t.id])) for t in kb.topics)
    return replace(kb, topics=topics, entries=MappingProxyType(entries))


def _others(entry: Entry, words: list[str]) -> list[str]:
    """``words`` that the entry's own questions do not use (all of them if none is left)."""
    own = {word for lang in LANGUAGES for q in entry.questions[lang] for word in q.split()}
    return [word for word in words if word not in own] or words


def _perturbed(
    entry: Entry,
    copy: int,
    marker: str,
    others: dict[str, list[str]],
    rng: random.Random,
) -> Entry:
    """One copy of ``entry``: a word of each question swapped, ``marker`` added everywhere."""
    questions = {}
    for lang in LANGUAGES:
        variants = []
        for question in entry.questions[lang]:
            words = question.split()
            words[rng.randrange(len(words))] = rng.choice(others[lang])
            words.insert(rng.randrange(len(words) + 1), marker)
            variants.append(" ".join(words))
        questions[lang] = tuple(variants)
    return replace(
        entry,
        id=f"{entry.id}-copy{copy}",
        questions=MappingProxyType(questions),
        answers=MappingProxyType({lang: f"{entry.answers[lang]} {marker}" for lang in LANGUAGES}),
        related=tuple(f"{related}-copy{copy}" for related in entry.related),
        location=f"{entry.location} (synthetic copy {copy})",
    )


#: Noise added to a copied phrasing's vector: a copy's cosine to its original comes out around
#: 0.95, about what one swapped word and one made-up word do to a real sentence's vector.
VECTOR_NOISE = 0.016


def scale_semantic(
    scaled: KnowledgeBase, semantic: SemanticIndex, *, seed: int = 0
) -> SemanticIndex:
    """Phrasing vectors for ``scale_knowledge``'s copies, synthesised from the originals'.

    Encoding 100x the phrasings would take hours, and the encoder's cost per *message* does not
    depend on the knowledge base's size; what grows is the matrix each message is compared with,
    which these vectors give at its real size. A copy's vectors are its original's plus a little
    seeded noise (renormalised), so copies stay near their originals, as real paraphrases would.
    """
    rng = np.random.default_rng(seed)
    row_ids: list[str] = []
    blocks: list[np.ndarray] = []
    for entry in scaled.entries.values():
        original = entry.id.rsplit("-copy", 1)[0] if "-copy" in entry.id else entry.id
        rows = semantic.rows(original)
        if entry.id != original:
            rows = rows + rng.standard_normal(rows.shape).astype(np.float32) * VECTOR_NOISE
            rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        row_ids.extend([entry.id] * len(rows))
        blocks.append(rows)
    return SemanticIndex(row_ids, np.concatenate(blocks).astype(np.float32))
