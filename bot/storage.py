"""What the bot remembers between updates, restarts and replicas: ids and choices, never text.

Three kinds of data, all of it plain (JSON or Redis strings), none of it pickled:

* **languages**: the language a user picked with /language (``{user_id: "ru"}``);
* **handled updates**: the ids of recently handled updates, so that an update Telegram delivers
  again (after a crash, or a webhook retry) is not answered twice; while one is being handled it
  is *claimed*, so that a second delivery waits instead of answering in parallel;
* **message spans**: for each private chat, where its messages start (per 10-minute bucket) and
  its newest message id, so that "Hide this chat" can delete the whole range after a restart.

``Store`` is the interface; ``FileStore`` (the default) keeps it in ``DATA_DIR`` and
``bot.redis_store.RedisStore`` in Redis, shared by several bot processes. ``open_store`` picks
one from ``STORAGE_URL``.

The file store never stops the bot from answering: a file it cannot read is moved aside with a
warning and the bot starts with what it can; a read-only or full disk is a warning, and the data
stays in memory. Writes are atomic (temporary file, fsync, rename) and readable only by the
bot's own user (0600, in a 0700 directory when the bot creates it).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import os
import pickle
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

logger = logging.getLogger(__name__)

FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
STATE_FILE = "state.json"
UPDATES_FILE = "updates.log"
#: Written by earlier versions (python-telegram-bot's PicklePersistence); read once, then removed.
LEGACY_PICKLE = "users.pickle"
FORMAT_VERSION = 1

#: Telegram lets a bot delete messages in a private chat for 48 hours.
DELETABLE_FOR = 48 * 3600.0
#: Message spans are kept per bucket of this many seconds (its first message id).
BUCKET = 600.0
#: At most this many message ids are deleted in one go (the newest ones).
MAX_SPAN = 5000
#: Private chats remembered at once by the file store (the least recently active go first).
MAX_CHATS = 100_000
#: Handled update ids remembered (Telegram keeps an unconfirmed update for 24 hours, but only
#: the last few hundred can come back after a crash or a webhook retry).
KEEP_UPDATES = 10_000
#: How long handled update ids are kept in Redis, and how long a claim lasts without renewal.
UPDATE_TTL = 26 * 3600.0
CLAIM_LEASE = 30.0
#: Seconds between a change and writing the state file (changes in between share one write).
WRITE_DELAY = 0.2


class Claim(enum.Enum):
    """Whether an update is new, already handled, or being handled right now."""

    NEW = "new"
    DONE = "done"
    BUSY = "busy"


@dataclass(frozen=True)
class MessageSpan:
    """The message ids of a private chat that "Hide this chat" should delete.

    ``first`` is None when nothing is known to be deletable. ``older_remain``: the chat has
    messages Telegram no longer lets the bot delete (older than 48 hours, or beyond
    ``MAX_SPAN``), or the bot cannot vouch for what came before ``first``.
    """

    first: int | None
    last: int | None
    older_remain: bool

    def ids(self, *also: int) -> list[int]:
        """Every id from ``first`` to the newest of ``last`` and ``also``."""
        top = max([i for i in (self.last, *also) if i is not None], default=None)
        if top is None:
            return []
        start = self.first if self.first is not None else min(also, default=top)
        start = max(start, top - MAX_SPAN + 1, 1)
        return list(range(start, top + 1))


class Store(Protocol):
    """Where languages, handled update ids and message spans live."""

    #: True when several processes share it (so each update must refresh what it reads).
    shared: bool

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def flush(self) -> None: ...

    async def languages(self) -> dict[int, str]: ...

    async def language(self, user_id: int) -> str | None: ...

    async def set_language(self, user_id: int, lang: str | None) -> None: ...

    async def claim(self, update_id: int) -> Claim: ...

    async def finish(self, update_id: int) -> None: ...

    async def release(self, update_id: int) -> None: ...

    async def state(self, update_id: int) -> Claim: ...

    async def renew(self, update_ids: Iterable[int]) -> None: ...

    async def note_messages(self, chat_id: int, message_ids: Iterable[int]) -> None: ...

    async def take_span(self, chat_id: int) -> MessageSpan: ...

    async def forget_chat(self, chat_id: int) -> None: ...


# ---- message spans (shared by the file store and the tests of the Redis one) ---------------


@dataclass
class ChatSpan:
    """One private chat: the first message id of each bucket, the newest id, and whether
    there are messages before the first bucket that the bot did not see or cannot delete."""

    buckets: dict[int, int] = field(default_factory=dict)
    last: int = 0
    older: bool = False
    at: float = 0.0

    def note(self, message_id: int, now: float) -> None:
        bucket = int(now // BUCKET)
        known = self.buckets.get(bucket)
        if known is None or message_id < known:
            self.buckets[bucket] = message_id
        self.last = max(self.last, message_id)
        self.at = max(self.at, now)
        self.prune(now)

    def prune(self, now: float) -> None:
        """Drop buckets that hold only messages too old to delete (remembering they exist)."""
        cutoff = now - DELETABLE_FOR
        old = [b for b in self.buckets if (b + 1) * BUCKET <= cutoff]
        for bucket in old:
            del self.buckets[bucket]
        if old:
            self.older = True

    def span(self, now: float) -> MessageSpan:
        self.prune(now)
        if not self.buckets:
            return MessageSpan(None, self.last or None, self.older)
        first = min(self.buckets.values())
        older = self.older
        if self.last - first + 1 > MAX_SPAN:
            first, older = self.last - MAX_SPAN + 1, True
        return MessageSpan(first, self.last, older)

    def to_json(self) -> dict[str, Any]:
        return {
            "buckets": {str(b): m for b, m in self.buckets.items()},
            "last": self.last,
            "older": self.older,
            "at": self.at,
        }

    @classmethod
    def from_json(cls, data: Any) -> ChatSpan:
        if not isinstance(data, dict):
            raise ValueError("a chat span is not an object")
        buckets = {int(b): _positive(m) for b, m in dict(data.get("buckets", {})).items()}
        return cls(
            buckets=buckets,
            last=int(data.get("last", 0)),
            older=bool(data.get("older", False)),
            at=float(data.get("at", 0.0)),
        )


def new_span(first_id: int, now: float) -> ChatSpan:
    """The span of a chat the bot has no record of: it cannot vouch for ids before this one."""
    span = ChatSpan(older=first_id > 1)
    span.note(first_id, now)
    return span


def _positive(value: Any) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("ids are positive")
    return number


# ---- files -----------------------------------------------------------------------------------


class _Warnings:
    """One warning when something starts failing, one line when it works again."""

    def __init__(self) -> None:
        self._failing: set[str] = set()

    def failed(self, what: str, path: Path, error: OSError) -> None:
        if what not in self._failing:
            self._failing.add(what)
            logger.warning(
                "Cannot %s %s (%s); the bot goes on answering and keeps the data in memory",
                what,
                path,
                error.strerror or type(error).__name__,
            )

    def worked(self, what: str, path: Path) -> None:
        if what in self._failing:
            self._failing.discard(what)
            logger.info("Can %s %s again", what, path)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` all at once: a crash leaves the old file or the new one."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view) :]
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _dump_atomically(path: Path, data: Any) -> None:
    write_atomically(path, json.dumps(data, separators=(",", ":")).encode())


def move_aside(path: Path, reason: str) -> None:
    """Keep an unreadable file for a human to look at, out of the bot's way."""
    aside = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        os.replace(path, aside)
    except OSError as error:
        logger.warning(
            "%s cannot be read (%s) nor moved aside (%s); starting without it",
            path,
            reason,
            error.strerror or type(error).__name__,
        )
        return
    logger.warning(
        "%s cannot be read (%s); moved it to %s and started without it", path, reason, aside
    )


class _NoObjects(pickle.Unpickler):
    """Reads plain dicts, lists, strings and numbers from a pickle, and refuses anything else."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("refusing to load a persistent object")


def read_legacy_languages(path: Path) -> dict[int, str]:
    """Languages from an earlier version's ``users.pickle``, without running any of its code."""
    with path.open("rb") as file:
        data = _NoObjects(file).load()
    users = data.get("user_data", {}) if isinstance(data, dict) else {}
    return {
        int(user): choice["lang"]
        for user, choice in users.items()
        if isinstance(choice, dict) and isinstance(choice.get("lang"), str)
    }


class FileStore:
    """The default store: a JSON file and an append-only list of handled update ids.

    ``state.json`` holds languages and message spans, rewritten atomically shortly after each
    change. ``updates.log`` gets one line per handled update id the moment it is handled (an
    unbuffered append survives ``kill -9``) and is compacted when it grows.
    """

    shared = False

    def __init__(
        self,
        directory: Path | None,
        *,
        clock: Callable[[], float] = time.time,
        write_delay: float = WRITE_DELAY,
        keep_updates: int = KEEP_UPDATES,
        max_chats: int = MAX_CHATS,
    ) -> None:
        self.directory = directory
        self._clock = clock
        self._write_delay = write_delay
        self._keep_updates = keep_updates
        self._max_chats = max_chats
        self._languages: dict[int, str] = {}
        self._chats: dict[int, ChatSpan] = {}
        self._done: set[int] = set()
        self._done_order: deque[int] = deque()
        self._busy: set[int] = set()
        self._journal: int | None = None
        self._journal_lines = 0
        self._writer: asyncio.Task[None] | None = None
        self._dirty = False
        self._writing = False
        self._write_took = 0.0
        self._warnings = _Warnings()

    @property
    def state_path(self) -> Path | None:
        return self.directory / STATE_FILE if self.directory else None

    @property
    def updates_path(self) -> Path | None:
        return self.directory / UPDATES_FILE if self.directory else None

    # ---- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        """Read what is on disk; whatever cannot be read is moved aside, never fatal."""
        if self.directory is None:
            return
        try:
            if not self.directory.exists():
                self.directory.mkdir(parents=True, mode=DIRECTORY_MODE)
        except OSError as error:
            self._warnings.failed("create", self.directory, error)
            return
        self._read_state()
        self._read_legacy()
        self._read_updates()
        self._compact_updates()
        if self._dirty:
            await self.flush()

    async def close(self) -> None:
        """Write everything; later calls still work (in memory, written on the next close)."""
        await self.flush()
        if self._journal is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._journal)
                os.close(self._journal)
            self._journal = None

    async def flush(self) -> None:
        """Write the state file now if anything changed."""
        writer, self._writer = self._writer, None
        if writer is not None and not writer.done():
            if self._writing:  # a write under way: let it finish, then write what came since
                await writer
            else:
                writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await writer
        if self._dirty:
            await self._write_state()

    # ---- languages -------------------------------------------------------------------------

    async def languages(self) -> dict[int, str]:
        return dict(self._languages)

    async def language(self, user_id: int) -> str | None:
        return self._languages.get(user_id)

    async def set_language(self, user_id: int, lang: str | None) -> None:
        if self._languages.get(user_id) == lang:
            return
        if lang is None:
            self._languages.pop(user_id, None)
        else:
            self._languages[user_id] = lang
        self._changed()

    # ---- updates ---------------------------------------------------------------------------

    async def claim(self, update_id: int) -> Claim:
        if update_id in self._done:
            return Claim.DONE
        if update_id in self._busy:
            return Claim.BUSY
        self._busy.add(update_id)
        return Claim.NEW

    async def finish(self, update_id: int) -> None:
        self._busy.discard(update_id)
        if update_id in self._done:
            return
        self._remember_done(update_id)
        self._append_update(update_id)

    async def release(self, update_id: int) -> None:
        self._busy.discard(update_id)

    async def state(self, update_id: int) -> Claim:
        if update_id in self._done:
            return Claim.DONE
        return Claim.BUSY if update_id in self._busy else Claim.NEW

    async def renew(self, update_ids: Iterable[int]) -> None:
        """Claims of one process last as long as the process: nothing to renew."""

    # ---- message spans ---------------------------------------------------------------------

    async def note_messages(self, chat_id: int, message_ids: Iterable[int]) -> None:
        now = self._clock()
        for message_id in message_ids:
            span = self._chats.get(chat_id)
            if span is None:
                self._chats[chat_id] = new_span(message_id, now)
                if len(self._chats) > self._max_chats:
                    self._evict()
            else:
                span.note(message_id, now)
        self._changed()

    async def take_span(self, chat_id: int) -> MessageSpan:
        now = self._clock()
        span = self._chats.get(chat_id)
        if span is None:
            return MessageSpan(None, None, older_remain=True)
        result = span.span(now)
        # Everything up to here is dealt with: what comes next starts a clean span.
        self._chats[chat_id] = ChatSpan(last=span.last, at=now)
        self._changed()
        return result

    async def forget_chat(self, chat_id: int) -> None:
        if self._chats.pop(chat_id, None) is not None:
            self._changed()

    def __len__(self) -> int:
        """Private chats with a span (for tests and the soak benchmark)."""
        return len(self._chats)

    # ---- internals -------------------------------------------------------------------------

    def _evict(self) -> None:
        cutoff = self._clock() - DELETABLE_FOR
        for chat_id in [c for c, s in self._chats.items() if s.at < cutoff]:
            del self._chats[chat_id]
        while len(self._chats) > self._max_chats:
            oldest = min(self._chats, key=lambda c: self._chats[c].at)
            del self._chats[oldest]

    def _remember_done(self, update_id: int) -> None:
        self._done.add(update_id)
        self._done_order.append(update_id)
        while len(self._done_order) > self._keep_updates:
            self._done.discard(self._done_order.popleft())

    def _changed(self) -> None:
        self._dirty = True
        if self.directory is None:
            return
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_later())

    async def _write_later(self) -> None:
        # A big file is written less often: at most a tenth of the time goes to writing it.
        await asyncio.sleep(max(self._write_delay, 9 * self._write_took))
        await self._write_state()

    async def _write_state(self) -> None:
        path = self.state_path
        self._dirty = False
        if path is None:
            return
        snapshot = self._snapshot()
        self._writing = True
        started = time.perf_counter()
        try:
            await asyncio.to_thread(_dump_atomically, path, snapshot)
        except OSError as error:
            self._dirty = True
            self._warnings.failed("write", path, error)
        else:
            self._warnings.worked("write", path)
        finally:
            self._writing = False
            self._write_took = time.perf_counter() - started

    def _snapshot(self) -> dict[str, Any]:
        cutoff = self._clock() - DELETABLE_FOR
        return {
            "version": FORMAT_VERSION,
            "languages": {str(u): lang for u, lang in self._languages.items()},
            "chats": {str(c): s.to_json() for c, s in self._chats.items() if s.at >= cutoff},
        }

    def _read_state(self) -> None:
        path = self.state_path
        assert path is not None
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as error:
            move_aside(path, error.strerror or type(error).__name__)
            return
        with contextlib.suppress(OSError):
            os.chmod(path, FILE_MODE)
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
                raise ValueError("not a state file of this version")
            languages = {int(u): str(lang) for u, lang in dict(data["languages"]).items()}
            chats = {int(c): ChatSpan.from_json(s) for c, s in dict(data["chats"]).items()}
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            move_aside(path, "empty" if not raw.strip() else type(error).__name__)
            return
        self._languages, self._chats = languages, chats

    def _read_legacy(self) -> None:
        """Carry the languages of an earlier version's pickle over once, then delete it."""
        assert self.directory is not None
        path = self.directory / LEGACY_PICKLE
        if not path.exists():
            return
        try:
            legacy = read_legacy_languages(path)
        except Exception:  # garbage can make unpickling fail in many ways; none may stop us
            move_aside(path, "not a plain pickle of languages")
            return
        for user, lang in legacy.items():
            self._languages.setdefault(user, lang)
        self._dirty = True
        try:
            path.unlink()
        except OSError as error:
            self._warnings.failed("remove", path, error)
        logger.info("Carried %d language choices over from %s", len(legacy), LEGACY_PICKLE)

    def _read_updates(self) -> None:
        path = self.updates_path
        assert path is not None
        try:
            lines = path.read_bytes().split(b"\n")[:-1]  # after the last newline: torn, or empty
        except FileNotFoundError:
            return
        except OSError as error:
            move_aside(path, error.strerror or type(error).__name__)
            return
        for line in lines:
            if line.strip().isdigit():  # anything else (a damaged line) is skipped
                self._remember_done(int(line))

    def _compact_updates(self) -> None:
        """Rewrite the list with the ids worth keeping, and open it for appending."""
        path = self.updates_path
        assert path is not None
        data = b"".join(b"%d\n" % update_id for update_id in self._done_order)
        try:
            write_atomically(path, data)
            self._journal = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        except OSError as error:
            self._warnings.failed("write", path, error)
            self._journal = None
        self._journal_lines = len(self._done_order)

    def _append_update(self, update_id: int) -> None:
        path = self.updates_path
        if path is None:
            return
        if self._journal is None:
            self._compact_updates()  # try again: the disk may have come back
            return
        try:
            os.write(self._journal, b"%d\n" % update_id)
        except OSError as error:
            self._warnings.failed("write", path, error)
            with contextlib.suppress(OSError):
                os.close(self._journal)
            self._journal = None
            return
        self._warnings.worked("write", path)
        self._journal_lines += 1
        if self._journal_lines > 2 * self._keep_updates:
            with contextlib.suppress(OSError):
                os.close(self._journal)
            self._compact_updates()


def open_store(storage_url: str | None, data_dir: Path, *, namespace: str = "") -> Store:
    """The store ``STORAGE_URL`` names: empty for files in ``data_dir``, ``redis://...``."""
    if not storage_url:
        return FileStore(data_dir)
    from bot.redis_store import RedisStore

    return RedisStore(storage_url, namespace=namespace)
