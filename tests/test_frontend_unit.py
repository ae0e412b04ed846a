"""The dashboard's own unit tests (Vitest) and type check, run as part of the Python suite."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

WEB = Path(__file__).resolve().parent.parent / "web"


def _npm(*args: str) -> subprocess.CompletedProcess:
    npm = shutil.which("npm")
    assert npm, "npm is not installed: the dashboard's unit tests need Node.js (see scripts/install-test-deps.sh)"
    assert (WEB / "node_modules").is_dir(), "web/node_modules is missing: run `cd web && npm ci`"
    return subprocess.run([npm, *args], cwd=WEB, capture_output=True, text=True, timeout=600)


def test_vitest_suite_passes() -> None:
    result = _npm("test", "--", "--reporter=dot")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "passed" in result.stdout


def test_typescript_type_checks() -> None:
    result = _npm("run", "typecheck")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
