"""`tsvis-live --demo` writes every kind the dashboard has a tab for, in forms the reader accepts."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tsvis_live.demo import start_demo


def test_demo_logdir_has_every_kind_and_nothing_skipped(tmp_path: Path) -> None:
    logdir = start_demo(tmp_path / "demo")
    time.sleep(0.5)  # the training thread writes its backlog meanwhile
    out = subprocess.run([sys.executable, "-m", "tsvis_live.cli", "ingest", "--logdir", str(logdir),
                          "--data-dir", str(tmp_path / "data"), "--json"],
                         capture_output=True, text=True, timeout=300, check=True)
    summary = json.loads(out.stdout)
    assert summary["skipped"] == 0 and summary["broken_files"] == [] and summary["partial_files"] == {}
    kinds = set(summary["tags"])
    assert {"scalar", "histogram", "image", "audio", "text", "embedding", "mesh", "hparams", "graph", "pr_curve"} <= kinds, kinds
    assert summary["tags"]["mesh"] == 3  # the torus: vertices, faces, colours
