"""The file store: handled update ids that survive a crash and stay bounded, atomic writes, and
STORAGE_URL. (End to end, with the bot: tests/telegram/test_telegram_reliability.py.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot import storage
from bot.config import ConfigError, Settings
from bot.storage import UPDATES_FILE, Claim, FileStore, write_atomically


async def test_an_update_is_new_then_busy_then_done() -> None:
    store = FileStore(None)
    assert await store.claim(1) is Claim.NEW
    assert await store.claim(1) is Claim.BUSY
    assert await store.state(1) is Claim.BUSY
    await store.finish(1)
    assert await store.claim(1) is Claim.DONE
    assert await store.claim(2) is Claim.NEW
    await store.release(2)  # given up: the next delivery may take it
    assert await store.claim(2) is Claim.NEW


async def test_handled_ids_survive_a_crash_and_stay_bounded(tmp_path: Path) -> None:
    store = FileStore(tmp_path, keep_updates=5)
    await store.open()
    for update_id in range(1, 21):
        await store.claim(update_id)
        await store.finish(update_id)
    # no close(): as after kill -9, with a line torn in half at the end
    with (tmp_path / UPDATES_FILE).open("ab") as file:
        file.write(b"2")
    again = FileStore(tmp_path, keep_updates=5)
    await again.open()
    assert [await again.claim(u) for u in (16, 20)] == [Claim.DONE, Claim.DONE]
    assert await again.claim(15) is Claim.NEW, "only the last ones are kept"
    lines = (tmp_path / UPDATES_FILE).read_bytes().split()
    assert len(lines) == 5, "compacted on start"


async def test_the_updates_file_is_compacted_as_it_grows(tmp_path: Path) -> None:
    store = FileStore(tmp_path, keep_updates=10)
    await store.open()
    for update_id in range(1, 101):
        await store.claim(update_id)
        await store.finish(update_id)
    assert len((tmp_path / UPDATES_FILE).read_bytes().split()) <= 21
    await store.close()


def test_a_failed_write_leaves_the_old_file_and_no_debris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    write_atomically(path, b"old")

    def broken_fsync(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(storage.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        write_atomically(path, b"new")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["state.json"]


def test_storage_url_is_checked_and_never_shown() -> None:
    settings = Settings.from_env({"STORAGE_URL": "redis://:s3cret@redis:6379/0"}, env_file=None)
    assert settings.storage_url.startswith("redis://")
    assert "s3cret" not in repr(settings)
    assert Settings.from_env({}, env_file=None).storage_url == ""
    with pytest.raises(ConfigError, match="STORAGE_URL"):
        Settings.from_env({"STORAGE_URL": "postgres://db"}, env_file=None)
