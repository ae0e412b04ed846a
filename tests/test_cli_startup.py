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


CHECK_NUMPY = """
import sys
from tsvis_live import cli
from tsvis_live.deferred import is_loaded
code = cli.main(sys.argv[1:])
print("numpy loaded:", is_loaded("numpy"), "code:", code)
"""


@pytest.mark.parametrize("files", [0, 1, 2])
def test_ingest_loads_numpy_only_when_there_is_something_to_read(tmp_path: Path, files: int) -> None:
    """numpy is a quarter of an empty logdir's run: `ingest` loads it on first use, which a
    logdir with nothing (new) to read never makes; one with files reads them all the same."""
    logdir = tmp_path / "logs"
    logdir.mkdir()
    for i in range(files):
        write_scalars(logdir / f"run{i}" / NAME, "loss", range(5))
    args = ["ingest", "--logdir", str(logdir), "--data-dir", str(tmp_path / "data"), "--json"]
    for attempt in ("first", "again"):  # again: a restart with nothing new
        r = subprocess.run([sys.executable, "-c", CHECK_NUMPY, *args], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        summary, verdict = r.stdout.splitlines()[-2:]
        assert json.loads(summary)["stored_events"] == 6 * files
        loaded = files > 0 and attempt == "first"
        assert verdict == f"numpy loaded: {loaded} code: 0", (attempt, r.stdout, r.stderr)
