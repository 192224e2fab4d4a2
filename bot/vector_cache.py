"""Sentence vectors of the knowledge base's phrasings, computed once and kept on disk.

Encoding all ~2,800 phrasings takes tens of seconds on one core; loading them from this cache
takes milliseconds, which keeps start-up fast. Each vector is stored under a key made from the
text it encodes and ``bot.encoder.MODEL_VERSION``, so

* editing one phrasing re-encodes only that phrasing (every other key is unchanged);
* a new model version or text preparation finds no keys and re-encodes everything;
* knowledge bases that share phrasings (a test's edited copy, a synthetic one) share vectors.

The file (``phrasing-vectors.npz`` in the cache directory, by default ``<DATA_DIR>/cache``) is a
plain ``.npz`` of two arrays, never a pickle, so reading it runs no code. It is written to a
temporary file and renamed into place, so a crash mid-write leaves the old file intact, and two
processes building at once each leave a complete file. A damaged or unreadable file is rebuilt
with a warning; a directory we may not write to costs the next start-up the same encoding again,
with a warning, and never stops the bot.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from bot.encoder import DIMENSIONS, MODEL_VERSION

logger = logging.getLogger(__name__)

CACHE_FILE = "phrasing-vectors.npz"
#: Bytes of the SHA-256 digest kept as a key: 2**-128 collision odds, half the size.
KEY_BYTES = 16
#: Texts per call to the encoder while building (about as fast per text as larger batches).
BATCH = 32
#: Fewer texts than this to encode are not worth a progress bar (an edit of a few phrasings).
PROGRESS_MIN = 50
#: Vectors of phrasings no longer in the knowledge base are kept (other copies of it may use
#: them) as long as the file holds at most this many vectors; beyond, only the current ones.
MAX_KEPT = 50_000

Encode = Callable[[Sequence[str]], np.ndarray]


def default_cache_dir(data_dir: Path | None = None) -> Path:
    """``<DATA_DIR>/cache``: beside the bot's other data (``DATA_DIR``, from the environment or
    ``.env``, defaults to ``data``)."""
    if data_dir is None:
        from bot.config import ConfigError, Settings

        try:
            data_dir = Settings.from_env().data_dir
        except ConfigError:  # a bad PORT is not this module's business
            data_dir = Settings().data_dir
    return data_dir / "cache"


def text_key(text: str) -> bytes:
    """The cache key of one text: its digest together with the model version."""
    digest = hashlib.sha256(MODEL_VERSION.encode() + b"\0" + text.encode("utf-8", "replace"))
    return digest.digest()[:KEY_BYTES]


class VectorCache:
    """The vectors in one cache file, loaded on construction; ``vectors`` fills in what's missing.

    ``path`` None keeps everything in memory (tests, benchmarks on synthetic knowledge bases).
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._vectors: dict[bytes, np.ndarray] = {}
        self._dirty = False
        if path is not None:
            self._vectors = _read(path)

    def __len__(self) -> int:
        return len(self._vectors)

    def save(self) -> None:
        """Write the file if anything changed since it was read (atomically; see _write)."""
        if self.path is not None and self._dirty:
            _write(self.path, self._vectors)
            self._dirty = False

    def vectors(
        self,
        texts: Sequence[str],
        encode: Encode,
        *,
        progress: TextIO | None = sys.stderr,
        prune: bool = False,
        save: bool = True,
    ) -> np.ndarray:
        """A (len(texts), DIMENSIONS) float32 array: cached vectors, the missing ones encoded.

        Newly encoded vectors are saved at once (unless ``save`` is False: then by ``save()``).
        ``prune`` drops every vector not in ``texts`` from the file (``python -m bot index``);
        otherwise old ones are kept up to MAX_KEPT.
        """
        keys = [text_key(text) for text in texts]
        missing: dict[bytes, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in self._vectors:
                missing.setdefault(key, text)
        if missing:
            self._encode(missing, encode, progress)
        if prune or len(self._vectors) > MAX_KEPT:
            wanted = set(keys)
            if len(self._vectors) > len(wanted):
                self._vectors = {k: v for k, v in self._vectors.items() if k in wanted}
                self._dirty = True
        if save:
            self.save()
        if not keys:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        return np.stack([self._vectors[key] for key in keys])

    def _encode(self, missing: dict[bytes, str], encode: Encode, progress: TextIO | None) -> None:
        # Similar lengths in a batch waste less work on padding.
        todo = sorted(missing.items(), key=lambda item: len(item[1]))
        bar = _ProgressBar(len(todo), progress if len(todo) >= PROGRESS_MIN else None)
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            found = np.asarray(encode([text for _, text in batch]), dtype=np.float32)
            for (key, _), vector in zip(batch, found, strict=True):
                self._vectors[key] = vector
            self._dirty = True
            bar.update(start + len(batch))
        bar.close()


class _ProgressBar:
    """``encoding phrasings [#####.....] 1200/2847`` on stderr, redrawn in place on a terminal."""

    WIDTH = 30

    def __init__(self, total: int, stream: TextIO | None) -> None:
        self.total = total
        self.stream = stream
        self._live = bool(stream is not None and stream.isatty())
        self._shown = -1
        if stream is not None:
            stream.write(
                f"encoding {total} phrasings once (cached for the next start)"
                + ("\n" if not self._live else "")
            )
            stream.flush()

    def update(self, done: int) -> None:
        if self.stream is None:
            return
        if self._live:
            filled = self.WIDTH * done // max(self.total, 1)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            self.stream.write(f"\rencoding phrasings [{bar}] {done}/{self.total}")
            self.stream.flush()
        elif (tenth := 10 * done // max(self.total, 1)) > self._shown:
            # Not a terminal (a log file, CI): a line every 10%, not thousands of redraws.
            self._shown = tenth
            self.stream.write(f"encoding phrasings: {done}/{self.total}\n")
            self.stream.flush()

    def close(self) -> None:
        if self.stream is not None and self._live:
            self.stream.write("\n")
            self.stream.flush()


def _read(path: Path) -> dict[bytes, np.ndarray]:
    """The vectors in ``path``; empty (with a warning) when it is missing, damaged or foreign."""
    if not path.is_file():
        return {}
    try:
        # Our own handle: np.load leaves its file open when it fails on a damaged archive.
        with path.open("rb") as handle, np.load(handle, allow_pickle=False) as data:
            version = str(data["model_version"])
            keys = np.asarray(data["keys"])
            vectors = np.asarray(data["vectors"], dtype=np.float32)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        logger.warning("phrasing cache %s is damaged (%s); rebuilding it", path, error)
        return {}
    if version != MODEL_VERSION:
        logger.info("phrasing cache %s is for another encoder version; rebuilding it", path)
        return {}
    if (
        keys.dtype != np.uint8
        or keys.shape != (len(keys), KEY_BYTES)
        or vectors.shape != (len(keys), DIMENSIONS)
        or not np.isfinite(vectors).all()
    ):
        logger.warning("phrasing cache %s is damaged (wrong shape or values); rebuilding it", path)
        return {}
    return {key.tobytes(): vector for key, vector in zip(keys, vectors, strict=True)}


def _write(path: Path, vectors: dict[bytes, np.ndarray]) -> None:
    """Write atomically: a temporary file in the same directory, renamed over the old one."""
    # Raw bytes as uint8 rows: numpy's "S" strings would drop a key's trailing NUL bytes.
    keys = np.frombuffer(b"".join(vectors), dtype=np.uint8).reshape(-1, KEY_BYTES)
    matrix = np.zeros((0, DIMENSIONS), dtype=np.float32)
    if vectors:
        matrix = np.stack(list(vectors.values())).astype(np.float32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        logger.warning("cannot save the phrasing cache in %s (%s)", path.parent, error)
        return
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            np.savez(handle, model_version=np.array(MODEL_VERSION), keys=keys, vectors=matrix)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        logger.warning("cannot save the phrasing cache %s (%s)", path, error)
        temporary.unlink(missing_ok=True)
