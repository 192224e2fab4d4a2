"""A plain (non-editable) install finds its knowledge base: it is shipped inside the wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from shared import ROOT, run_bot_process


def test_wheel_ships_the_knowledge_base_and_works_from_anywhere(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(wheels)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = wheels.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(name).name for name in names if name.startswith("bot/knowledge_base/")}
    assert {path.name for path in (ROOT / "knowledge").glob("*.yaml")} == shipped

    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), wheel],
        check=True,
        capture_output=True,
        timeout=300,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_bot_process("ask", "when is children's day", cwd=elsewhere, pythonpath=site)
    assert result.returncode == 0, result.stderr
    assert "1 June" in result.stdout
