"""Find the knowledge entry a message asks about: fuzzy word matching and sentence vectors, fused.

Two scorers look at every message, and each is good where the other is weak:

* **Words** (``Retriever``'s own index, rapidfuzz): every question variant of every language is
  normalised once, when the index is built. A message is matched word by word: each of its words
  is mapped to the index's vocabulary (exactly, by a shared stem, or by rapidfuzz similarity for
  typos), and each word carries an IDF weight, so rare words like "dosbollike" or "adoption"
  decide and "what is the" do not. A variant scores high when most of *its* words appear in the
  message (coverage) and most of the *message's* words are explained by the entry (so "help me
  with my maths homework" does not match "help"). A whole-string rapidfuzz ratio rescues short
  messages with typos in every word. Only the entries sharing weighty words with the message (an
  inverted index) are scored in full, so large knowledge bases stay fast.
* **Meaning** (``bot.semantic.SemanticIndex``): the cosine of the message's sentence vectors to
  each entry's phrasings, in every language, which finds "who came up with children's day" for
  "history of 1 June" with no word in common.

Each score becomes the probability that its entry is the one meant (a logistic curve per scorer);
the two are fused as "either scorer is right" (a noisy-OR, so an entry that only one of them
recognises can still win) and recalibrated into one confidence, 0-1, the chance that the best
entry is right. The answer policy (``decide``) reads only that confidence. Every constant of the
fusion and the policy is at the top of this module; ``python -m benchmarks.tune`` refits them and
prints them. The values below were fitted on the development set together with the first blind
set (2026-12-02-answers), after that set's first-sight figures had been recorded
(``python -m benchmarks.tune --learn-from tests/eval/blind/2026-12-02-answers.yaml``); newer
blind sets are only measured.

Without the encoder (no ``SemanticIndex``) the words alone decide, with their own calibration.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from bot.knowledge import KnowledgeBase
from bot.semantic import SemanticIndex
from bot.text import LANGUAGES, normalize, tokens

# --- fusion: from the two scores to one confidence (fitted by benchmarks/tune.py) -------------
#: The word score (0-1) as evidence: the chance that the words' best entry is the one meant is
#: sigmoid(FUZZY_SLOPE * score + FUZZY_OFFSET); about 0.5 at a word score of 0.5, 0.99 at 1.
FUZZY_SLOPE = 8.88
FUZZY_OFFSET = -4.49
#: Cosines of multilingual-e5 vectors crowd into 0.8-1.0 (even unrelated sentences score ~0.8),
#: so a cosine is first rescaled: (cosine - COSINE_ORIGIN) / (1 - COSINE_ORIGIN).
COSINE_ORIGIN = 0.8
#: The rescaled cosine as evidence, like the word score: sigmoid(slope * rescaled + offset);
#: about 0.5 at a cosine of 0.91, 0.9 at 0.97.
COSINE_SLOPE = 8.01
COSINE_OFFSET = -4.40
#: The noisy-OR of the two overstates certainty when both scorers see the same surface
#: similarity, and understates it for long messages: a parent's three sentences explain one
#: question and dilute both scores, yet long messages are rarely out of scope. So it is
#: recalibrated (Platt scaling of its log-odds, with the message's length): confidence =
#: sigmoid(FUSED_SLOPE * logit(noisy_or) + LENGTH_SLOPE * ln(words) + FUSED_OFFSET).
FUSED_SLOPE = 1.23
LENGTH_SLOPE = 1.68
FUSED_OFFSET = -5.29
#: Words beyond this many do not raise the confidence further (a pasted essay is not surer).
LENGTH_CAP = 40
#: Entries nominated by each scorer for the fused ranking: the words' candidates, and this many
#: entries with the highest cosine (whose word scores are then computed too).
SEMANTIC_CANDIDATES = 8

# --- the answer policy: the only place where retrieval decides ---------------------------------
# 0.85/0.80/0.50: the best of benchmarks/tune.py's grid over the development set and the first
# blind set taken together. (0.95/0.85/0.70, with each file within the limits on its own, was
# tried and reverted: Russian top-1 on the development set fell to 89%, clarify nearly to 0.)
#: At or above this confidence the best entry is answered outright...
ANSWER_CONFIDENCE = 0.85
#: ...when it is clearly ahead: its log-odds at least this much above any other plausible
#: entry's (odds 1.3 times higher). Two entries that match alike get "did you mean".
CLEAR_LEAD = 0.25
#: From this confidence up to ANSWER_CONFIDENCE the best entry is still answered, with one line
#: saying how to browse topics, unless another entry is plausible too (then: "did you mean").
HINT_CONFIDENCE = 0.8
#: An entry at or above this confidence is plausible: offered in "did you mean", which needs two
#: or three plausible entries (never one). Below it for all entries: the honest fallback.
OPTION_CONFIDENCE = 0.5
MAX_SUGGESTIONS = 3
#: Small talk ("hi", "thanks") must explain nearly the whole message by its words...
SMALLTALK_EXPLAINED = 0.85
#: ...or be this close in meaning ("благодарю, очень помогли"), or "hi, when is children's day"
#: would be answered with a greeting.
SMALLTALK_COSINE = 0.94

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

#: Which scorers rank: both (the bot), or one alone (for comparison in the benchmarks).
MODES = ("hybrid", "words", "meaning")


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-value)) if value > -700 else 0.0


def _logit(probability: float) -> float:
    probability = min(max(probability, 1e-9), 1 - 1e-9)
    return math.log(probability / (1 - probability))


def word_evidence(fuzzy: float) -> float:
    """The chance that an entry with this word score (0-100) is the one meant."""
    return _sigmoid(FUZZY_SLOPE * fuzzy / 100 + FUZZY_OFFSET)


def meaning_evidence(cosine: float) -> float:
    """The chance that an entry with this best cosine to the message is the one meant."""
    rescaled = (cosine - COSINE_ORIGIN) / (1 - COSINE_ORIGIN)
    return _sigmoid(COSINE_SLOPE * rescaled + COSINE_OFFSET)


def fused_confidence(fuzzy: float, cosine: float, words: int = 1) -> float:
    """One calibrated confidence (0-1) from both scores and the message's length in words:
    recalibrated "either scorer is right"."""
    either = 1 - (1 - word_evidence(fuzzy)) * (1 - meaning_evidence(cosine))
    length = math.log(min(max(words, 1), LENGTH_CAP))
    return _sigmoid(FUSED_SLOPE * _logit(either) + LENGTH_SLOPE * length + FUSED_OFFSET)


@dataclass(frozen=True)
class Match:
    """One ranked entry: ``score`` (0-100) is its confidence in percent.

    ``fuzzy`` (0-100) and ``cosine`` (-1..1, None without the encoder) are the two scorers' own
    views; ``explained`` is the share of the message the entry's words account for.
    """

    entry_id: str
    score: float
    explained: float = 1.0
    fuzzy: float = 0.0
    cosine: float | None = None

    @property
    def confidence(self) -> float:
        return self.score / 100


@dataclass(frozen=True)
class Decision:
    """What retrieval concluded: answer one entry, ask which one, or admit not knowing.

    ``unsure``: an answer given below ANSWER_CONFIDENCE, which the reply follows with a line
    saying how to browse topics in case it was not the question.
    """

    kind: str  # "answer" | "clarify" | "fallback"
    matches: tuple[Match, ...]
    unsure: bool = False

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
    """The search indexes over every question variant of the knowledge base, built once.

    ``semantic`` (the phrasings' sentence vectors) adds the meaning scorer; ``mode`` chooses
    which scorers rank (see MODES): the bot uses both, the benchmarks also each alone.
    """

    def __init__(
        self, kb: KnowledgeBase, semantic: SemanticIndex | None = None, *, mode: str = "hybrid"
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if semantic is None and mode == "meaning":
            raise ValueError("the meaning scorer needs the phrasings' vectors (semantic)")
        self.semantic = semantic
        self.mode = mode if semantic is not None else "words"
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
        self._by_entry: dict[str, list[int]] = defaultdict(list)
        for index, variant in enumerate(self._variants):
            self._by_entry[variant.entry_id].append(index)
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

    def rank(self, message: str, limit: int = 10, vectors: np.ndarray | None = None) -> list[Match]:
        """Entries ranked by confidence, best first (possibly empty).

        ``vectors``: the message's sentence vectors (``bot.encoder``), for the meaning scorer;
        without them (or without a ``SemanticIndex``) the words alone rank.
        """
        return self.rank_normalized(normalize(message), limit, vectors)

    def rank_normalized(
        self, text: str, limit: int = 10, vectors: np.ndarray | None = None
    ) -> list[Match]:
        """``rank`` for text already passed through ``normalize`` (saves doing it twice)."""
        query = self._query(text)
        use_meaning = self.semantic is not None and vectors is not None and len(vectors) > 0
        if self.mode == "meaning" and not use_meaning:
            return []
        if query is None and not use_meaning:
            return []
        words = self._word_matches(query) if query is not None else {}
        words_count = len(query.weights) if query is not None else 0
        if not use_meaning:
            ranked = [
                dataclasses.replace(m, score=100 * word_evidence(m.fuzzy)) for m in words.values()
            ]
            return sorted(ranked, key=_by_score)[:limit]
        assert self.semantic is not None and vectors is not None
        similarity = self.semantic.similarity(vectors)
        cosines, position = similarity.cosine, self.semantic.position
        nominated = [self.semantic.entry_ids[i] for i in similarity.ranked(SEMANTIC_CANDIDATES)]
        if self.mode == "hybrid":
            nominated += [entry_id for entry_id in words if entry_id not in nominated]
        ranked = []
        for entry_id in nominated:
            word = words.get(entry_id)
            if word is None and query is not None and self.mode == "hybrid":
                word = self._word_match(query, entry_id)
            cosine = float(cosines[position[entry_id]])
            fuzzy = word.fuzzy if word is not None else 0.0
            if self.mode == "meaning":
                confidence = meaning_evidence(cosine)
            else:
                confidence = fused_confidence(fuzzy, cosine, words_count)
            explained = word.explained if word is not None else 0.0
            ranked.append(Match(entry_id, 100 * confidence, explained, fuzzy, cosine))
        return sorted(ranked, key=_by_score)[:limit]

    def _word_matches(self, query: _Query) -> dict[str, Match]:
        """The word scorer's view: each candidate entry's best variant score (0-100)."""
        explained: dict[str, float] = {}
        scores: dict[str, Match] = {}
        for variant_index in self._candidates(query):
            variant = self._variants[variant_index]
            entry_id = variant.entry_id
            if entry_id not in explained:
                explained[entry_id] = self._explained(query, entry_id)
            score = self._score(query, variant, explained[entry_id])
            known = scores.get(entry_id)
            if known is None or score > known.fuzzy:
                scores[entry_id] = Match(entry_id, score, explained[entry_id], score)
        return scores

    def _word_match(self, query: _Query, entry_id: str) -> Match:
        """The word score of one entry the inverted index did not nominate (all its variants)."""
        explained = self._explained(query, entry_id)
        best = max(
            (self._score(query, self._variants[i], explained) for i in self._by_entry[entry_id]),
            default=0.0,
        )
        return Match(entry_id, best, explained, best)

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

    def decide(self, message: str, vectors: np.ndarray | None = None) -> Decision:
        """Answer, clarify or fall back, by the policy constants at the top of this module."""
        return self.decide_normalized(normalize(message), vectors)

    def decide_normalized(self, text: str, vectors: np.ndarray | None = None) -> Decision:
        """``decide`` for text already passed through ``normalize``."""
        ranked = [
            match for match in self.rank_normalized(text, vectors=vectors) if self.fits(match)
        ]
        return decide(ranked)

    def fits(self, match: Match) -> bool:
        """Small talk only when it is the whole message (see SMALLTALK_EXPLAINED)."""
        if self._kinds[match.entry_id] != "smalltalk":
            return True
        if match.explained >= SMALLTALK_EXPLAINED:
            return True
        return match.cosine is not None and match.cosine >= SMALLTALK_COSINE


def decide(ranked: Sequence[Match]) -> Decision:
    """The answer policy over entries ranked by confidence, best first.

    Answer when the best entry is clearly right; "did you mean" only when two or three entries
    are plausible and the best is not sure; never a single suggestion (that one is answered,
    with a line on how to browse, when it is plausible enough); otherwise the honest fallback.
    """
    if not ranked or ranked[0].confidence < OPTION_CONFIDENCE:
        return Decision("fallback", tuple(ranked[:MAX_SUGGESTIONS]))
    best = ranked[0]
    options = tuple(m for m in ranked[:MAX_SUGGESTIONS] if m.confidence >= OPTION_CONFIDENCE)
    lead = min(
        (_logit(best.confidence) - _logit(m.confidence) for m in options[1:]), default=math.inf
    )
    if best.confidence >= ANSWER_CONFIDENCE and lead >= CLEAR_LEAD:
        return Decision("answer", (best,))
    if len(options) > 1:
        return Decision("clarify", options)
    if best.confidence >= HINT_CONFIDENCE:
        return Decision("answer", (best,), unsure=True)
    return Decision("fallback", tuple(ranked[:MAX_SUGGESTIONS]))


def _by_score(match: Match) -> tuple[float, str]:
    return (-match.score, match.entry_id)


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
