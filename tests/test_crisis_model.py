"""The crisis classifier's files (bot/crisis_model.py): examples, training, staleness, damage."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from shared import KNOWLEDGE_DIR, run_bot_process, shipped_knowledge

from bot.crisis_model import (
    EXAMPLES_DIR,
    MODEL_FILE,
    NOT_CRISIS,
    CrisisModel,
    CrisisModelError,
    faq_examples,
    load_examples,
    load_model,
    stale_reason,
    train,
)
from bot.knowledge import CRISIS_CATEGORIES
from bot.text import LANGUAGES


def _fake_encode(texts: list[str]) -> np.ndarray:
    """Deterministic stand-in vectors (a hash of each text): training logic without the model."""
    rows = []
    for text in texts:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
        row = np.random.default_rng(seed).standard_normal(16).astype(np.float32)
        rows.append(row / np.linalg.norm(row))
    return np.vstack(rows)


def _write_examples(directory: Path, *, drop: str | None = None) -> None:
    folder = directory / EXAMPLES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["lang: en", "categories:"]
    for category in CRISIS_CATEGORIES:
        if category == drop:
            continue
        lines += [
            f"  {category}:",
            "    crisis:",
            *(f'      - "{category} crisis {n}"' for n in range(3)),
            "    near_miss:",
            *(f'      - "{category} topic {n}"' for n in range(3)),
        ]
    lines += ["ordinary:", '  - "when is childrens day"', '  - "hello"']
    (folder / "en.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_shipped_examples_cover_every_category_and_language() -> None:
    examples = load_examples(KNOWLEDGE_DIR)
    for lang in LANGUAGES:
        for category in CRISIS_CATEGORIES:
            crisis = [e for e in examples if e.lang == lang and e.label == category]
            assert len(crisis) >= 30, (lang, category, len(crisis))
        near = [e for e in examples if e.lang == lang and e.kind == "near_miss"]
        assert len(near) >= 30 * len(CRISIS_CATEGORIES) * 0.9, (lang, len(near))


def test_shipped_model_is_current_and_knows_every_category() -> None:
    assert stale_reason(KNOWLEDGE_DIR, faq_examples(shipped_knowledge())) is None
    model = load_model(KNOWLEDGE_DIR)
    assert set(model.classes) == {NOT_CRISIS, *CRISIS_CATEGORIES}


def test_training_is_deterministic_and_the_result_loads(tmp_path: Path) -> None:
    _write_examples(tmp_path)
    first = train(tmp_path, [], _fake_encode, lambda text, lang: text)
    second = train(tmp_path, [], _fake_encode, lambda text, lang: text)
    np.testing.assert_array_equal(first.weights, second.weights)
    first.save(tmp_path / MODEL_FILE)
    loaded = load_model(tmp_path)
    assert loaded.classes == first.classes
    assert stale_reason(tmp_path, []) is None
    probabilities = loaded.probabilities(_fake_encode(["violence crisis 1"]))
    assert probabilities.shape == (1, len(loaded.classes))
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-5)


def test_editing_an_example_makes_the_model_stale(tmp_path: Path) -> None:
    _write_examples(tmp_path)
    train(tmp_path, [], _fake_encode, lambda text, lang: text).save(tmp_path / MODEL_FILE)
    path = tmp_path / EXAMPLES_DIR / "en.yaml"
    path.write_text(path.read_text() + '  - "a new ordinary message"\n', encoding="utf-8")
    reason = stale_reason(tmp_path, [])
    assert reason is not None and "python -m bot train" in reason


def test_a_missing_category_is_named(tmp_path: Path) -> None:
    _write_examples(tmp_path, drop="friend")
    with pytest.raises(CrisisModelError, match=r"en: friend\.crisis has no examples"):
        load_examples(tmp_path)


@pytest.mark.parametrize("content", [b"", b"garbage", b"PK\x03\x04broken zip"])
def test_a_damaged_model_file_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / MODEL_FILE).write_bytes(content)
    with pytest.raises(CrisisModelError, match="python -m bot train"):
        load_model(tmp_path)


def test_check_fails_on_a_stale_model(tmp_path: Path) -> None:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, knowledge)
    path = knowledge / EXAMPLES_DIR / "en.yaml"
    path.write_text(path.read_text() + '  - "one more ordinary message"\n', encoding="utf-8")
    result = run_bot_process("--knowledge", str(knowledge), "check", cwd=tmp_path)
    assert result.returncode == 1
    assert "python -m bot train" in result.stdout


def test_model_file_loads_no_code(tmp_path: Path) -> None:
    """The model is a plain array file: a pickled object in it is refused, not run."""
    with (tmp_path / MODEL_FILE).open("wb") as handle:
        np.savez(handle, classes=np.array([object()], dtype=object))
    with pytest.raises(CrisisModelError):
        CrisisModel.load(tmp_path / MODEL_FILE)
