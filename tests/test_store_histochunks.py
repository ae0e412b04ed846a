"""Histograms are stored as one chunk row per tag and commit (store.histochunks), on SQLite and
PostgreSQL: fewer rows than histograms, read back bit for bit (NaN, infinities, -0.0, buckets
that are not contiguous, histograms without a bucket), by cursor range and as the changes
between two cursors, merged when a live run commits them one by one, dropped with a replaced
file, and converted from the row-per-histogram table of a 0003 database."""

from __future__ import annotations

import math
import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, inspect, select, text

from tests import either_store
from tests.either_store import migrate_to, open_db
from tsvis_live.records import Batch, HistogramRecord
from tsvis_live.store import histochunks, reader
from tsvis_live.store import schema as t
from tsvis_live.store.changes import changes_between
from tsvis_live.store.database import Database
from tsvis_live.store.filestate import FileState
from tsvis_live.store.writer import COMPACT_AFTER, Commit, StoreWriter

ODD = [0.0, -0.0, 1.5, -2.0, math.inf, -math.inf, math.nan]

engine, db = either_store.engine, either_store.db  # every test below runs on SQLite and PostgreSQL


class Writer:
    """The real StoreWriter committing windows of named files, as the ingester does."""

    def __init__(self, db: Database) -> None:
        self.db, self.w, self.states = db, StoreWriter(), {}
        db.on_rollback(lambda _exc: self.w.invalidate())

    def commit(self, run: str, path: str, hists: list[HistogramRecord], replace_file: bool = False,
               at_end: bool = True) -> Commit:
        state = replace(self.states.get(path) or FileState(path=path, run=run, format="events"))
        if replace_file:
            state.offset = 0
        state.offset += 100
        state.size = state.offset if at_end else state.offset + 100
        commit = self.db.write_sync(lambda c: self.w.commit(c, state, Batch(histograms=list(hists)), replace_file))
        self.states[path] = state
        return commit


def histogram(rng: np.random.Generator, tag: str, step: int, odd: bool = False) -> HistogramRecord:
    k = int(rng.integers(0, 6))
    edges = np.cumsum(rng.random(k + 1)) - 1.0
    buckets = np.stack([edges[:-1], edges[1:], rng.integers(0, 9, k).astype(float)], axis=1)
    if odd and k > 1:  # not contiguous, and values of every kind
        buckets[1, 0] = ODD[int(rng.integers(len(ODD)))]
        buckets[0, 1] = ODD[int(rng.integers(len(ODD)))]
    stats = [ODD[int(i)] for i in rng.integers(len(ODD), size=5)] if odd else list(rng.normal(size=5))
    return HistogramRecord(tag, step, 1.7e9 + step * 0.5, buckets, *stats)


def bits(values: object) -> bytes:
    return np.asarray(values, dtype="<f8").tobytes()


def written(commits: list[Commit]) -> dict[tuple[str, str], dict[int, HistogramRecord]]:
    """(run, tag) -> cursor -> record, from the commits' live updates."""
    out: dict[tuple[str, str], dict[int, HistogramRecord]] = {}
    for commit in commits:
        for u in commit.updates:
            if u.kind == "histogram":
                assert len(u.cursors) == len(u.histograms)
                out.setdefault((u.run, u.tag), {}).update(zip(u.cursors, u.histograms))
    return out


def values(numbers: list[float], exact: bool = True) -> object:
    """Bit for bit; or (rows SQLite stored before 0004: a REAL column made -0.0 0) as values."""
    return bits(numbers) if exact else [("nan" if x != x else x) for x in numbers]


def assert_same(points: list[reader.HistogramPoint], want: dict[int, HistogramRecord], exact: bool = True) -> None:
    assert [p.cursor for p in points] == sorted(want)
    for p in points:
        h = want[p.cursor]
        assert p.step == h.step
        assert values([p.wall_time, p.min, p.max, p.num], exact) == values([h.wall_time, h.min, h.max, h.num], exact)
        assert p.buckets.shape == (len(h.buckets), 3)
        assert bits(p.buckets) == bits(np.asarray(h.buckets).reshape(-1, 3))


def chunk_rows(db: Database) -> int:
    return db.read_sync(lambda c: c.execute(select(func.count()).select_from(t.histogram_chunks)).scalar())


def test_a_window_stores_one_chunk_per_tag_and_reads_back_exactly(db: Database) -> None:
    rng = np.random.default_rng(1)
    w = Writer(db)
    tags = ["a", "b/c", "d", "e"]
    window = [histogram(rng, tags[i % 4], i // 4, odd=i % 3 == 0) for i in range(400)]  # interleaved
    commit = w.commit("run", "run/f", window)
    assert chunk_rows(db) == 4  # not 400
    assert commit.points == 400 and sum(len(u.cursors) for u in commit.updates) == 400
    for u in commit.updates:  # each tag's histograms in file order, one contiguous cursor range
        assert [h.step for h in u.histograms] == list(range(100))
        assert list(u.cursors) == list(range(u.cursors[0], u.cursors[0] + 100))
    want = written([commit])
    for tag in tags:
        assert_same(db.read_sync(lambda c, tag=tag: reader.histogram_series(c, "run", tag)), want[("run", tag)])
    # sum and sum_squares too, through the changes since the beginning
    got = db.read_sync(lambda c: changes_between(c, 0))
    for u in got.updates:
        for c, h in zip(u.cursors, u.histograms):
            r = want[("run", u.tag)][c]
            assert bits([h.min, h.max, h.num, h.sum, h.sum_squares]) == bits([r.min, r.max, r.num, r.sum,
                                                                             r.sum_squares])


def test_windows_ranges_changes_and_a_replaced_file(db: Database) -> None:
    rng = np.random.default_rng(2)
    w = Writer(db)
    commits: list[Commit] = []
    step = 0
    for i in range(12):  # backlog windows of two files of one run, and another run
        path = "r/f1" if i % 3 else "r/f0"
        hists = [histogram(rng, f"t{j % 3}", step + j, odd=j % 5 == 0) for j in range(int(rng.integers(1, 40)))]
        step += len(hists)
        commits.append(w.commit("r", path, hists, at_end=False))
        commits.append(w.commit("other", "other/f", [histogram(rng, "t0", i)], at_end=False))
    replaced = [histogram(rng, "t1", 1000 + j, odd=True) for j in range(7)]
    commits.append(w.commit("r", "r/f0", replaced, replace_file=True))  # f0's histograms are gone
    want = written(commits)
    dropped = {c for i, commit in enumerate(commits[:-1]) if i % 2 == 0 and (i // 2) % 3 == 0  # f0 windows
               for u in commit.updates for c in u.cursors}
    for key in want:
        if key[0] == "r":
            for c in dropped:
                want[key].pop(c, None)
    for run, tag in want:
        points = db.read_sync(lambda c, run=run, tag=tag: reader.histogram_series(c, run, tag))
        assert_same(points, want[(run, tag)])
        if len(points) > 4:  # a cursor range cuts chunks
            lo, hi = points[1].cursor, points[-2].cursor
            part = db.read_sync(lambda c, run=run, tag=tag, lo=lo, hi=hi: reader.histogram_series(c, run, tag, lo, hi))
            assert [p.cursor for p in part] == [p.cursor for p in points[2:-1]]
    # the changes between two commits are exactly the histograms those commits added
    for a, b in [(0, 5), (3, 4), (7, 20), (10, 24)]:
        after, until = commits[a].cursor, commits[b].cursor
        got = db.read_sync(lambda c, after=after, until=until: changes_between(c, after, until))
        added = {(u.run, u.tag, c) for commit in commits[a + 1 : b + 1] for u in commit.updates for c in u.cursors}
        live = {(run, tag, c) for (run, tag), by in want.items() for c in by}
        assert {(u.run, u.tag, c) for u in got.updates for c in u.cursors} == added & live
        for u in got.updates:
            assert list(u.cursors) == sorted(u.cursors)
            for c, h in zip(u.cursors, u.histograms):
                r = want[(u.run, u.tag)][c]
                assert h.step == r.step and bits(h.buckets) == bits(r.buckets)
                assert bits([h.sum, h.sum_squares]) == bits([r.sum, r.sum_squares])


def test_live_commits_of_one_histogram_are_merged(db: Database) -> None:
    rng = np.random.default_rng(3)
    w = Writer(db)
    commits = [w.commit("live", "live/f", [histogram(rng, "h", i, odd=i % 7 == 0), histogram(rng, "g", i)])
               for i in range(3 * COMPACT_AFTER + 5)]
    assert chunk_rows(db) < 2 * 10  # 2 tags: a merged chunk each, and the commits since
    want = written(commits)
    for tag in ("h", "g"):
        assert_same(db.read_sync(lambda c, tag=tag: reader.histogram_series(c, "live", tag)), want[("live", tag)])
    mid = commits[COMPACT_AFTER].cursor
    got = db.read_sync(lambda c: changes_between(c, mid, commits[2 * COMPACT_AFTER].cursor))
    assert sum(len(u.cursors) for u in got.updates) == 2 * COMPACT_AFTER


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.tuples(st.sampled_from(ODD), st.sampled_from(ODD), st.sampled_from([0.0, 2.0])),
                         max_size=4), min_size=1, max_size=6))
def test_bucket_rows_pack_and_unpack_bit_for_bit(hists: list) -> None:
    arrays = [np.array(h, dtype="<f8").reshape(-1, 3) for h in hists]
    for contiguous in (False, True):
        if contiguous:  # make every histogram's edges meet (mostly the packed form)
            for a in arrays:
                a[1:, 0] = a[:-1, 1]
        ends = np.cumsum([len(a) for a in arrays])
        rows = np.concatenate(arrays)
        packed = histochunks.pack_rows(rows, ends)
        assert bits(histochunks.unpack_rows(packed, ends)) == bits(rows)
        assert len(packed) <= 1 + rows.nbytes + 8 * len(ends)


def test_a_0003_database_upgrades_with_the_same_histograms(engine: str, tmp_path: Path,
                                                           request: pytest.FixtureRequest) -> None:
    """Histograms written, the database taken back to 0003 (a row per histogram, NaN stored as
    SQLite kept it), then opened: 0004 converts them into chunks that answer the same."""
    pg_url = request.getfixturevalue("pg_url") if engine == "postgresql" else None
    schema = f"tsvis_hcup_{uuid.uuid4().hex[:12]}"
    db = open_db(engine, tmp_path, pg_url, schema)
    rng = np.random.default_rng(4)
    try:
        w = Writer(db)
        commits = [w.commit("r", f"r/f{i % 2}", [histogram(rng, f"t{j % 3}", 10 * i + j, odd=j % 4 == 0)
                                                 for j in range(int(rng.integers(1, 30)))], at_end=False)
                   for i in range(10)]
        commits += [w.commit("live", "live/f", [histogram(rng, "h", i)]) for i in range(COMPACT_AFTER + 3)]
        want = written(commits)
        n = sum(len(v) for v in want.values())
        before = db.read_sync(lambda c: changes_between(c, 0))
        migrate_to(db, "downgrade", "0003")
        assert not db.read_sync(lambda c: inspect(c).has_table("histogram_chunks"))
        assert db.read_sync(lambda c: c.execute(text("SELECT count(*) FROM histograms")).scalar()) == n
    finally:
        db.close()
    again = open_db(engine, tmp_path, pg_url, schema)  # opening migrates to 0004
    try:
        assert not again.read_sync(lambda c: inspect(c).has_table("histograms"))
        assert 0 < chunk_rows(again) < n
        for run, tag in want:
            points = again.read_sync(lambda c, run=run, tag=tag: reader.histogram_series(c, run, tag))
            assert_same(points, want[(run, tag)], exact=engine != "sqlite")
        after = again.read_sync(lambda c: changes_between(c, 0))
        assert [(u.run, u.tag, list(u.cursors)) for u in after.updates if u.kind == "histogram"] == \
            [(u.run, u.tag, list(u.cursors)) for u in before.updates if u.kind == "histogram"]
        more = Writer(again).commit("r", "r/new", [histogram(rng, "t0", 999)])  # and takes new ones
        assert [u.cursors[0] for u in more.updates] == [more.cursor]
    finally:
        again.close()
