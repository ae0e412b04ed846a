"""The store under faults: non-finite floats, a failing COMMIT, a full disk.

Each test uses a real SQLite file and event files from a real writer (tensorboardX).
"""

from __future__ import annotations

import math
import os
import sqlite3
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import event
from tensorboardX import SummaryWriter

from tests.eventfiles import write_scalars
from tests.serverproc import running_server
from tsvis_live.health import Health
from tsvis_live.ingest.ingester import Ingester
from tsvis_live.session import database_path
from tsvis_live.store import reader
from tsvis_live.store.database import Database

NAME = "events.out.tfevents.1700000000.host"


def write_nan_histograms(logdir: Path) -> None:
    """Histograms whose every float field is non-finite somewhere, as diverging runs write."""
    w = SummaryWriter(str(logdir))
    nan, inf = float("nan"), float("inf")
    w.add_histogram_raw("w", min=0.0, max=1.0, num=3, sum=nan, sum_squares=1.0,
                        bucket_limits=[0.5, 1.0], bucket_counts=[1, 2], global_step=0)
    w.add_histogram_raw("w", min=-inf, max=inf, num=3, sum=1.0, sum_squares=inf,
                        bucket_limits=[0.0, inf], bucket_counts=[1, 2], global_step=1)
    w.add_histogram_raw("w", min=nan, max=nan, num=3, sum=nan, sum_squares=nan,
                        bucket_limits=[nan, 1.0], bucket_counts=[1, 2], global_step=2)
    w.add_scalar("loss", nan, 0)
    w.add_scalar("loss", inf, 1)
    w.add_scalar("loss", -inf, 2)
    w.add_hparams({"lr": 0.1}, {"hparam/acc": nan}, name="hp")
    w.close()


def test_nan_and_inf_round_trip_and_never_stop_other_runs(tmp_path: Path, db: Database) -> None:
    logdir = tmp_path / "logs"
    write_nan_histograms(logdir / "a_diverged")
    write_scalars(logdir / "b_fine" / NAME, "loss", range(5))
    Ingester(db, logdir).pass_once()

    runs = {name for name, _ in db.read_sync(reader.list_runs)}
    assert {"a_diverged", "b_fine"} <= runs
    assert db.read_sync(lambda c: reader.scalar_series(c, "b_fine", "loss")).steps.tolist() == list(range(5))

    hist = db.read_sync(lambda c: reader.histogram_series(c, "a_diverged", "w"))
    assert [h.step for h in hist] == [0, 1, 2]
    assert hist[1].min == -math.inf and hist[1].max == math.inf
    assert math.isnan(hist[2].min) and math.isnan(hist[2].max)
    scal = db.read_sync(lambda c: reader.scalar_series(c, "a_diverged", "loss"))
    values = scal.values.tolist()
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf]


def test_nan_histogram_sums_are_stored_not_nulled(tmp_path: Path, db: Database) -> None:
    """sum / sum_squares are not served today, but they must be kept as written."""
    logdir = tmp_path / "logs"
    write_nan_histograms(logdir)
    Ingester(db, logdir).pass_once()
    from tsvis_live.store import histochunks

    def sums(conn):
        got = histochunks.read(conn)
        return sorted((h for h in got.records("w")), key=lambda h: h.step)

    rows = db.read_sync(sums)
    assert math.isnan(rows[0].sum) and rows[0].sum_squares == 1.0
    assert rows[1].sum_squares == math.inf
    assert math.isnan(rows[2].sum) and math.isnan(rows[2].sum_squares)


def test_one_failing_file_does_not_stop_the_others(tmp_path: Path, db: Database) -> None:
    """A file whose commit fails for its own reason is retried later; every other file gets in."""
    logdir = tmp_path / "logs"
    for run in ("a", "b", "c"):
        write_scalars(logdir / run / NAME, "loss", range(4))
    health = Health()
    ing = Ingester(db, logdir, health=health)
    poisoned = {"b/" + NAME}
    real_commit = ing.writer.commit

    def commit(conn, state, batch, replace=False):
        if state.path in poisoned:
            raise ValueError("a record this writer cannot store")
        return real_commit(conn, state, batch, replace)

    ing.writer.commit = commit
    ing.pass_once()
    runs = {name for name, _ in db.read_sync(reader.list_runs)}
    assert {"a", "c"} <= runs and "b" not in runs
    problem = health.get("file", "b/" + NAME)
    assert problem is not None and "cannot store" in problem.message and problem.retry_at is not None

    poisoned.clear()
    ing.retry_now()  # what the backoff timer does when it fires
    ing.pass_once()
    assert db.read_sync(lambda c: reader.scalar_series(c, "b", "loss")).steps.tolist() == list(range(4))
    assert health.get("file", "b/" + NAME) is None


# -- a COMMIT that fails ---------------------------------------------------------------
class FailingCommits:
    """Makes the next COMMITs on a database fail as a full disk does (SQLITE_FULL)."""

    def __init__(self, db: Database) -> None:
        self.remaining = 0
        event.listen(db.engine, "commit", self._on_commit)

    def _on_commit(self, _conn) -> None:
        if self.remaining > 0:
            self.remaining -= 1
            raise sqlite3.OperationalError("database or disk is full")


def test_failed_commit_never_files_points_under_another_run(tmp_path: Path, db: Database) -> None:
    logdir = tmp_path / "logs"
    write_scalars(logdir / "first" / NAME, "loss", range(3))
    health = Health()
    ing = Ingester(db, logdir, health=health)
    ing.pass_once()

    faults = FailingCommits(db)
    write_scalars(logdir / "second" / NAME, "acc", range(3), value=lambda s: 10.0 + s)
    faults.remaining = 1
    ing.pass_once()  # the new run's transaction is rolled back at COMMIT
    assert "second" not in {n for n, _ in db.read_sync(reader.list_runs)}
    assert health.get("store", "database") is not None

    write_scalars(logdir / "third" / NAME, "acc", range(3), value=lambda s: 20.0 + s)
    ing.retry_now()
    ing.pass_once()
    assert health.get("store", "database") is None
    for run, base in (("second", 10.0), ("third", 20.0)):
        series = db.read_sync(lambda c, r=run: reader.scalar_series(c, r, "acc"))
        assert series.values.tolist() == [base, base + 1, base + 2], run
    assert db.read_sync(lambda c: reader.scalar_series(c, "first", "loss")).steps.tolist() == [0, 1, 2]
    series = {(r, k, tag) for r, k, tag, _c in db.read_sync(reader.list_series) if k == "scalar"}
    assert series == {("first", "scalar", "loss"), ("second", "scalar", "acc"), ("third", "scalar", "acc")}


def test_failed_commit_keeps_cursors_unique(tmp_path: Path, db: Database) -> None:
    """Cursors of a rolled-back transaction are handed out again, never twice."""
    logdir = tmp_path / "logs"
    write_scalars(logdir / "r" / NAME, "loss", range(3))
    ing = Ingester(db, logdir, health=Health())
    faults = FailingCommits(db)
    faults.remaining = 1
    ing.pass_once()
    ing.retry_now()
    ing.pass_once()
    series = db.read_sync(lambda c: reader.scalar_series(c, "r", "loss"))
    assert series.steps.tolist() == [0, 1, 2]
    cursors = np.asarray(series.cursors)
    assert len(set(cursors.tolist())) == 3 and cursors.max() <= db.read_sync(reader.max_cursor)


# -- a real full disk ------------------------------------------------------------------
@contextmanager
def small_tmpfs(path: Path, size: str = "6m"):
    """A real file system that fills up (the tests run as root)."""
    path.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path, leave: int) -> Path:
    """Fill the file system of `directory` up to `leave` free bytes."""
    st = os.statvfs(directory)
    free = st.f_bavail * st.f_frsize
    filler = directory / "filler"
    with open(filler, "wb") as fh:
        fh.write(b"\0" * max(0, free - leave))
    return filler


def status(server) -> dict:
    return httpx.get(server.url + "/api/live/status", timeout=10).json()["data"]


def wait_for(what, timeout: float = 30.0, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what.__doc__ or what}")


def write_noise_images(logdir: Path, count: int) -> None:
    rng = np.random.default_rng(0)
    w = SummaryWriter(str(logdir))
    for step in range(count):
        w.add_image("noise", rng.integers(0, 255, (3, 96, 96), dtype=np.uint8), step)
    w.close()


def test_full_disk_pauses_serves_and_resumes_without_misfiling(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    write_scalars(logdir / "a" / NAME, "loss", range(5))
    with small_tmpfs(tmp_path / "data") as data:
        with running_server(logdir, data) as server:
            filler = fill(data, leave=400_000)
            write_noise_images(logdir / "b", 40)  # ~1.1 MB of PNGs: more than is left

            def disk_full_reported():
                return [p for p in status(server)["problems"] if p["area"] == "store"]

            problems = wait_for(disk_full_reported)
            assert "full" in problems[0]["message"]
            write_scalars(logdir / "c" / NAME, "acc", range(3), value=lambda s: 7.0 + s)
            time.sleep(1.5)  # a few retries while still full
            cat = httpx.get(server.url + "/api/getCategory", timeout=10)
            assert cat.status_code == 200 and "a" in cat.json()["data"]  # still serving

            filler.unlink()  # space returns

            def recovered():
                st = status(server)
                return not st["problems"] and {"b", "c"} <= set(
                    httpx.get(server.url + "/api/getCategory", timeout=10).json()["data"])

            wait_for(recovered)
            log_text = server.log()
        db = Database(database_path(data, logdir))
        try:
            _total, images = db.read_sync(lambda c: reader.media_list(c, "b", "image", "noise"))
            assert sorted(m.step for m in images) == list(range(40))
            assert db.read_sync(lambda c: reader.scalar_series(c, "c", "acc")).values.tolist() == [7.0, 8.0, 9.0]
            assert db.read_sync(lambda c: reader.scalar_series(c, "a", "loss")).steps.tolist() == list(range(5))
            kinds = {(r, k, tag) for r, k, tag, _c in db.read_sync(reader.list_series) if k != "plugin"}
            assert kinds == {("a", "scalar", "loss"), ("b", "image", "noise"), ("c", "scalar", "acc")}
        finally:
            db.close()
    assert log_text.count("cannot be written") == 1, log_text  # said once, not per window
