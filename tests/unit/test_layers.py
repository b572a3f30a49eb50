"""The import-linter contracts in pyproject.toml hold for the tree, and a wrong-way import breaks them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_tree_keeps_the_contracts() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_wrong_way_import_breaks_them(tmp_path: Path) -> None:
    for package in ("mediahub", "web", "media", "processing"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("static", "__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    engine = tmp_path / "processing" / "hls.py"
    engine.write_text(engine.read_text() + "\nfrom media.models import Media  # noqa: E402 - the wrong way\n")
    app = tmp_path / "media" / "events.py"
    app.write_text(app.read_text() + "\nfrom web import api  # noqa: E402 - the wrong way\n")

    result = lint_imports(tmp_path)

    assert result.returncode == 1
    assert "2 broken" in result.stdout
    assert "processing.hls -> media.models" in result.stdout
    assert "media.events -> web.api" in result.stdout
