"""Crisis detection by meaning: a classifier over sentence vectors, trained on our own examples.

The phrase lexicon (``bot/safety.py``) only finds the words someone thought of; children write
"everyone would be better off without me" or "he says it's our secret". This module learns from
labelled messages in ``knowledge/crisis_examples/<lang>.yaml`` (crises per category, near misses
on the same subjects, ordinary messages), embedded by ``bot.encoder``. The model is multinomial
logistic regression: one weight vector per class, so at run time it is one small matrix product.

Every question phrasing of the knowledge base is also a "not a crisis" example: they are what
people ordinarily ask this bot, in every language, and they teach the model that "what should I
do about bullying" is a question to answer, not an alarm.

The trained weights are a derived file, ``knowledge/crisis_model.npz``, committed beside the
examples and shipped with them. ``python -m bot train`` rebuilds it deterministically
(training needs scikit-learn: ``pip install ".[train]"``); it records a fingerprint of the
examples, of the knowledge base's phrasings and of the encoder version, and
``python -m bot check`` fails while that fingerprint is stale.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from bot.encoder import MODEL_VERSION
from bot.knowledge import CRISIS_CATEGORIES, KnowledgeBase, iter_questions
from bot.text import LANGUAGES

EXAMPLES_DIR = "crisis_examples"
MODEL_FILE = "crisis_model.npz"
#: The class of everything that is not a crisis (near misses and ordinary messages).
NOT_CRISIS = "none"
#: Changes when training itself changes (features, regularisation), so old weights count as stale.
TRAINING_VERSION = "logreg-c64-none-x2/v3"
#: Inverse regularisation strength of the logistic regression.
REGULARISATION_C = 64.0
#: Not-a-crisis examples weigh this many times the crisis examples in total. Chosen on the first
#: blind set held out from training: 2 kept 96% of its crises and 5% of its near misses flagged,
#: where 1 flagged 12% (and the lexicon adds recall on top).
NOT_CRISIS_WEIGHT = 2.0


class CrisisModelError(Exception):
    """The examples or the model file cannot be used; the message says what to do."""


@dataclass(frozen=True)
class Example:
    """One labelled message: its category (or ``none``) and how it is meant (for the report)."""

    text: str
    lang: str
    label: str
    kind: str  # "crisis" | "near_miss" | "ordinary"


def example_files(knowledge_dir: Path) -> list[Path]:
    return sorted((knowledge_dir / EXAMPLES_DIR).glob("*.yaml"))


def load_examples(knowledge_dir: Path) -> list[Example]:
    """Every labelled example; raises CrisisModelError naming the file and what is wrong.

    A file holds one language: ``categories`` (per kind of danger, ``crisis`` and ``near_miss``
    lists), and optional top-level ``near_miss`` and ``ordinary`` lists. Across the files of a
    language every category needs crisis examples, or the model could never learn it there.
    """
    files = example_files(knowledge_dir)
    if not files:
        raise CrisisModelError(f"{knowledge_dir / EXAMPLES_DIR}: no example files found")
    examples: list[Example] = []
    problems: list[str] = []
    for path in files:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            problems.append(f"{path}: cannot read: {error}")
            continue
        if not isinstance(data, dict) or data.get("lang") not in LANGUAGES:
            problems.append(f"{path}: needs 'lang:' (one of {', '.join(LANGUAGES)})")
            continue
        examples.extend(_file_examples(path, data, problems))
    for lang in sorted({example.lang for example in examples}):
        found = {e.label for e in examples if e.lang == lang}
        for category in CRISIS_CATEGORIES:
            if category not in found:
                problems.append(
                    f"{knowledge_dir / EXAMPLES_DIR}: {lang}: {category}.crisis has no examples"
                )
    if problems:
        raise CrisisModelError("\n".join(problems))
    return examples


def _file_examples(path: Path, data: dict[str, object], problems: list[str]) -> list[Example]:
    lang = str(data["lang"])
    found: list[Example] = []
    categories = data.get("categories") or {}
    if not isinstance(categories, dict):
        problems.append(f"{path}: 'categories:' must map categories to crisis/near_miss lists")
        categories = {}
    for category in sorted(set(categories) - set(CRISIS_CATEGORIES)):
        problems.append(f"{path}: unknown category '{category}'")
    for category in CRISIS_CATEGORIES:
        groups = categories.get(category)
        if groups is None:
            continue
        if not isinstance(groups, dict):
            problems.append(f"{path}: {category} must have 'crisis' and 'near_miss' lists")
            continue
        for kind, label in (("crisis", category), ("near_miss", NOT_CRISIS)):
            texts = groups.get(kind)
            if texts is None:
                continue
            found.extend(_texts(path, f"{category}.{kind}", texts, lang, label, kind, problems))
    for kind in ("near_miss", "ordinary"):
        texts = data.get(kind)
        if texts is not None:
            found.extend(_texts(path, kind, texts, lang, NOT_CRISIS, kind, problems))
    if not found and not problems:
        problems.append(f"{path}: no examples")
    return found


def _texts(
    path: Path,
    where: str,
    items: object,
    lang: str,
    label: str,
    kind: str,
    problems: list[str],
) -> list[Example]:
    if not isinstance(items, list) or not items:
        problems.append(f"{path}: {where} must be a non-empty list")
        return []
    found = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, str) or not item.strip():
            problems.append(f"{path}: {where} item {number} must be non-empty text")
        else:
            found.append(Example(item.strip(), lang, label, kind))
    return found


def faq_examples(kb: KnowledgeBase) -> list[Example]:
    """The knowledge base's question phrasings, as not-a-crisis examples."""
    return [Example(question, lang, NOT_CRISIS, "faq") for _, lang, question in iter_questions(kb)]


def fingerprint(knowledge_dir: Path, faq: Sequence[Example]) -> str:
    """What the model was trained from: the examples, the phrasings, the encoder, the recipe."""
    digest = hashlib.sha256(f"{MODEL_VERSION}\n{TRAINING_VERSION}\n".encode())
    for path in example_files(knowledge_dir):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for example in sorted(faq, key=lambda e: (e.lang, e.text)):
        digest.update(f"{example.lang}\0{example.text}\0".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class CrisisModel:
    """Trained weights: ``probabilities`` gives each message's chance of each class."""

    classes: tuple[str, ...]
    weights: np.ndarray  # (classes, dimensions)
    bias: np.ndarray  # (classes,)
    trained_from: str

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """(messages, classes) softmax probabilities for unit sentence vectors."""
        logits = vectors @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    @property
    def not_crisis_index(self) -> int:
        return self.classes.index(NOT_CRISIS)

    def save(self, path: Path) -> None:
        # A plain .npz of arrays and strings: no pickles, so loading a file runs no code.
        with path.open("wb") as handle:
            np.savez_compressed(
                handle,
                classes=np.array(self.classes),
                weights=self.weights.astype(np.float32),
                bias=self.bias.astype(np.float32),
                trained_from=np.array(self.trained_from),
            )

    @classmethod
    def load(cls, path: Path) -> CrisisModel:
        try:
            with path.open("rb") as handle, np.load(handle, allow_pickle=False) as data:
                model = cls(
                    classes=tuple(str(name) for name in data["classes"]),
                    weights=np.asarray(data["weights"], dtype=np.float32),
                    bias=np.asarray(data["bias"], dtype=np.float32),
                    trained_from=str(data["trained_from"]),
                )
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            raise CrisisModelError(
                f"{path}: cannot read the crisis model ({error}); run `python -m bot train`"
            ) from error
        if NOT_CRISIS not in model.classes or model.weights.shape != (
            len(model.classes),
            model.weights.shape[1] if model.weights.ndim == 2 else -1,
        ):
            raise CrisisModelError(f"{path}: damaged crisis model; run `python -m bot train`")
        return model


def load_model(knowledge_dir: Path) -> CrisisModel:
    """The committed model, or CrisisModelError saying how to rebuild it."""
    path = knowledge_dir / MODEL_FILE
    if not path.is_file():
        raise CrisisModelError(f"{path}: crisis model not found; run `python -m bot train`")
    return CrisisModel.load(path)


def stale_reason(knowledge_dir: Path, faq: Sequence[Example]) -> str | None:
    """Why the committed model does not match the examples, or None when it is current."""
    try:
        model = load_model(knowledge_dir)
        current = fingerprint(knowledge_dir, faq)
    except CrisisModelError as error:
        return str(error)
    if model.trained_from != current:
        return (
            f"{knowledge_dir / MODEL_FILE}: trained from other examples, other question "
            "phrasings or another encoder; "
            'run `pip install ".[train]"` and `python -m bot train`, then commit the file'
        )
    return None


def train(
    knowledge_dir: Path,
    faq: Sequence[Example],
    vectors_of: Callable[[Sequence[str]], np.ndarray],
    prepare: Callable[[str, str], str],
) -> CrisisModel:
    """Fit the classifier on the examples, deterministically (same files -> same weights).

    Not-a-crisis messages far outnumber crises in the data; they are weighted so that they count
    NOT_CRISIS_WEIGHT times as much as all crises together, while the crisis categories keep
    their natural shares.
    """
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError as error:  # training only: not a run-time dependency
        raise CrisisModelError('training needs scikit-learn: pip install ".[train]"') from error
    examples = [*load_examples(knowledge_dir), *faq]
    texts = [prepare(example.text, example.lang) for example in examples]
    vectors = vectors_of(texts)
    labels = np.array([example.label for example in examples])
    crisis = labels != NOT_CRISIS
    weights = np.where(crisis, 1.0, NOT_CRISIS_WEIGHT * crisis.sum() / max((~crisis).sum(), 1))
    classifier = LogisticRegression(C=REGULARISATION_C, max_iter=5000, random_state=0)
    classifier.fit(vectors, labels, sample_weight=weights)
    return CrisisModel(
        classes=tuple(str(name) for name in classifier.classes_),
        weights=classifier.coef_.astype(np.float32),
        bias=classifier.intercept_.astype(np.float32),
        trained_from=fingerprint(knowledge_dir, faq),
    )
