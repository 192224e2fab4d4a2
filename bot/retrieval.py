"""Find the knowledge entry a message asks about: fuzzy, weighted word matching with rapidfuzz.

Every question variant of every language is normalised once, when the index is built. A message
is matched word by word: each of its words is mapped to the index's vocabulary (exactly, by a
shared stem, or by rapidfuzz similarity for typos), and each word carries an IDF weight, so rare
words like "dosbollike" or "adoption" decide and "what is the" do not. A variant scores high when
most of *its* words appear in the message (coverage) and most of the *message's* words are
explained by the entry (so "help me with my maths homework" does not match "help").
A whole-string rapidfuzz ratio rescues short messages with typos in every word.

Large knowledge bases stay fast because only the entries sharing weighty words with the message
(an inverted index) are scored in full.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from bot.knowledge import KnowledgeBase
from bot.text import LANGUAGES, normalize, tokens

# --- thresholds: the only place where retrieval decides --------------------------------------
#: At or above this score (0-100) the best entry is answered outright...
ANSWER_SCORE = 74.0
#: ...provided the runner-up entry is at least this many points behind; otherwise we ask.
ANSWER_MARGIN = 3.0
#: At or above this score an entry is offered as a "did you mean" suggestion.
SUGGEST_SCORE = 45.0
#: Small talk ("hi", "thanks") must explain nearly the whole message, or "hi, when is children's
#: day" would be answered with a greeting.
SMALLTALK_EXPLAINED = 0.85
MAX_SUGGESTIONS = 3

# --- word matching ----------------------------------------------------------------------------
#: A message word and a vocabulary word this similar (rapidfuzz ratio) are the same word.
TYPO_SIMILARITY = 80.0
#: Words sharing this many first letters are forms of one word (детей/дети, балалар/балаларға).
STEM_LENGTH = 5
#: A whole message this similar (rapidfuzz ratio) to a question variant matches it outright.
STRING_SIMILARITY = 92.0
#: How much a message word found only in an entry's answer (not its questions) counts.
ANSWER_WORD_EVIDENCE = 0.5
#: Words in more than this share of all variants do not nominate candidates (see _candidates).
COMMON_WORD_SHARE = 0.05
#: ...and neither do words in more variants than this, however large the knowledge base.
MAX_NOMINATING_POSTINGS = 1500
#: Question variants scored in full per message; the rest are ruled out by the inverted index.
CANDIDATES = 60


@dataclass(frozen=True)
class Match:
    """One ranked entry with its score (0-100)."""

    entry_id: str
    score: float
    explained: float = 1.0


@dataclass(frozen=True)
class Decision:
    """What retrieval concluded: answer one entry, ask which one, or admit not knowing."""

    kind: str  # "answer" | "clarify" | "fallback"
    matches: tuple[Match, ...]

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None


@dataclass(frozen=True)
class _Variant:
    """One question phrasing, pre-normalised, with its word ids and total weight."""

    entry_id: str
    text: str
    words: tuple[int, ...]
    numbers: frozenset[str]
    weight: float = 0.0


@dataclass(frozen=True)
class _Query:
    """A message prepared for scoring: its words mapped onto the vocabulary, with weights."""

    text: str
    numbers: frozenset[str]
    lookups: list[dict[int, float]]
    weights: list[float]
    total_weight: float
    similarity: dict[int, float]


class Retriever:
    """The search index over every question variant of the knowledge base, built once."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self._kinds = {entry.id: entry.kind for entry in kb.entries.values()}
        self._vocabulary: dict[str, int] = {}
        self._variants: list[_Variant] = []
        question_words: dict[str, set[int]] = defaultdict(set)
        answer_words: dict[str, set[int]] = defaultdict(set)
        for entry in kb.entries.values():
            for lang in LANGUAGES:
                for question in entry.questions[lang]:
                    text = normalize(question)
                    words = tuple(self._word_id(word) for word in tokens(text))
                    if words:
                        self._variants.append(_Variant(entry.id, text, words, _numbers(text)))
                        question_words[entry.id].update(words)
                # Answer words teach the index what is ordinary language ("so", "much", "you")
                # and give weak evidence for the entry; only questions are matched in full.
                answer_words[entry.id].update(
                    self._word_id(word) for word in tokens(normalize(entry.answers[lang]))
                )
        self._words = list(self._vocabulary)
        entry_count = max(len(question_words), 1)
        frequency = [0] * len(self._words)
        for entry_id in question_words:
            for word in question_words[entry_id] | answer_words[entry_id]:
                frequency[word] += 1
        self._idf = [math.log(1 + entry_count / max(count, 1)) for count in frequency]
        for word, word_id in self._vocabulary.items():
            if word.isdigit():
                # Numbers decide ("article 3" vs "article 31", "111" vs "112"): full weight.
                self._idf[word_id] = math.log(1 + entry_count)
        self._unknown_idf = math.log(1 + entry_count)
        self._variants = [
            dataclasses.replace(variant, weight=sum(self._idf[w] for w in variant.words))
            for variant in self._variants
        ]
        self._entry_words = {
            entry_id: {
                **dict.fromkeys(answer_words[entry_id], ANSWER_WORD_EVIDENCE),
                **dict.fromkeys(words, 1.0),
            }
            for entry_id, words in question_words.items()
        }
        self._postings: dict[int, list[int]] = defaultdict(list)
        for index, variant in enumerate(self._variants):
            for word in set(variant.words):
                self._postings[word].append(index)
        self._by_stem: dict[str, list[int]] = defaultdict(list)
        for word, word_id in self._vocabulary.items():
            if len(word) >= STEM_LENGTH:
                self._by_stem[word[:STEM_LENGTH]].append(word_id)
        self._lookup_cache: dict[str, dict[int, float]] = {}

    @property
    def variant_count(self) -> int:
        return len(self._variants)

    def _word_id(self, word: str) -> int:
        return self._vocabulary.setdefault(word, len(self._vocabulary))

    def _similar_words(self, word: str) -> dict[int, float]:
        """Vocabulary words that this message word may stand for, with similarity 0-1."""
        cached = self._lookup_cache.get(word)
        if cached is not None:
            return cached
        found: dict[int, float] = {}
        exact = self._vocabulary.get(word)
        if exact is not None:
            found[exact] = 1.0
        if len(word) >= STEM_LENGTH:
            for other in self._by_stem.get(word[:STEM_LENGTH], ()):
                if other != exact:
                    found[other] = max(found.get(other, 0.0), 0.9)
        if exact is None and len(word) >= 3:
            for _, score, other in process.extract(
                word,
                self._words,
                scorer=fuzz.ratio,
                score_cutoff=TYPO_SIMILARITY,
                limit=5,
            ):
                found[other] = max(found.get(other, 0.0), 0.8 * score / 100)
        if len(self._lookup_cache) < 100_000:
            self._lookup_cache[word] = found
        return found

    def _weight(self, lookup: dict[int, float]) -> float:
        """A message word weighs as much as the rarity (IDF) of the word it most likely is."""
        if not lookup:
            return self._unknown_idf
        best = max(lookup.values())
        return min(self._idf[word] for word, value in lookup.items() if value == best)

    def rank(self, message: str, limit: int = 10) -> list[Match]:
        """Entries ranked by how well they match the message, best first (possibly empty)."""
        return self.rank_normalized(normalize(message), limit)

    def rank_normalized(self, text: str, limit: int = 10) -> list[Match]:
        """``rank`` for text already passed through ``normalize`` (saves doing it twice)."""
        query = self._query(text)
        if query is None:
            return []
        explained: dict[str, float] = {}
        scores: dict[str, Match] = {}
        for variant_index in self._candidates(query):
            variant = self._variants[variant_index]
            entry_id = variant.entry_id
            if entry_id not in explained:
                explained[entry_id] = self._explained(query, entry_id)
            score = self._score(query, variant, explained[entry_id])
            known = scores.get(entry_id)
            if known is None or score > known.score:
                scores[entry_id] = Match(entry_id, score, explained[entry_id])
        ranked = sorted(scores.values(), key=lambda match: match.score, reverse=True)
        return ranked[:limit]

    def _query(self, text: str) -> _Query | None:
        words = tokens(text)
        if not words:
            return None
        lookups = [self._similar_words(word) for word in words]
        weights = [self._weight(lookup) for lookup in lookups]
        similarity: dict[int, float] = {}
        for lookup in lookups:
            for word_id, value in lookup.items():
                if value > similarity.get(word_id, 0.0):
                    similarity[word_id] = value
        return _Query(text, _numbers(text), lookups, weights, sum(weights), similarity)

    def _candidates(self, query: _Query) -> list[int]:
        """Variants sharing the most weight with the message: the only ones scored in full.

        Words found in a large share of all variants ("what", "is") say little about which
        entry is meant and have long posting lists; they are skipped here (not in scoring)
        whenever the message has a rarer word, which keeps large knowledge bases fast.
        """
        common = min(COMMON_WORD_SHARE * len(self._variants), MAX_NOMINATING_POSTINGS)
        common = max(common, CANDIDATES)
        words = sorted(query.similarity.items(), key=lambda item: len(self._postings[item[0]]))
        shared: dict[int, float] = defaultdict(float)
        for word_id, value in words:
            postings = self._postings.get(word_id, ())
            if len(postings) > common and shared:
                break
            weight = self._idf[word_id] * value
            for variant_index in postings:
                shared[variant_index] += weight
        return heapq.nlargest(CANDIDATES, shared, key=shared.__getitem__)

    def _explained(self, query: _Query, entry_id: str) -> float:
        """How much of the message (by weight) the entry's words account for, 0-1."""
        entry_words = self._entry_words[entry_id]
        explained_weight = 0.0
        for lookup, weight in zip(query.lookups, query.weights, strict=True):
            best = 0.0
            for word_id, value in lookup.items():
                evidence = entry_words.get(word_id)
                if evidence is not None and value * evidence > best:
                    best = value * evidence
            explained_weight += weight * best
        return explained_weight / query.total_weight

    def _score(self, query: _Query, variant: _Variant, explained: float) -> float:
        """0-100: the variant's words found in the message, times the message explained."""
        idf, similarity = self._idf, query.similarity
        coverage = sum(idf[w] * similarity.get(w, 0.0) for w in variant.words) / variant.weight
        word_score = 100.0 * math.sqrt(coverage * explained)
        if word_score < STRING_SIMILARITY and query.numbers == variant.numbers:
            # A near-identical string matches even when typos hide every word from the index.
            string_score = fuzz.ratio(query.text, variant.text, score_cutoff=STRING_SIMILARITY)
            return max(word_score, string_score)
        return word_score

    def decide(self, message: str) -> Decision:
        """Answer, clarify or fall back, by the thresholds at the top of this module."""
        return self.decide_normalized(normalize(message))

    def decide_normalized(self, text: str) -> Decision:
        """``decide`` for text already passed through ``normalize``."""
        ranked = [
            match
            for match in self.rank_normalized(text)
            if self._kinds[match.entry_id] != "smalltalk" or match.explained >= SMALLTALK_EXPLAINED
        ]
        suggestions = tuple(match for match in ranked if match.score >= SUGGEST_SCORE)
        if not suggestions:
            return Decision("fallback", tuple(ranked[:MAX_SUGGESTIONS]))
        best = suggestions[0]
        runner_up = suggestions[1].score if len(suggestions) > 1 else 0.0
        if best.score >= ANSWER_SCORE and best.score - runner_up >= ANSWER_MARGIN:
            return Decision("answer", (best,))
        return Decision("clarify", suggestions[:MAX_SUGGESTIONS])


def _numbers(text: str) -> frozenset[str]:
    return frozenset(word for word in tokens(text) if word.isdigit())


def vocabulary_samples(kb: KnowledgeBase) -> dict[str, Iterable[str]]:
    """Per-language text (questions and answers) for the language detector to learn words from."""
    samples: dict[str, list[str]] = {lang: [] for lang in LANGUAGES}
    for entry in kb.entries.values():
        for lang in LANGUAGES:
            samples[lang].extend(entry.questions[lang])
            samples[lang].append(entry.answers[lang])
    for strings in kb.ui.values():
        for lang in LANGUAGES:
            samples[lang].append(strings[lang])
    return samples
