"""Start-up and exit: the cyclic garbage collector is paused while a command imports, never
longer; `ingest` exits without tearing the interpreter down, with nothing left unwritten.

In process (`tsvis_live.cli.main`) and as real processes, on real logdirs and SQLite files.
"""

from __future__ import annotations

import gc
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.eventfiles import write_scalars
from tsvis_live.cli import main

NAME = "events.out.tfevents.1700000000.host"


def test_every_command_leaves_the_collector_as_it_found_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    logdir = tmp_path / "logs"
    write_scalars(logdir / "run" / NAME, "loss", range(3))
    ingest = ["ingest", "--logdir", str(logdir), "--data-dir", str(tmp_path / "data"), "--json", "--quiet"]
    assert gc.isenabled()
    assert main(["ingest", "--logdir", str(tmp_path / "missing")]) == 2  # an early return
    assert gc.isenabled()
    with pytest.raises(SystemExit):
        main(["ingest", "--version"])  # argparse exits
    assert gc.isenabled()
    assert main(ingest) == 0
    assert gc.isenabled()
    assert '"events": 4' in capsys.readouterr().out
    gc.disable()  # a caller's own choice is kept
    try:
        assert main(ingest) == 0
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize("command", [["-m", "tsvis_live"], ["-m", "tsvis_live.cli"], ["tsvis-live"]])
def test_ingest_exits_at_once_with_everything_written(tmp_path: Path, command: list[str]) -> None:
    """`ingest` ends without tearing the interpreter down: its summary is printed whole, and
    its database is closed (checkpointed, no WAL left) and complete."""
    logdir = tmp_path / "logs"
    for run in ("a", "b"):
        write_scalars(logdir / run / NAME, "loss", range(5))
    exe = [shutil.which("tsvis-live", path=str(Path(sys.executable).parent)) or "missing"] \
        if command == ["tsvis-live"] else [sys.executable, *command]
    r = subprocess.run([*exe, "ingest", "--logdir", str(logdir), "--data-dir", str(tmp_path / "data"), "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.splitlines()[-1])
    assert summary["events"] == 12 and summary["runs"] == 2
    db = Path(summary["database"])
    assert not Path(f"{db}-wal").exists()
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA quick_check").fetchone() == ("ok",)
        assert conn.execute("SELECT sum(count) FROM scalar_chunks").fetchone() == (10,)
    finally:
        conn.close()
    again = subprocess.run([*exe, "ingest", "--logdir", str(tmp_path / "missing")], capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 2 and "does not exist" in again.stderr
