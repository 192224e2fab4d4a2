"""Start-up time and peak memory of the bot, measured on real subprocesses.

Start-up is what a user waits for after a restart or a deploy, and what ``python -m bot ask``
costs in a shell script; memory decides the smallest machine the bot runs on. Each command runs
once untimed (so bytecode is compiled and files are in the page cache, as on any restart after
the first), then ``runs`` times. Wall time is from starting the process to its first line of
output; peak resident memory comes from the kernel's accounting of that very child
(``os.wait4``). Both are taken by a tiny launcher (``benchmarks/spawn.py``; it says why), so the
benchmark's own memory is not counted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.machine import ROOT
from benchmarks.measure import median

LAUNCHER = Path(__file__).resolve().parent / "spawn.py"
#: (label, arguments after the interpreter); the first is the one the targets apply to.
COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ('python -m bot ask "hi"', ("-m", "bot", "ask", "hi")),
    ("python -c pass (the interpreter alone)", ("-c", "pass")),
)
#: Loads everything the Telegram bot loads (PTB, httpx, the knowledge base, the index) and
#: builds the Application without touching the network, then says it is ready.
TELEGRAM_STACK = (
    "import sys, tempfile\n"
    "from pathlib import Path\n"
    "from bot.config import Settings\n"
    "from bot.knowledge import load_knowledge\n"
    "from bot.telegram.app import build_application\n"
    "settings = Settings(token='123456:' + 'A' * 35, data_dir=Path(tempfile.mkdtemp()))\n"
    "app = build_application(settings, load_knowledge())\n"
    "print('ready', flush=True)\n"
)


@dataclass
class StartupResult:
    command: str
    wall_ms: float  # median time to the first line of output
    peak_rss_mb: float  # the highest peak resident memory of the runs
    floor_mb: float  # the launcher's own memory: peak_rss_mb can never read below this
    runs_ms: list[float]
    runs_mb: list[float]
    output: str  # the first line the command printed, to show it really answered


def run_once(arguments: Sequence[str]) -> tuple[float, float, float, str]:
    """(ms to first output line, peak RSS MB, launcher's own MB, that line) for one run."""
    completed = subprocess.run(
        [sys.executable, str(LAUNCHER), *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
    )
    result = json.loads(completed.stdout)
    if result["exit"] != 0:
        raise RuntimeError(
            f"{' '.join(arguments)} exited with {result['exit']}: {result['stderr']}"
        )
    if not result["line"] and arguments[:1] != ("-c",):
        raise RuntimeError(f"{' '.join(arguments)} printed nothing: {result['stderr']}")
    return result["ms"], result["peak_mb"], result["launcher_mb"], result["line"]


def measure(label: str, arguments: Sequence[str], runs: int) -> StartupResult:
    run_once(arguments)  # warm-up: bytecode compiled, files cached
    times, peaks, launcher, line = [], [], 0.0, ""
    for _ in range(runs):
        elapsed, peak, launcher, line = run_once(arguments)
        times.append(elapsed)
        peaks.append(peak)
    return StartupResult(label, median(times), max(peaks), launcher, times, peaks, line[:60])


def telegram_stack_available() -> bool:
    return (ROOT / "bot" / "telegram" / "app.py").is_file()


def run_startup(*, runs: int = 3) -> list[StartupResult]:
    results = [measure(label, arguments, runs) for label, arguments in COMMANDS]
    if telegram_stack_available():
        results.insert(
            1,
            measure("bot with the Telegram stack built", ("-c", TELEGRAM_STACK), runs),
        )
    return results
