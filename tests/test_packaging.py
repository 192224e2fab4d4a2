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
    prefix = "bot/knowledge_base/"
    shipped = {name[len(prefix) :] for name in names if name.startswith(prefix)}
    knowledge = ROOT / "knowledge"
    expected = {
        str(path.relative_to(knowledge))
        for pattern in ("*.yaml", "*.npz", "*.md", "crisis_examples/*.yaml")
        for path in knowledge.glob(pattern)
    }
    assert expected <= shipped
    assert "crisis_model.npz" in shipped
    # The evaluation sets ship too, so `python -m bot eval` works from the wheel.
    assert "bot/evaluation_sets/devset.yaml" in names
    assert any(name.startswith("bot/evaluation_sets/blind/") for name in names)

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
    found = subprocess.run(
        [sys.executable, "-c", "from bot.evaluation import DEFAULT_DEVSET; print(DEFAULT_DEVSET)"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env={"PYTHONPATH": str(site)},
        timeout=60,
        check=True,
    )
    assert Path(found.stdout.strip()).is_file()
    assert "evaluation_sets" in found.stdout
