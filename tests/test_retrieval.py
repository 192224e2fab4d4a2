"""Retrieval v2 (bot/retrieval.py, bot/semantic.py, bot/vector_cache.py): the phrasing cache, the
meaning scores, the fused confidence and the answer policy.

The cache and policy tests use a fake encoder (fast, deterministic); the tests of what users get
use the shipped responder, whose phrasing vectors come from the shared on-disk cache
(``python -m bot index`` builds it ahead in CI).
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import pytest
from shared import shipped_knowledge, shipped_responder

from bot.dialogue import Responder
from bot.encoder import DIMENSIONS
from bot.retrieval import (
    ANSWER_CONFIDENCE,
    HINT_CONFIDENCE,
    LENGTH_CAP,
    MAX_SUGGESTIONS,
    OPTION_CONFIDENCE,
    Match,
    Retriever,
    decide,
    fused_confidence,
    meaning_evidence,
    word_evidence,
)
from bot.semantic import SemanticIndex, phrasing_texts
from bot.vector_cache import CACHE_FILE, KEY_BYTES, VectorCache, text_key


class FakeEncoder:
    """Deterministic unit vectors from a text's hash; counts the texts it was asked for."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.extend(texts)
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
            vector = np.random.default_rng(seed).standard_normal(DIMENSIONS)
            rows.append(vector / np.linalg.norm(vector))
        return np.array(rows, dtype=np.float32)


# --- the phrasing cache ----------------------------------------------------------------------


def test_vectors_are_encoded_once_then_read_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "cache" / CACHE_FILE
    encode = FakeEncoder()
    first = VectorCache(path).vectors(["a", "b", "c"], encode, progress=None)
    assert encode.calls == ["a", "b", "c"] and path.is_file()
    again = FakeEncoder()
    second = VectorCache(path).vectors(["c", "a", "b"], again, progress=None)
    assert again.calls == []
    np.testing.assert_array_equal(second, first[[2, 0, 1]])


def test_editing_one_phrasing_encodes_only_that_one(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    VectorCache(path).vectors(["one", "two", "three"], FakeEncoder(), progress=None)
    encode = FakeEncoder()
    VectorCache(path).vectors(["one", "two, edited", "three"], encode, progress=None)
    assert encode.calls == ["two, edited"]


def test_keys_ending_in_zero_bytes_survive_the_round_trip(tmp_path: Path) -> None:
    """numpy's fixed-width byte strings drop trailing NULs; the keys must not (1 text in 256)."""
    texts = [f"phrasing {n}" for n in range(2000)]
    assert any(text_key(text).endswith(b"\0") for text in texts)
    path = tmp_path / CACHE_FILE
    VectorCache(path).vectors(texts, FakeEncoder(), progress=None)
    encode = FakeEncoder()
    VectorCache(path).vectors(texts, encode, progress=None)
    assert encode.calls == []
    assert len(text_key("x")) == KEY_BYTES


@pytest.mark.parametrize(
    "damage",
    [b"", b"not a zip file at all", b"PK\x03\x04broken zip", "truncate"],
    ids=["empty", "garbage", "broken-zip", "truncated"],
)
def test_a_damaged_cache_is_rebuilt_with_a_warning(
    tmp_path: Path, damage: bytes | str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / CACHE_FILE
    expected = VectorCache(path).vectors(["a", "b"], FakeEncoder(), progress=None)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncate" else damage)
    encode = FakeEncoder()
    with caplog.at_level(logging.WARNING, logger="bot.vector_cache"):
        vectors = VectorCache(path).vectors(["a", "b"], encode, progress=None)
    assert "damaged" in caplog.text
    assert encode.calls == ["a", "b"]
    np.testing.assert_allclose(vectors, expected)
    assert VectorCache(path).vectors(["a", "b"], FakeEncoder(), progress=None).shape == (2, 384)


def test_a_cache_of_wrong_shape_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    with path.open("wb") as handle:
        np.savez(handle, model_version=np.array("x"), keys=np.zeros(3), vectors=np.zeros((2, 5)))
    encode = FakeEncoder()
    VectorCache(path).vectors(["a"], encode, progress=None)
    assert encode.calls == ["a"]


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    cache = VectorCache(path)
    for n in range(3):
        cache.vectors([f"text {n}"], FakeEncoder(), progress=None)
    assert [p.name for p in tmp_path.iterdir()] == [CACHE_FILE]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_cache_directory_is_a_warning_not_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tmp_path.chmod(0o500)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.vector_cache"):
            vectors = VectorCache(tmp_path / "cache" / CACHE_FILE).vectors(
                ["a"], FakeEncoder(), progress=None
            )
    finally:
        tmp_path.chmod(0o700)
    assert vectors.shape == (1, DIMENSIONS)
    assert "cannot save" in caplog.text


def test_prune_drops_vectors_of_phrasings_that_are_gone(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    VectorCache(path).vectors(["old", "kept"], FakeEncoder(), progress=None)
    VectorCache(path).vectors(["kept"], FakeEncoder(), progress=None, prune=True)
    assert len(VectorCache(path)) == 1


def test_first_build_shows_progress_on_the_given_stream(tmp_path: Path) -> None:
    import io

    stream = io.StringIO()
    VectorCache(tmp_path / CACHE_FILE).vectors(
        [f"t{n}" for n in range(100)], FakeEncoder(), progress=stream
    )
    assert "encoding 100 phrasings" in stream.getvalue()
    assert "100/100" in stream.getvalue()


# --- the meaning index -------------------------------------------------------------------------


def test_each_entry_scores_its_best_phrasing_over_every_window() -> None:
    basis = np.eye(DIMENSIONS, dtype=np.float32)
    index = SemanticIndex(["a", "a", "b"], basis[[0, 1, 2]])
    message = np.array([basis[1], basis[2] * 0.5 + basis[0] * 0.5], dtype=np.float32)
    cosine = index.similarity(message).cosine
    assert cosine.tolist() == pytest.approx([1.0, 0.5])
    assert index.similarity(message).ranked(1) == [0]
    assert index.similarity(np.zeros((0, DIMENSIONS))).cosine.tolist() == [0.0, 0.0]


def test_large_indexes_shortlist_entries_and_score_the_shortlist_exactly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import bot.semantic

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((300, DIMENSIONS))
    rows = np.repeat(centres, 5, axis=0) + 0.3 * rng.standard_normal((1500, DIMENSIONS))
    rows = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    ids = [f"e{n // 5}" for n in range(1500)]
    exact = SemanticIndex(ids, rows)
    monkeypatch.setattr(bot.semantic, "EXACT_LIMIT", 100)
    large = SemanticIndex(ids, rows)
    message = rows[[7, 1200]] + 0.1 * rng.standard_normal((2, DIMENSIONS)).astype(np.float32)
    message /= np.linalg.norm(message, axis=1, keepdims=True)
    want, got = exact.similarity(message), large.similarity(message)
    assert got.ranked(5) == want.ranked(5)
    top = want.ranked(5)
    np.testing.assert_allclose(got.cosine[top], want.cosine[top], rtol=1e-5)


def test_phrasings_of_one_entry_must_be_consecutive() -> None:
    with pytest.raises(ValueError):
        SemanticIndex(["a", "b", "a"], np.zeros((3, DIMENSIONS), dtype=np.float32))


def test_phrasings_are_spelt_for_the_encoder_in_every_language() -> None:
    kb = shipped_knowledge()
    entry_ids, texts = phrasing_texts(kb, lambda text, lang: f"{lang}:{text}")
    assert len(texts) == sum(
        len(e.questions[lang]) for e in kb.entries.values() for lang in e.questions
    )
    assert {text.split(":", 1)[0] for text in texts} == {"en", "ru", "kk"}
    assert entry_ids[0] == next(iter(kb.entries))


# --- the fused confidence and the policy ------------------------------------------------------


def test_evidence_grows_with_each_score_and_either_scorer_can_carry_an_entry() -> None:
    assert word_evidence(20) < word_evidence(60) < word_evidence(100)
    assert meaning_evidence(0.85) < meaning_evidence(0.92) < meaning_evidence(0.99)
    assert fused_confidence(100, 0.80, words=6) > 0.9  # the words alone are sure
    assert fused_confidence(0, 0.995, 6) > fused_confidence(0, 0.90, 6)  # meaning alone counts
    assert fused_confidence(20, 0.82, 6) < OPTION_CONFIDENCE  # neither: nothing fits
    assert fused_confidence(100, 1.0, words=1) > ANSWER_CONFIDENCE  # "hi" is sure
    assert 0 <= fused_confidence(0, -1.0) <= fused_confidence(100, 1.0) <= 1


def test_long_messages_are_not_penalised_for_their_context() -> None:
    """A parent's three sentences dilute both scores; the length term makes up for it, up to
    a cap (a pasted essay is no surer than a paragraph)."""
    assert fused_confidence(55, 0.90, words=30) > fused_confidence(55, 0.90, words=6)
    assert fused_confidence(55, 0.90, words=LENGTH_CAP) == fused_confidence(55, 0.90, words=500)


#: A confidence in the band where a lone plausible entry is answered with the browse line.
HINT_MIDDLE = (HINT_CONFIDENCE + ANSWER_CONFIDENCE) / 2


def _m(entry_id: str, confidence: float) -> Match:
    return Match(entry_id, 100 * confidence)


@pytest.mark.parametrize(
    ("ranked", "kind", "ids", "unsure"),
    [
        ([_m("a", 0.99), _m("b", 0.3)], "answer", ["a"], False),
        ([_m("a", 0.99), _m("b", 0.9)], "answer", ["a"], False),  # clearly ahead in odds
        ([_m("a", 0.95), _m("b", 0.95)], "clarify", ["a", "b"], False),  # alike: ask
        (
            [
                _m(x, OPTION_CONFIDENCE + d)
                for x, d in (("a", 0.15), ("b", 0.1), ("c", 0.05), ("d", 0.02))
            ],
            "clarify",
            ["a", "b", "c"],
            False,
        ),
        ([_m("a", HINT_MIDDLE), _m("b", 0.1)], "answer", ["a"], True),  # one plausible: answer it
        (
            [_m("a", (OPTION_CONFIDENCE + HINT_CONFIDENCE) / 2), _m("b", 0.1)],
            "fallback",
            ["a", "b"],
            False,
        ),  # never one option
        ([_m("a", 0.2)], "fallback", ["a"], False),
        ([], "fallback", [], False),
    ],
)
def test_the_answer_policy(ranked: list[Match], kind: str, ids: list[str], unsure: bool) -> None:
    decision = decide(ranked)
    assert decision.kind == kind
    assert [m.entry_id for m in decision.matches] == ids
    assert decision.unsure is unsure


def test_policy_thresholds_are_ordered() -> None:
    assert 0 < OPTION_CONFIDENCE <= HINT_CONFIDENCE <= ANSWER_CONFIDENCE < 1
    assert MAX_SUGGESTIONS == 3


def test_without_vectors_the_words_alone_decide() -> None:
    retriever = Retriever(shipped_knowledge())
    decision = retriever.decide("when is children's day")
    assert (decision.kind, decision.best and decision.best.entry_id) == (
        "answer",
        "childrens-day-date",
    )
    assert decision.best is not None and decision.best.cosine is None


def test_a_responder_without_the_encoder_answers_by_words() -> None:
    responder = Responder(shipped_knowledge())
    assert responder.retriever.semantic is None
    reply = responder.respond("what is hotline 111")
    assert (reply.kind, reply.entry_id) == ("answer", "hotline-111")


def test_the_meaning_scorer_needs_vectors() -> None:
    with pytest.raises(ValueError):
        Retriever(shipped_knowledge(), mode="meaning")


# --- what users get: the shipped responder, with the encoder -----------------------------------


@pytest.fixture(scope="module")
def responder() -> Responder:
    responder = shipped_responder()
    if responder.retriever.semantic is None:
        pytest.skip("the sentence encoder is not available")
    return responder


def test_the_shipped_responder_indexes_every_phrasing(responder: Responder) -> None:
    assert responder.retriever.semantic is not None
    assert responder.retriever.semantic.phrasing_count == responder.retriever.variant_count


@pytest.mark.parametrize(
    ("message", "entry"),
    [
        # Words alone ask "did you mean" or give up on these; with their meaning, answered.
        (
            "does the government have a plan for the wellbeing of children up to 2025",
            "comprehensive-plan-2023-2025",
        ),
        ("if i ring 111 do my mum and dad find out", "is-111-anonymous"),
        ("если я позвоню в 111, родители об этом узнают?", "is-111-anonymous"),
        ("what happens when you complain through dosbollike", "dosbollike-how-it-works"),
    ],
)
def test_meaning_answers_what_words_alone_cannot(
    responder: Responder, message: str, entry: str
) -> None:
    reply = responder.respond(message)
    assert (reply.kind, reply.entry_id) == ("answer", entry), reply.text
    words_only = Responder(responder.kb).respond(message)
    assert (words_only.kind, words_only.entry_id) != ("answer", entry)


@pytest.mark.parametrize(
    ("message", "entry"),
    [
        ("hotline 111", "hotline-111"),
        ("балалар куни кашан", "childrens-day-date"),
        ("кто придумал день защиты детей", "childrens-day-history"),
        ("ата-ана баланы ұра ала ма", "protection-from-violence"),
    ],
)
def test_hybrid_keeps_what_words_found(responder: Responder, message: str, entry: str) -> None:
    reply = responder.respond(message)
    assert (reply.kind, reply.entry_id) == ("answer", entry), reply.text


def test_an_unsure_answer_says_how_to_browse(responder: Responder) -> None:
    note = {lang: responder.kb.text("not_sure_note", lang) for lang in ("en", "ru", "kk")}
    assert all("/topics" in text for text in note.values())
    reply = responder.answer("hotline-111", "ru", score=86.0, note=note["ru"])
    assert reply.note == note["ru"]
    assert reply.body.endswith(note["ru"]) and reply.text.endswith(note["ru"])
    sure = responder.answer("hotline-111", "ru")
    assert sure.note == "" and note["ru"] not in sure.text


@pytest.mark.parametrize("message", ["thank you so much!", "what can you do", "hi", "рахмет"])
def test_small_talk_is_small_talk(responder: Responder, message: str) -> None:
    assert responder.respond(message).kind == "smalltalk"


def test_respond_encodes_each_message_once(responder: Responder) -> None:
    calls: list[list[str]] = []
    encode = responder.encode
    assert encode is not None

    def counting(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return encode(texts)

    twin = Responder(
        responder.kb, encode=counting, semantic=responder.retriever.semantic, crisis_model=None
    )
    reply = twin.respond("if i ring 111 do my mum and dad find out")
    assert len(calls) == 1 and reply.entry_id == "is-111-anonymous"
