"""Meaning-based scores: the cosine of a message to every phrasing of every entry.

The fuzzy matcher (``bot.retrieval.Retriever``) finds entries that share words with a message;
"who came up with children's day" shares almost none with "history of 1 June" but their sentence
vectors are close. This index holds one unit vector per phrasing (every language: a Russian
message is close to the Russian *and* the English phrasings of its entry), rows grouped by entry,
and answers, for a message's vectors, each entry's best cosine. The vectors come from
``bot.vector_cache`` (computed once, kept on disk); a message's vectors are the ones
``Responder.respond`` already computed for the safety check, so nothing is encoded twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from bot.encoder import DIMENSIONS
from bot.knowledge import KnowledgeBase
from bot.text import LANGUAGES
from bot.vector_cache import Encode, VectorCache

#: How a phrasing is spelt for the encoder (``bot.dialogue.embedding_text``).
Prepare = Callable[[str, str], str]
#: Up to this many phrasings, every message is compared with every phrasing: the shipped
#: ~3,200 take well under a millisecond. Beyond (a knowledge base many times larger), reading
#: every vector would cost more than the rest of the reply (400 MB per message at 100x), so...
EXACT_LIMIT = 20_000
#: ...the message is first compared with each entry's mean phrasing vector, and then exactly
#: with the phrasings of this many entries closest by that measure.
SHORTLIST = 48


def phrasing_texts(kb: KnowledgeBase, prepare: Prepare) -> tuple[list[str], list[str]]:
    """(entry id per phrasing, text to encode per phrasing), grouped by entry, in kb order."""
    entry_ids: list[str] = []
    texts: list[str] = []
    for entry in kb.entries.values():
        for lang in LANGUAGES:
            for question in entry.questions[lang]:
                entry_ids.append(entry.id)
                texts.append(prepare(question, lang))
    return entry_ids, texts


@dataclass(frozen=True)
class EntrySimilarity:
    """Each entry's best cosine to a message, in ``SemanticIndex.entry_ids`` order."""

    cosine: np.ndarray  # (entries,)

    def ranked(self, limit: int) -> list[int]:
        """Indexes of the ``limit`` most similar entries, best first."""
        limit = min(limit, len(self.cosine))
        if limit <= 0:
            return []
        top = np.argpartition(-self.cosine, limit - 1)[:limit]
        return sorted(top.tolist(), key=lambda i: -self.cosine[i])


class SemanticIndex:
    """One unit vector per phrasing, rows grouped by entry; ``similarity`` scores every entry."""

    def __init__(self, row_entry_ids: Sequence[str], matrix: np.ndarray) -> None:
        if matrix.shape != (len(row_entry_ids), DIMENSIONS):
            raise ValueError(f"expected {len(row_entry_ids)} x {DIMENSIONS} vectors")
        self.entry_ids: list[str] = []
        starts: list[int] = []
        for row, entry_id in enumerate(row_entry_ids):
            if not self.entry_ids or self.entry_ids[-1] != entry_id:
                if entry_id in self.entry_ids:
                    raise ValueError(f"the phrasings of {entry_id} are not consecutive")
                self.entry_ids.append(entry_id)
                starts.append(row)
        self.position = {entry_id: index for index, entry_id in enumerate(self.entry_ids)}
        self._starts = np.asarray(starts, dtype=np.intp)
        # C order, float32: one BLAS matrix-vector product per message window.
        self._matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self._ends = np.append(self._starts[1:], len(self._matrix))
        self._centroids: np.ndarray | None = None
        if len(self._matrix) > EXACT_LIMIT:
            sums = np.add.reduceat(self._matrix, self._starts, axis=0)
            norms = np.linalg.norm(sums, axis=1, keepdims=True)
            self._centroids = np.ascontiguousarray(sums / np.maximum(norms, 1e-12))

    @classmethod
    def build(
        cls,
        kb: KnowledgeBase,
        encode: Encode,
        prepare: Prepare,
        cache: VectorCache,
        *,
        progress: TextIO | None = None,
        prune: bool = False,
    ) -> SemanticIndex:
        """The index of ``kb``: cached vectors, only the phrasings not seen before encoded."""
        entry_ids, texts = phrasing_texts(kb, prepare)
        vectors = cache.vectors(texts, encode, progress=progress, prune=prune)
        return cls(entry_ids, vectors)

    @property
    def phrasing_count(self) -> int:
        return self._matrix.shape[0]

    def rows(self, entry_id: str) -> np.ndarray:
        """The vectors of one entry's phrasings (a view: do not modify)."""
        index = self.position[entry_id]
        return self._matrix[self._starts[index] : self._ends[index]]

    def similarity(self, vectors: np.ndarray) -> EntrySimilarity:
        """Each entry's best cosine to any of the message's windows (``vectors``: (w, 384))."""
        if len(vectors) == 0 or not self.entry_ids:
            return EntrySimilarity(np.zeros(len(self.entry_ids), dtype=np.float32))
        windows = np.asarray(vectors, dtype=np.float32).T
        if self._centroids is None:
            best = (self._matrix @ windows).max(axis=1)  # (phrasings,): best window each
            return EntrySimilarity(np.maximum.reduceat(best, self._starts))
        # Large knowledge bases: entries by their mean vector, then the shortlist exactly. The
        # others keep their mean's cosine, which is below their best phrasing's as a rule.
        cosine = (self._centroids @ windows).max(axis=1)
        count = min(SHORTLIST, len(cosine))
        for index in np.argpartition(-cosine, count - 1)[:count]:
            rows = self._matrix[self._starts[index] : self._ends[index]]
            cosine[index] = (rows @ windows).max()
        return EntrySimilarity(cosine)
