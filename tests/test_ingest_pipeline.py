"""The parallel pass reads a file's next window while the writer commits the one before.

What must hold: the read overlaps the commit (the point of it); offsets still commit in file
order; a failed commit drops the window read after it (it starts where the failed one was to
end), so a retry stores every point exactly once; a new file's second window, read before the
first commit gave the file its id, lands on the same file row. Real worker processes and SQLite.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from tests.eventfiles import scalar_records
from tsvis_live.ingest import pool as pool_module
from tsvis_live.ingest.ingester import Ingester
from tsvis_live.store import reader
from tsvis_live.store.database import Database

NAME = "events.out.tfevents.1700000000.host"
STEPS = 150_000  # ~6.6 MB a file: several 1 MiB windows each


@pytest.fixture
def db(tmp_path: Path):
    database = Database(tmp_path / "session.sqlite")
    yield database
    database.close()


def logdir_of(tmp_path: Path, runs: int = 2) -> Path:
    logdir = tmp_path / "logs"
    blob = b"".join(scalar_records("loss", range(STEPS)))
    for i in range(runs):
        (logdir / f"r{i}").mkdir(parents=True)
        (logdir / f"r{i}" / NAME).write_bytes(blob)
    return logdir


def check_exact(db: Database, runs: int = 2) -> None:
    for i in range(runs):
        steps = db.read_sync(lambda c, i=i: reader.scalar_series(c, f"r{i}", "loss", with_cursors=True))
        assert steps.steps.tolist() == list(range(STEPS)), f"r{i}"
        assert len(np.unique(steps.cursors)) == STEPS
    files = db.read_sync(reader.files)
    assert sorted(f["path"] for f in files) == [f"r{i}/{NAME}" for i in range(runs)]  # one row a file
    assert all(f["offset"] == f["size"] for f in files)


def test_the_next_read_overlaps_the_commit(
    tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch, parallel_pass: None,
) -> None:
    """With a slow writer, each file's next read is handed to a worker before its previous
    window's commit has finished (before: only after it)."""
    events: list[tuple[str, str, float]] = []  # (what, file, when)
    lock = threading.Lock()

    class Recording(ProcessPoolExecutor):
        def submit(self, fn, logfile, state, *args, **kwargs):  # type: ignore[no-untyped-def]
            with lock:
                events.append(("read", state.path, time.monotonic()))
            return super().submit(fn, logfile, state, *args, **kwargs)

    monkeypatch.setattr(pool_module, "ProcessPoolExecutor", Recording)
    ing = Ingester(db, logdir_of(tmp_path))
    real_commit = ing.writer.commit

    def slow_commit(conn, state, batch, replace=False):  # type: ignore[no-untyped-def]
        time.sleep(0.15)
        out = real_commit(conn, state, batch, replace)
        with lock:
            events.append(("committed", state.path, time.monotonic()))
        return out

    ing.writer.commit = slow_commit
    ing.pass_once(backlog=True)
    check_exact(db)
    overlapped = 0
    for path in {p for _, p, _ in events}:
        mine = [(what, t) for what, p, t in sorted(events, key=lambda e: e[2]) if p == path]
        reads = [t for what, t in mine if what == "read"]
        commits = [t for what, t in mine if what == "committed"]
        assert len(commits) >= 3
        # read k+1 was submitted before commit k ended
        overlapped += sum(1 for k in range(len(commits) - 1) if reads[k + 1] < commits[k])
    assert overlapped >= 4


def test_a_failed_commit_drops_the_window_read_after_it(
    tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch, parallel_pass: None,
) -> None:
    ing = Ingester(db, logdir_of(tmp_path))
    real_commit = ing.writer.commit
    seen: dict[str, int] = {}

    def commit(conn, state, batch, replace=False):  # type: ignore[no-untyped-def]
        seen[state.path] = seen.get(state.path, 0) + 1
        if state.path.startswith("r0/") and seen[state.path] == 2:
            time.sleep(0.3)  # the next window's read is done by now
            raise ValueError("a record this writer cannot store")
        return real_commit(conn, state, batch, replace)

    ing.writer.commit = commit
    ing.pass_once(backlog=True)
    r0 = db.read_sync(lambda c: reader.scalar_series(c, "r0", "loss")).steps.tolist()
    assert r0 == list(range(len(r0))) and 0 < len(r0) < STEPS  # the first window only, nothing after
    assert seen["r0/" + NAME] == 2  # the window read during the failed commit was never committed
    ing.retry_now()
    ing.pass_once()
    check_exact(db)
