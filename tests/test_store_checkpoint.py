"""WAL checkpoints run off the writer thread (`database.Checkpointer`).

What must hold: every commit stays readable while checkpoints copy pages behind the writer and
readers hold snapshots; the WAL stays bounded during a backlog (the checkpointer keeps up, and
the writer's own autocheckpoint takes over if it cannot); a checkpoint that fails loses
nothing; closing the database leaves a healthy file with every commit in it. Real SQLite files.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from tsvis_live.records import Batch, HistogramRecord
from tsvis_live.store import database, reader
from tsvis_live.store.database import Database
from tsvis_live.store.filestate import FileState
from tsvis_live.store.writer import StoreWriter

POINTS = 20_000  # a window's points per tag: ~0.5 MB of chunk data, about 120 pages


def window(i: int) -> Batch:
    b = Batch()
    steps = np.arange(i * POINTS, (i + 1) * POINTS)
    for step, value in zip(steps.tolist(), np.sin(steps / 100.0).tolist()):
        b.scalar("loss", step, 1000.0 + step, value)
    b.histograms.append(HistogramRecord("w", i, 5.0, np.array([[0.0, 1.0, 2.0]]), 0.0, 1.0, 2.0, 1.0, 1.0))
    return b


def ingest(db: Database, windows: int, watch: list[int] | None = None) -> None:
    """Commit `windows` windows of one file, each with its new offset, as a backlog does."""
    w, state = StoreWriter(), FileState(path="run/events", run="run", format="events")
    for i in range(windows):
        state.offset, batch = i + 1, window(i)
        db.submit(lambda conn, b=batch, s=state: w.commit(conn, s, b), database.BULK).result()
        if watch is not None:
            watch.append(wal_bytes(db.path))


def wal_bytes(path: Path) -> int:
    wal = Path(str(path) + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_checkpoints_run_off_the_writer_and_keep_the_wal_bounded(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database, "WRITER_AUTOCHECKPOINT", 1000)  # 4 MB instead of 64: a small test
    db = Database(tmp_path / "s.sqlite")
    sizes: list[int] = []
    stop, seen, errors = threading.Event(), [], []

    def read_while_writing() -> None:  # readers pin snapshots while checkpoints run
        while not stop.is_set():
            try:
                s = db.read_sync(lambda c: reader.scalar_series(c, "run", "loss"))
                seen.append(len(s.steps))
            except Exception as exc:  # noqa: BLE001 - "no such run" before the first commit
                errors.append(exc)
    t = threading.Thread(target=read_while_writing)
    t.start()
    try:
        ingest(db, 60, sizes)
    finally:
        stop.set()
        t.join()
    assert db._checkpointer is not None and db._checkpointer.runs > 0
    # 60 windows wrote ~30 MB of pages while readers pinned snapshots: the WAL stays near its bound
    assert max(sizes) < 16 << 20  # a reader's snapshot can hold the restart back a few windows
    assert seen == sorted(seen) and seen[-1] <= 60 * POINTS  # snapshots only ever grow
    assert all("run" in str(e) for e in errors)
    assert len(db.read_sync(lambda c: reader.scalar_series(c, "run", "loss")).steps) == 60 * POINTS
    db.close()
    assert not Path(str(db.path) + "-wal").exists()  # the last close checkpointed and removed it
    conn = sqlite3.connect(db.path)
    assert conn.execute("PRAGMA quick_check").fetchone() == ("ok",)
    assert conn.execute("SELECT sum(count) FROM scalar_chunks").fetchone() == (60 * POINTS,)
    assert conn.execute("SELECT count(*) FROM scalar_summaries").fetchone() == (60,)
    conn.close()


def test_a_failing_checkpoint_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a working checkpoint connection the writer's autocheckpoint still bounds the WAL
    (tested with a bound under SQLite's default of 1,000 pages, which the writer's connection
    is given) and every commit is kept."""
    monkeypatch.setattr(database, "WRITER_AUTOCHECKPOINT", 100)
    monkeypatch.setattr(database.sqlite3, "connect", lambda *a, **k: (_ for _ in ()).throw(
        sqlite3.OperationalError("unable to open database file")))
    db = Database(tmp_path / "s.sqlite")
    sizes: list[int] = []
    ingest(db, 30, sizes)
    assert db._checkpointer is not None and db._checkpointer.runs == 0
    assert max(sizes) < 512 * 4096  # 100 pages, and a window's ~150 that the commit carries past them
    db.close()
    monkeypatch.undo()
    db = Database(tmp_path / "s.sqlite")
    assert len(db.read_sync(lambda c: reader.scalar_series(c, "run", "loss")).steps) == 30 * POINTS
    db.close()


def test_a_crash_with_a_checkpoint_in_flight_keeps_every_commit(tmp_path: Path) -> None:
    """A process killed while the checkpointer copies pages: every acknowledged commit is in
    the file afterwards (SQLite replays the WAL), and the database is healthy."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
        from tests.test_store_checkpoint import ingest
        from tsvis_live.store.database import Database
        db = Database({str(tmp_path / "s.sqlite")!r})
        ingest(db, 40)
        print("committed", flush=True)
        os._exit(9)  # no close: the WAL is left as a crash leaves it
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert "committed" in out.stdout, out.stderr[-2000:]
    db = Database(tmp_path / "s.sqlite")
    assert len(db.read_sync(lambda c: reader.scalar_series(c, "run", "loss")).steps) == 40 * POINTS
    db.close()
