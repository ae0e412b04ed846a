"""Scalar summaries (store.summaries) against the full read they stand in for, on both engines.

Random monotone series (NaN, +-Inf, ties, big steps, windows of any size, several files, live
tiny commits that get compacted) are stored by the real writer; every summary-based answer is
compared with `select_scalars` over the full read: equal when it says it read every point
(`resolution == 1`, always so when the range holds <= max_points points), else within the
documented bound. Summaries must match their chunks after compaction and replacement, be
written or lost with their chunk, and be rebuilt byte for byte when a 0002 database upgrades.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, func, inspect, select
from sqlalchemy.exc import IntegrityError

from tests import either_store
from tests.either_store import migrate_to, open_db
from tsvis_live.compute.downsample import _bucket_starts
from tsvis_live.records import Batch, ScalarColumns
from tsvis_live.store import codec, reader, summaries
from tsvis_live.store import schema as t
from tsvis_live.store.database import Database
from tsvis_live.store.filestate import FileState
from tsvis_live.store.provider import Store
from tsvis_live.store.select import ScalarRead, select_scalars
from tsvis_live.store.writer import StoreWriter

NAMES = itertools.count()

engine, db = either_store.engine, either_store.db  # every test below runs on SQLite and PostgreSQL


class Writer:
    """The real StoreWriter, committing windows of named files as the ingester does."""

    def __init__(self, db: Database) -> None:
        self.db, self.w, self.states = db, StoreWriter(), {}
        db.on_rollback(lambda _exc: self.w.invalidate())

    def window(self, run: str, path: str, cols: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
               replace: bool = False) -> None:
        state = self.states.setdefault(path, FileState(path=path, run=run, format="events"))
        state.offset += 1
        batch = Batch(scalars={tag: ScalarColumns(s.tolist(), w.tolist(), v.tolist()) for tag, (s, w, v) in cols.items()})
        self.db.write_sync(lambda c: self.w.commit(c, state, batch, replace))

    def series(self, run: str, steps: np.ndarray, values: np.ndarray, sizes: list[int], files: int = 1) -> None:
        """Store one series "v" in windows of `sizes` (cycled), the points split over `files` files."""
        walls = 1.7e9 + steps * 0.25
        cut = len(steps) // files if files > 1 else len(steps)
        i, k = 0, 0
        while i < len(steps):
            j = min(len(steps), i + sizes[k % len(sizes)], cut if i < cut else len(steps))
            self.window(run, f"{run}/f{int(i >= cut)}", {"v": (steps[i:j], walls[i:j], values[i:j])})
            i, k = j, k + 1


def series_values(rng: np.random.Generator, n: int, nan: float, inf: float, ties: bool) -> np.ndarray:
    values = np.cumsum(rng.normal(size=n))
    if ties:
        values = np.round(values)
    values[rng.random(n) < nan] = np.nan
    odd = rng.random(n) < inf
    values[odd] = np.where(rng.random(int(odd.sum())) < 0.5, np.inf, -np.inf)
    return values


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=np.asarray(a).dtype.kind == "f")


def both(db: Database, run: str, **view: Any) -> tuple[ScalarRead | None, ScalarRead]:
    fast = db.read_sync(lambda c: summaries.select_stored(c, run, "v", cursors=True, **view))
    full = db.read_sync(lambda c: select_scalars(reader.scalar_series(c, run, "v"), **view))
    return fast, full


def check_against_full(fast: ScalarRead, full: ScalarRead, view: dict[str, Any], visible: Any) -> None:
    """`fast` is `full` exactly, or (summaries used) within the bound store.summaries documents."""
    assert (fast.total, fast.cursor, fast.downsampled) == (full.total, full.cursor, full.downsampled)
    f, g = fast.points, full.points
    max_points = view.get("max_points")
    if fast.resolution == 1:
        for name in ("steps", "wall_times", "values", "cursors"):
            assert same(getattr(f, name), getattr(g, name)), name
        if full.bands is not None:
            for x, y in zip(fast.bands, full.bands):
                assert same(x, y)
        assert (fast.smoothed is None) == (full.smoothed is None)
        if full.smoothed is not None:  # the EMA started history(w) points before the range
            a, b = fast.smoothed, full.smoothed
            finite = np.isfinite(b)
            assert np.array_equal(np.isfinite(a), finite) and same(a[~finite], b[~finite])
            x = np.abs(visible.values[np.isfinite(visible.values)])
            assert np.allclose(a[finite], b[finite], rtol=1e-9, atol=1e-9 * max(1.0, float(x.max(initial=0))))
        return
    assert max_points is not None and full.total > max_points, "summaries used for an answer that fits"
    lo, hi = view.get("start"), view.get("end")
    keep = np.ones(len(visible), bool) if lo is None else visible.steps >= lo
    if hi is not None:
        keep &= visible.steps <= hi
    s = visible.take(np.flatnonzero(keep))  # the points in range, every one
    assert len(f) <= max_points and bool(np.all(np.diff(f.steps) > 0))
    pos = np.searchsorted(s.steps, f.steps)
    assert np.array_equal(s.steps[pos], f.steps), "a point that is not stored"
    assert same(s.values[pos], f.values) and same(s.wall_times[pos], f.wall_times) and same(s.cursors[pos], f.cursors)
    assert pos[-1] == len(s) - 1 and (pos[0] == 0 or max_points < 4), "the range's first and last points are kept"
    if max_points >= 3 and not np.all(np.isnan(s.values)):
        high, low = np.nanmax(s.values), np.nanmin(s.values)
        assert np.nanmax(f.values) == high and np.nanmin(f.values) == low  # +-inf included
    if max_points < 4:
        return
    res = fast.resolution
    starts = _bucket_starts(s.steps, max_points // 4)
    bounds = np.append(starts, len(s))
    bucket_of = np.searchsorted(starts, pos, side="right") - 1
    for j, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        mine = pos[bucket_of == j]  # <= 4, unless every candidate fits in max_points (all are sent)
        if not len(mine):
            assert b - a < res, "only a bucket inside one item can lack points"
            continue
        assert mine[0] - a < res and (b - 1) - mine[-1] < res, "a bucket's first/last beyond one item"
        inner = s.values[a + res : max(a + res, b - res)]
        inner = inner[~np.isnan(inner)]
        if len(inner):  # points whose item lies inside the bucket are represented exactly
            kept = s.values[mine]
            kept = kept[~np.isnan(kept)]
            assert len(kept) and kept.max() >= inner.max() and kept.min() <= inner.min()
    if fast.bands is not None:
        assert int(fast.bands.count.sum()) == fast.total
        assert len(fast.bands.step_start) <= len(starts)


@st.composite
def monotone_series(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 6000))
    return {
        "n": n, "seed": draw(st.integers(0, 2**32 - 1)),
        "first": draw(st.sampled_from([0, -1000, 7, 2**40])),
        "gap": draw(st.sampled_from([1, 1, 3, 1000])),
        "nan": draw(st.sampled_from([0.0, 0.0, 0.01, 0.4, 1.0])),
        "inf": draw(st.sampled_from([0.0, 0.0, 0.002, 0.05])),
        "ties": draw(st.booleans()),
        "sizes": draw(st.lists(st.integers(1, 3000), min_size=1, max_size=5)),
        "files": draw(st.sampled_from([1, 1, 2])),
        "spike": draw(st.integers(0, n - 1)),
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=monotone_series(), data=st.data())
def test_answers_match_the_full_read(db: Database, spec: dict[str, Any], data: st.DataObject) -> None:
    rng = np.random.default_rng(spec["seed"])
    n = spec["n"]
    steps = spec["first"] + np.cumsum(rng.integers(1, spec["gap"] + 1, n)) - 1
    values = series_values(rng, n, spec["nan"], spec["inf"], spec["ties"])
    values[spec["spike"]] = 1e300
    run = f"r{next(NAMES)}"
    sizes = [max(size, n // 150) for size in spec["sizes"]]  # tiny live commits: the compaction test
    Writer(db).series(run, steps, values, sizes, spec["files"])
    visible = db.read_sync(lambda c: reader.scalar_series(c, run, "v"))
    for _ in range(4):
        view: dict[str, Any] = {"max_points": data.draw(st.sampled_from([None, 2, 3, 4, 4, 5, 8, 8, 12, 20, 40, 400, 10_000]))}
        if data.draw(st.booleans()):
            a, b = sorted(data.draw(st.integers(-5, n + 5)) for _ in range(2))
            view["start"] = int(steps[min(max(a, 0), n - 1)]) + data.draw(st.sampled_from([0, -1, 1]))
            view["end"] = int(steps[min(max(b, 0), n - 1)]) + data.draw(st.sampled_from([0, -1, 1]))
            if data.draw(st.booleans()):
                view.pop(data.draw(st.sampled_from(["start", "end"])))
        view["bands"] = data.draw(st.booleans())
        view["smoothing"] = data.draw(st.sampled_from([0.0, 0.0, 0.0, 0.6, 0.95, 0.999]))
        fast, full = both(db, run, **view)
        if view["max_points"] is None and "start" not in view and "end" not in view:
            assert fast is None  # nothing to gain: the whole series
            continue
        if fast is None:  # smoothing: downsampled from summaries, or too little finite history read
            assert view["smoothing"] > 0
            continue
        if view["max_points"] is None or full.total <= view["max_points"]:
            assert fast.resolution == 1
        check_against_full(fast, full, view, visible)


def test_a_spike_in_a_long_series_survives_coarse_levels(db: Database) -> None:
    n = 300_000
    steps = np.arange(n) * 2
    values = np.sin(np.arange(n) / 500.0)
    values[123_457] = 50.0
    values[200_001] = -7.0
    run = f"r{next(NAMES)}"
    Writer(db).series(run, steps, values, [20_000])
    visible = db.read_sync(lambda c: reader.scalar_series(c, run, "v"))
    for view in ({"max_points": 8}, {"max_points": 2000}, {"max_points": 400, "start": 1000, "end": 500_001}):
        fast, full = both(db, run, **view)
        assert fast is not None and fast.resolution > 1 and len(fast.points) <= view["max_points"]
        assert fast.points.values.max() == 50.0 and fast.points.values.min() == -7.0
        check_against_full(fast, full, view, visible)


def test_a_smoothed_zoom_reads_history_before_the_range(db: Database) -> None:
    n = 100_000
    steps = np.arange(n)
    values = np.cos(steps / 300.0) + np.random.default_rng(3).normal(0, 0.1, n)
    values[40_000:50_000] = np.nan  # no finite history right before step 50,000
    run = f"r{next(NAMES)}"
    Writer(db).series(run, steps, values, [5000])  # chunks of 5,000 (small ones would be merged)
    visible = db.read_sync(lambda c: reader.scalar_series(c, run, "v"))
    for w, start in ((0.6, 30_000), (0.999, 30_000), (0.6, 52_000), (0.9, 0), (0.9, 100)):
        view = {"start": start, "end": start + 1500, "max_points": 2000, "smoothing": w}
        fast, full = both(db, run, **view)
        assert fast is not None and fast.resolution == 1 and fast.smoothed is not None
        check_against_full(fast, full, view, visible)
    for w in (0.6, 0.99):  # the history needed is all NaN: the full read
        assert both(db, run, start=50_000, end=51_500, max_points=2000, smoothing=w)[0] is None


def stored_summaries(conn: Connection) -> dict[int, tuple]:
    return {r[0]: tuple(r) for r in conn.execute(select(t.scalar_summaries).order_by(t.scalar_summaries.c.first_cursor))}


def recomputed_summaries(conn: Connection) -> dict[int, tuple]:
    """The summary rows each stored chunk should have, from its points."""
    c = t.scalar_chunks.c
    rows = conn.execute(select(t.scalar_chunks).order_by(c.first_cursor)).all()
    chunks = [dict(r._mapping) for r in rows]
    out = summaries.summary_rows(
        chunks, [codec.unpack_i64(r.steps) for r in rows], [codec.unpack_f64(r.wall_times) for r in rows],
        [codec.unpack_f64(r._mapping["values"]) for r in rows],
        [codec.unpack_i64(r.cursors) if r.cursors is not None
         else np.arange(r.first_cursor, r.last_cursor + 1, dtype="<i8") for r in rows])
    names = [col.name for col in t.scalar_summaries.columns]
    return {row["first_cursor"]: tuple(row[k] for k in names) for row in out}


def test_live_tiny_commits_compaction_and_replacement_keep_summaries_right(db: Database) -> None:
    w = Writer(db)
    rng = np.random.default_rng(5)
    step = 0
    for i in range(200):  # a live run: a few points per commit, two series interleaving cursors
        k = int(rng.integers(1, 6))
        s = np.arange(step, step + k)
        step += k
        w.window("live", "live/f", {"v": (s, s * 1.0, rng.normal(size=k)), "w": (s, s * 2.0, -s * 1.0)})
        if i % 37 == 0:
            assert db.read_sync(stored_summaries) == db.read_sync(recomputed_summaries)
    stored = db.read_sync(stored_summaries)
    chunks = db.read_sync(lambda c: c.execute(select(func.count()).select_from(t.scalar_chunks)).scalar())
    assert len(stored) == chunks < 200  # compacted, and one summary per chunk
    assert stored == db.read_sync(recomputed_summaries)
    visible = db.read_sync(lambda c: reader.scalar_series(c, "live", "v"))
    for view in ({"max_points": 4}, {"max_points": 40, "start": 100, "end": 400}, {"max_points": 2000}):
        fast, full = both(db, "live", **view)
        assert fast is not None
        check_against_full(fast, full, view, visible)
    s = np.arange(10)  # the file was replaced: its points, chunks and summaries go
    w.window("live", "live/f", {"v": (s, s * 1.0, s * 3.0)}, replace=True)
    stored = db.read_sync(stored_summaries)
    assert len(stored) == 1 and stored == db.read_sync(recomputed_summaries)


def test_summaries_are_stored_or_lost_with_their_chunk(db: Database) -> None:
    w = Writer(db)
    s = np.arange(100)
    w.window("r", "r/f", {"v": (s, s * 1.0, s * 1.0)})
    before = db.read_sync(lambda c: (stored_summaries(c), reader.scalar_series(c, "r", "v").steps.tolist()))
    taken = w.w.cursor + 1  # the first cursor the next chunk will get: its summary's key, taken
    db.write_sync(lambda c: c.execute(t.scalar_summaries.insert(), [
        {"first_cursor": taken, "series_id": 999, "file_id": 999, "monotone": 1}]))
    with pytest.raises((IntegrityError, psycopg.errors.IntegrityError)):  # PostgreSQL: from COPY
        w.window("r", "r/f", {"v": (s + 100, s * 1.0, s * 1.0)})
    after = db.read_sync(lambda c: (stored_summaries(c), reader.scalar_series(c, "r", "v").steps.tolist()))
    assert after[1] == before[1]  # the chunk went with its summary
    assert set(after[0]) == set(before[0]) | {taken}


def test_series_that_go_back_smoothing_and_missing_summaries_read_everything(db: Database) -> None:
    w = Writer(db)
    s = np.arange(5000)
    w.window("resumed", "resumed/a", {"v": (s, s * 1.0, np.cos(s / 50.0))})
    w.window("resumed", "resumed/b", {"v": (s[2000:] , s[2000:] * 1.0, np.sin(s[2000:] / 9.0))})  # went back
    w.window("ok", "ok/a", {"v": (s, s * 1.0, np.cos(s / 50.0))})
    w.window("ok", "ok/a", {"v": (s + 5000, s * 1.0, np.cos(s / 50.0))})
    store = Store(db)
    for run, view in (("resumed", {"max_points": 100}), ("resumed", {"max_points": 100, "every": True}),
                      ("ok", {"max_points": 100, "smoothing": 0.6}), ("ok", {"max_points": 100, "start": 10})):
        if run == "ok" and "start" in view:  # one chunk without its summary: the series reads everything
            db.write_sync(lambda c: c.execute(t.scalar_summaries.delete().where(
                t.scalar_summaries.c.first_cursor == select(func.max(t.scalar_chunks.c.first_cursor)).scalar_subquery())))
        fast, full = both(db, run, **view)
        assert fast is None
        got = asyncio.run(store.scalars(run, "v", **view))
        assert same(got.points.steps, full.points.steps) and same(got.points.values, full.points.values)
        if "smoothing" in view:
            assert same(got.smoothed, full.smoothed)


def test_a_0002_database_upgrades_with_the_same_summaries(engine: str, tmp_path: Path,
                                                          request: pytest.FixtureRequest) -> None:
    pg_url = request.getfixturevalue("pg_url") if engine == "postgresql" else None
    schema = f"tsvis_up_{uuid.uuid4().hex[:12]}"
    db = open_db(engine, tmp_path, pg_url, schema)
    try:
        w = Writer(db)
        rng = np.random.default_rng(9)
        for i in range(100):  # tiny live commits (compacted) ...
            s = np.arange(3 * i, 3 * i + 3)
            w.window("live", "live/f", {"v": (s, s * 1.0, rng.normal(size=3))})
        w.series("big", np.arange(200_000) * 5, series_values(rng, 200_000, 0.01, 0.001, False), [30_000, 777])
        written = db.read_sync(stored_summaries)
        answers = [db.read_sync(lambda c, r=r: summaries.select_stored(c, r, "v", cursors=True, max_points=400))
                   for r in ("live", "big")]
        migrate_to(db, "downgrade", "0002")
        assert not db.read_sync(lambda c: inspect(c).has_table("scalar_summaries"))
    finally:
        db.close()
    again = open_db(engine, tmp_path, pg_url, schema)  # opening migrates to 0003 and builds them
    try:
        assert again.read_sync(stored_summaries) == written
        for run, before in zip(("live", "big"), answers):
            after = again.read_sync(lambda c, r=run: summaries.select_stored(c, r, "v", cursors=True, max_points=400))
            assert after.resolution == before.resolution and (run == "live") == (after.resolution == 1)
            for name in ("steps", "wall_times", "values", "cursors"):
                assert same(getattr(after.points, name), getattr(before.points, name))
    finally:
        again.close()
