"""Issue 12 item 9: packaging metadata that is true (built by setuptools' real PEP 517 hook)."""

from __future__ import annotations

import subprocess
import sys
from email.parser import Parser
from pathlib import Path

import tomllib

import tsvis_live

REPO = Path(__file__).resolve().parent.parent


def _metadata(out: Path):
    code = ("import sys; from setuptools import build_meta as b; "
            "print(b.prepare_metadata_for_build_wheel(sys.argv[1]))")
    r = subprocess.run([sys.executable, "-c", code, str(out)], cwd=REPO, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    dist = out / r.stdout.strip().splitlines()[-1]
    return Parser().parsestr((dist / "METADATA").read_text()), dist


def _lower_bound(requirement: str, name: str) -> tuple[int, ...]:
    spec = requirement.split(">=", 1)[1].split(",")[0].split(";")[0].strip()
    return tuple(int(p) for p in spec.split("."))


def test_license_file_is_the_apache_text_and_shipped(tmp_path):
    text = (REPO / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    meta, dist = _metadata(tmp_path)
    assert meta["License-Expression"] == "Apache-2.0"
    assert "LICENSE" in meta.get_all("License-File", [])
    assert (dist / "licenses" / "LICENSE").read_text() == text
    assert meta["Version"] == tsvis_live.__version__


def test_dependency_lower_bounds_match_what_the_code_uses(tmp_path):
    """The server runs uvicorn with ws="websockets-sansio": uvicorn >= 0.35 and websockets
    >= 13 (its ServerProtocol); projections import threadpoolctl directly."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = {d.split(">=")[0].split("[")[0].strip().lower(): d for d in project["dependencies"]}
    assert _lower_bound(deps["uvicorn"], "uvicorn") >= (0, 35)
    assert _lower_bound(deps["websockets"], "websockets") >= (13,)
    assert "threadpoolctl" in deps
    for extra in project.get("optional-dependencies", {}).values():
        for d in extra:
            if d.startswith("websockets"):
                assert _lower_bound(d, "websockets") >= (13,)
    meta, _dist = _metadata(tmp_path)
    requires = meta.get_all("Requires-Dist", [])
    assert "uvicorn[standard]>=0.35" in requires and "websockets>=13" in requires


def test_the_version_is_written_in_one_place() -> None:
    """pyproject takes it from tsvis_live.__version__; no second copy can drift."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in config["project"] and "version" in config["project"]["dynamic"]
    assert config["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "tsvis_live.__version__"}
