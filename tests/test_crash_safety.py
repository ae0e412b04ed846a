"""A real ingest process killed with SIGKILL at random moments loses and duplicates nothing.

The logdir keeps growing between kills, as it does while a job trains, so every run has work
to be interrupted in; the end state must equal one clean ingest of the final logdir.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from tests.eventfiles import scalar_records
from tsvis_live.session import database_path
from tsvis_live.store import reader
from tsvis_live.store.database import Database

NAME = "events.out.tfevents.1700000000.host"
RUNS = 3
PER_APPEND = 60_000  # steps per tag per file per append (two tags)


def append(logdir: Path, start: int) -> None:
    for r in range(RUNS):
        path = logdir / f"run{r}" / NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as fh:
            for tag in ("a", "b"):
                records = scalar_records(tag, range(start, start + PER_APPEND), value=lambda s, r=r: s * 0.25 + r)
                fh.write(b"".join(records[1:] if start else records))


def ingest_cmd(logdir: Path, data_dir: Path) -> list[str]:
    return [sys.executable, "-m", "tsvis_live.cli", "ingest", "--logdir", str(logdir), "--data-dir", str(data_dir),
            "--quiet"]


def snapshot(data_dir: Path, logdir: Path) -> dict:
    db = Database(database_path(data_dir, logdir))
    try:
        def read(conn):
            out = {}
            for run, kind, tag, _c in reader.list_series(conn):
                if kind == "scalar":
                    s = reader.scalar_series(conn, run, tag)
                    out[(run, tag)] = (s.steps.copy(), s.values.copy(), s.wall_times.copy())
            return out

        return db.read_sync(read)
    finally:
        db.close()


def test_sigkill_at_random_moments_then_resume(tmp_path: Path) -> None:
    logdir, crash_dir = tmp_path / "logs", tmp_path / "crashed"
    append(logdir, 0)
    subprocess.run(ingest_cmd(logdir, crash_dir), check=True, timeout=600)
    append(logdir, PER_APPEND)
    t0 = time.monotonic()
    subprocess.run(ingest_cmd(logdir, crash_dir), check=True, timeout=600)
    full_run = time.monotonic() - t0  # process start to exit when resuming one append's worth

    rng = random.Random(20261122)
    kills, appends, scale = 0, 2, 1.0
    # Ten appends, each read by a process SIGKILLed at a random moment of its run; the moment is
    # a fraction of one calibration run, so on a machine whose load changes a kill may come too
    # late: then later kills come earlier (scale), and up to ten more appends are tried.
    while appends < 12 or (kills < 5 and appends < 22):
        append(logdir, appends * PER_APPEND)
        appends += 1
        proc = subprocess.Popen(ingest_cmd(logdir, crash_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.25, 0.95) * full_run * scale)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        else:
            scale *= 0.6
        proc.wait()
    assert kills >= 5, f"only {kills} of {appends - 2} kills landed before the ingest finished"
    subprocess.run(ingest_cmd(logdir, crash_dir), check=True, timeout=600)
    got = snapshot(crash_dir, logdir)

    clean_dir = tmp_path / "clean"
    subprocess.run(ingest_cmd(logdir, clean_dir), check=True, timeout=600)
    expected = snapshot(clean_dir, logdir)
    assert sum(len(v[0]) for v in expected.values()) == RUNS * 2 * appends * PER_APPEND
    assert got.keys() == expected.keys()
    for key, (steps, values, walls) in expected.items():
        g_steps, g_values, g_walls = got[key]
        assert len(g_steps) == len(steps), f"{key}: {len(g_steps)} points stored, {len(steps)} expected"
        np.testing.assert_array_equal(g_steps, steps)
        np.testing.assert_array_equal(g_values, values)
        np.testing.assert_array_equal(g_walls, walls)
