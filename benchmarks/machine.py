"""What the numbers were measured on: CPU, cores, Python, library versions, commit.

Timings mean nothing without the machine, and a table pasted into the README must say which
code produced it.
"""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIBRARIES = ("rapidfuzz", "bm25s", "python-telegram-bot", "httpx")


@dataclass(frozen=True)
class Machine:
    cpu: str
    cores: int
    usable_cores: int
    python: str
    system: str
    libraries: dict[str, str]
    commit: str
    load_at_start: float  # 1-minute load average: other work on the machine skews timings

    def describe(self) -> str:
        """The hardware and load, for the top of the table."""
        return (
            f"{self.cpu}, {self.cores} cores ({self.usable_cores} usable), {self.system}, "
            f"load average {self.load_at_start:.2f} at start"
        )

    def software(self) -> str:
        """Python, the libraries whose speed we measure, and the code's commit."""
        libraries = ", ".join(f"{name} {version}" for name, version in self.libraries.items())
        return f"Python {self.python}, {libraries}, commit {self.commit}"


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else whatever ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def _commit() -> str:
    """The short commit, with "+changes" when the working tree differs from it."""
    try:
        head = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+changes" if dirty else head


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "missing"


def describe_machine() -> Machine:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
    return Machine(
        cpu=cpu_model(),
        cores=os.cpu_count() or 0,
        usable_cores=usable or os.cpu_count() or 0,
        python=platform.python_version(),
        system=f"{platform.system()} {platform.release()}",
        libraries={name: _version(name) for name in LIBRARIES},
        commit=_commit(),
        load_at_start=os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"),
    )
