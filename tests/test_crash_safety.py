"""A real ingest process killed with SIGKILL at random moments loses and duplicates nothing."""

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


def make_logdir(root: Path) -> Path:
    logdir = root / "logs"
    for r in range(3):
        path = logdir / f"run{r}" / NAME
        path.parent.mkdir(parents=True)
        with open(path, "wb") as fh:
            for tag in ("a", "b"):
                fh.write(b"".join(scalar_records(tag, range(170_000), value=lambda s, r=r: s * 0.25 + r)))
    return logdir


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
    logdir = make_logdir(tmp_path)
    clean_dir, crash_dir = tmp_path / "clean", tmp_path / "crashed"
    subprocess.run(ingest_cmd(logdir, clean_dir), check=True, timeout=600)
    expected = snapshot(clean_dir, logdir)
    assert sum(len(v[0]) for v in expected.values()) == 3 * 2 * 170_000

    rng = random.Random(20261122)
    kills = 0
    for _ in range(10):
        proc = subprocess.Popen(ingest_cmd(logdir, crash_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 4.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 5, "the ingest finished too fast for the kills to land mid-way"
    subprocess.run(ingest_cmd(logdir, crash_dir), check=True, timeout=600)
    got = snapshot(crash_dir, logdir)
    assert got.keys() == expected.keys()
    for key, (steps, values, walls) in expected.items():
        g_steps, g_values, g_walls = got[key]
        assert len(g_steps) == len(steps), f"{key}: {len(g_steps)} points stored, {len(steps)} expected"
        np.testing.assert_array_equal(g_steps, steps)
        np.testing.assert_array_equal(g_values, values)
        np.testing.assert_array_equal(g_walls, walls)
