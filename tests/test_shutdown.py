"""Ctrl-C during a long first ingest stops promptly; the next start resumes where it stopped."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.eventfiles import scalar_records
from tests.serverproc import free_port, running_server
from tsvis_live.session import database_path
from tsvis_live.store import reader
from tsvis_live.store.database import Database

NAME = "events.out.tfevents.1700000000.host"
RUNS = 20  # 5M events, ~225 MB: a first pass of ~2 s here, long enough to be interrupted


def test_ctrl_c_mid_ingest_is_prompt_and_loses_nothing(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    for r in range(RUNS):
        path = logdir / f"run{r}" / NAME
        path.parent.mkdir(parents=True)
        path.write_bytes(b"".join(scalar_records("loss", range(250_000))))
    data = tmp_path / "data"
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tsvis_live.cli", "--logdir", str(logdir), "--data-dir",
                             str(data), "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the server answers and the ingest has begun
        try:
            status = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/live/status", timeout=2))
            if status["data"]["progress"]["bytes_done"] > 0:
                break
        except OSError:
            pass
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0, proc.stderr.read().decode()[-2000:]
    db = Database(database_path(data, logdir))
    try:
        stored = sum(f["events"] for f in db.read_sync(reader.files))
    finally:
        db.close()
    assert stored < RUNS * 250_001, "the first pass ran to its end instead of stopping"
    with running_server(logdir, data) as server:  # the next start resumes: nothing lost or doubled
        for r in range(RUNS):
            url = f"{server.url}/api/live/scalars?run=run{r}&tag=loss&max_points=10"
            assert json.load(urllib.request.urlopen(url))["data"]["total"] == 250_000
