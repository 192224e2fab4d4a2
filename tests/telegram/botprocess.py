"""``python -m bot run`` as a separate process against the fake Bot API server.

Imported by the tests in this folder that crash, restart or duplicate the bot for real. The
phrasing-vector cache (``DATA_DIR/cache``, slow to build the first time) is shared between
them through a symlink, so that only the first start on a machine pays for it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

from fakebot import FakeTelegram

REPOSITORY = Path(__file__).resolve().parents[2]
#: Long enough for a first start that builds the phrasing-vector cache.
START_TIMEOUT = 180.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def shared_cache_dir(config_cache: object, fallback: Path) -> Path:
    """The phrasing-vector cache to share: the repository's ``data/cache`` when CI built it
    (``python -m bot index``), else one kept in pytest's cache, else ``fallback``."""
    built = REPOSITORY / "data" / "cache"
    if built.is_dir():
        return built
    mkdir = getattr(config_cache, "mkdir", None)
    return Path(mkdir("bot-vector-cache")) if mkdir else fallback


def data_dir(base: Path, shared_cache: Path) -> Path:
    """A fresh ``DATA_DIR`` whose vector cache is the shared one."""
    directory = base / "data"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    cache = directory / "cache"
    if not cache.exists():
        cache.symlink_to(shared_cache, target_is_directory=True)
    return directory


async def start(tg: FakeTelegram, data: Path, token: str, **env: str) -> asyncio.subprocess.Process:
    """Start the bot; stdout and stderr go to ``data/../bot-<pid>.log``."""
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WEBHOOK_"))},
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_API_BASE_URL": tg.base_url,
        "DATA_DIR": str(data),
        "PYTHONPATH": str(REPOSITORY),
        "LOG_LEVEL": "INFO",
        **env,
    }
    path = data.parent / f"bot-{len(list(data.parent.glob('bot-*.log')))}.log"
    with path.open("wb") as log:  # the child keeps its own copy of the descriptor
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=data.parent,
            env=environment,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )


def logs(base: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in sorted(base.glob("bot-*.log")))


async def polling(tg: FakeTelegram, base: Path, bot: asyncio.subprocess.Process) -> None:
    """Wait until the bot polls: it deleted any webhook, and a long poll is waiting (a call is
    recorded only when answered, so the poll itself cannot be waited for)."""
    before = len(tg.calls_of("deleteWebhook", ok=None))

    def started() -> bool:
        if bot.returncode is not None:
            raise AssertionError(f"the bot exited ({bot.returncode}):\n{logs(base)[-3000:]}")
        return len(tg.calls_of("deleteWebhook", ok=None)) > before

    await tg.wait_for(started, START_TIMEOUT, what="the bot polling")


async def listening(port: int, base: Path, bot: asyncio.subprocess.Process) -> None:
    """Wait until the bot's webhook server accepts connections."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT
    while True:
        if bot.returncode is not None:
            raise AssertionError(f"the bot exited ({bot.returncode}):\n{logs(base)[-3000:]}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if loop.time() > deadline:
                raise AssertionError(f"the bot never listened:\n{logs(base)[-3000:]}") from None
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return


async def terminate(bot: asyncio.subprocess.Process, timeout: float = 30) -> int:
    """SIGTERM, as a service manager stops it; kill if it does not stop in time."""
    if bot.returncode is None:
        bot.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(bot.wait(), timeout)
        except TimeoutError:
            bot.kill()
            await bot.wait()
    assert bot.returncode is not None
    return bot.returncode


async def kill(bot: asyncio.subprocess.Process) -> None:
    """``kill -9``: no clean-up of any kind."""
    if bot.returncode is None:
        bot.kill()
        await bot.wait()
