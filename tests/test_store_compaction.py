"""Live tailing commits tiny chunks; they are merged without losing a point or a cursor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from tsvis_live.records import Batch
from tsvis_live.store import reader
from tsvis_live.store import schema as t
from tsvis_live.store.database import Database
from tsvis_live.store.filestate import FileState
from tsvis_live.store.writer import COMPACT_AFTER, StoreWriter


def test_small_chunks_merge_and_keep_exact_cursors(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.sqlite")
    writer = StoreWriter()
    state = FileState(path="f", run="r", format="events")
    cursors_a, steps_a = [], []
    try:
        for i in range(3 * COMPACT_AFTER + 5):  # like a live run: a few points per commit
            batch = Batch()
            for k in range(3):
                step = 3 * i + k
                batch.scalar("a", step, 1000.0 + step, step * 0.5)
                batch.scalar("b", step, 1000.0 + step, -step)  # interleaves cursors with "a"
            state.offset += 1
            commit = db.write_sync(lambda c, b=batch: writer.commit(c, state, b))
            upd = next(u for u in commit.updates if u.tag == "a")
            cursors_a += list(upd.cursors)
            steps_a += [3 * i + k for k in range(3)]
        rows = db.read_sync(lambda c: c.execute(select(func.count()).select_from(t.scalar_chunks)).scalar())
        assert rows < 2 * (3 * COMPACT_AFTER + 5) / 10  # merged, not one row per commit
        s = db.read_sync(lambda c: reader.scalar_series(c, "r", "a"))
        assert s.steps.tolist() == steps_a and s.cursors.tolist() == cursors_a
        assert s.values.tolist() == [x * 0.5 for x in steps_a]
        assert s.newest_cursor == cursors_a[-1]
        mid = cursors_a[len(cursors_a) // 2]
        tail = db.read_sync(lambda c: reader.scalar_series(c, "r", "a", since=mid))
        assert tail.cursors.tolist() == [c for c in cursors_a if c > mid]
        fast = db.read_sync(lambda c: reader.scalar_series(c, "r", "a", with_cursors=False))
        np.testing.assert_array_equal(fast.steps, s.steps)
        assert fast.newest_cursor == cursors_a[-1]
        b = db.read_sync(lambda c: reader.scalar_series(c, "r", "b"))
        assert b.values.tolist() == [-float(x) for x in range(len(steps_a))]
    finally:
        db.close()


def test_windows_of_a_file_being_read_through_are_not_merged(tmp_path: Path) -> None:
    """A backlog's windows stop short of the file's end; their chunks hold a few hundred points
    of each of many tags and are kept as they are: merging every 64 of them rewrote the data in
    one long transaction (~0.5 s with the writer held, on a 10M-event first pass)."""
    db = Database(tmp_path / "s.sqlite")
    writer = StoreWriter()
    windows = 2 * COMPACT_AFTER
    state = FileState(path="f", run="r", format="events", size=windows + 1)
    try:
        for i in range(windows):
            batch = Batch()
            for k in range(300):
                step = 300 * i + k
                for tag in ("a", "b"):
                    batch.scalar(tag, step, 1000.0 + step, step * 0.5)
            state.offset = i + 1  # the file goes on past every window
            db.write_sync(lambda c, b=batch: writer.commit(c, state, b))
        merged = db.read_sync(lambda c: c.execute(
            select(func.count()).select_from(t.scalar_chunks).where(t.scalar_chunks.c.cursors.is_not(None))).scalar())
        rows = db.read_sync(lambda c: c.execute(select(func.count()).select_from(t.scalar_chunks)).scalar())
        assert (merged, rows) == (0, 2 * windows)
        s = db.read_sync(lambda c: reader.scalar_series(c, "r", "a"))
        assert s.steps.tolist() == list(range(300 * windows))
    finally:
        db.close()
