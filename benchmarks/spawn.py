"""Launcher for start-up measurements: ``python benchmarks/spawn.py ARGS...`` runs
``python ARGS...`` and prints one JSON line: milliseconds to its first line of output, its peak
resident memory in MB, that first line, its exit code and standard error.

Why a separate, tiny launcher: on Linux a child's ``ru_maxrss`` also counts the memory of the
process that forked it, as it was at the fork (the kernel carries the old address space's peak
across ``exec``). Spawned straight from the benchmark, whose indexes take ~80 MB, every child
would "use" 80 MB. Spawned from this script, which imports only a few standard modules, the
inherited figure is a few MB, well below what any bot command uses. Standard library only, on
purpose.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time


def own_peak_mb() -> float:
    """This launcher's own peak memory (what its children start from)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    # Elsewhere only ru_maxrss is known (it may include our parent's peak too).
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (
        2**20 if sys.platform == "darwin" else 1024
    )


def main(arguments: list[str]) -> int:
    # No token: nothing measured here may talk to Telegram. Bytecode may be cached, as after
    # any install, so the warm-up run leaves the .pyc files a restart would find.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("TELEGRAM_BOT_TOKEN", "PYTHONDONTWRITEBYTECODE")
    }
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, *arguments],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    first_line = process.stdout.readline()
    elapsed_ms = (time.perf_counter() - started) * 1000
    process.stdout.read()
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stdout.close()
    process.stderr.close()
    # ru_maxrss is in kilobytes on Linux and in bytes on macOS.
    peak_mb = usage.ru_maxrss / (2**20 if sys.platform == "darwin" else 1024)
    result = {
        "ms": elapsed_ms,
        "peak_mb": peak_mb,
        "line": first_line.decode("utf-8", "replace").strip(),
        "exit": process.returncode,
        # What the child may have inherited: the figure above is never below this.
        "launcher_mb": own_peak_mb(),
        "stderr": errors.decode("utf-8", "replace")[-2000:],
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
