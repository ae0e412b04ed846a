"""The writer gathers a window's new series, plugin rows and blobs and writes each table once.

Batching must not change what is stored: the same records committed as one window or one
record per window (where every statement writes one row) leave the same rows, ids and cursors.
A transaction that fails halfway through a batched window leaves nothing behind, in the file
or in the writer's caches. Real SQLite files throughout.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from tests.test_store_faults import FailingCommits
from tsvis_live.records import (
    Batch,
    BlobRecord,
    GraphRecord,
    HistogramRecord,
    HparamsRecord,
    TensorRecord,
)
from tsvis_live.store import histochunks, reader
from tsvis_live.store import schema as t
from tsvis_live.store.database import Database
from tsvis_live.store.filestate import FileState
from tsvis_live.store.writer import Commit, StoreWriter

PNG = b"\x89PNG\r\n\x1a\n" + b"pixels"


@pytest.fixture
def db(tmp_path: Path):
    database = Database(tmp_path / "session.sqlite")
    yield database
    database.close()


def rich_batch(seed: int, tags: list[str], tag_plugins: bool = True) -> Batch:
    """Every kind of record, several new series of each, plugins and shared blob content."""
    rng = np.random.default_rng(seed)
    b = Batch()
    for tag in tags:
        for step in range(4):
            b.scalar(tag, step, 1000.0 + step, float("nan") if step == 2 else float(rng.normal()))
        if tag_plugins:
            b.plugins[tag] = "scalars"
    b.plugins["declared_only"] = "custom_scalars"  # plugin rows for tags without points
    b.plugins["also_declared"] = "text"
    for i in range(4):
        b.histograms.append(HistogramRecord(
            f"hist{i % 2}", i, 5.0 + i, np.array([[0.0, 1.0, 2.0], [1.0, 2.0, 3.0]]), float("nan"), 2.0, 5.0,
            float("nan"), 7.0))
    b.blobs.append(BlobRecord("image", "img", 0, 5.0, 0, PNG, {"width": 1}))
    b.blobs.append(BlobRecord("image", "img", 0, 5.0, 1, PNG, {"width": 1}))  # same content
    b.blobs.append(BlobRecord("text", "note", 1, 6.0, 0, f'["run {seed}"]'.encode(), {"shape": [1]}))
    b.tensors.append(TensorRecord("embedding", "emb", 0, 7.0, np.arange(6.0).reshape(2, 3) + seed,
                                  {"labels": np.array(["a", "b"])}, {"sample_type": "text"}))
    b.tensors.append(TensorRecord("pr_curve", "pr", 1, 8.0, np.ones((6, 3))))
    b.graphs.append(GraphRecord("graphdef", "g", b"graph %d" % seed))
    b.graphs.append(GraphRecord("run_metadata", "step1", PNG))  # shares the image's blob
    b.hparams.append(HparamsRecord("grp", {"lr": 0.1 * seed}, {"acc": float("nan")}, float("nan")))
    b.layouts.append({"category": [seed]})
    return b


def one_record_per_window(b: Batch) -> list[Batch]:
    """The same records split so that each window holds one record (one row per statement),
    in the order a window hands out cursors (histograms tag by tag); the plugins go with the
    last window (the batched writer adds a window's plugin rows last)."""
    parts: list[Batch] = []
    for tag, cols in b.scalars.items():
        for step, wall, value in zip(cols.steps, cols.wall_times, cols.values):
            part = Batch()
            part.scalar(tag, step, wall, value)
            parts.append(part)
    by_tag: dict[str, list[HistogramRecord]] = {}  # the writer takes a window's histograms tag by tag
    for h in b.histograms:
        by_tag.setdefault(h.tag, []).append(h)
    for h in [h for hists in by_tag.values() for h in hists]:
        part = Batch()
        part.histograms.append(h)
        parts.append(part)
    for name in ("blobs", "tensors", "graphs", "hparams", "layouts"):
        for rec in getattr(b, name):
            part = Batch()
            getattr(part, name).append(rec)
            parts.append(part)
    parts[-1].plugins = dict(b.plugins)
    return parts


class Session:
    """A writer on a real database, committing windows of named files."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.writer = StoreWriter()
        db.on_rollback(lambda _exc: self.writer.invalidate())
        self.states: dict[str, FileState] = {}

    def commit(self, run: str, batch: Batch, path: str | None = None) -> Commit:
        """Commit a window; like the ingester, keep the file's new state only once stored."""
        path = path or f"{run}/events"
        state = replace(self.states.get(path) or FileState(path=path, run=run, format="events"))
        state.offset += 100
        commit = self.db.write_sync(lambda conn: self.writer.commit(conn, state, batch))
        self.states[path] = state
        return commit


def dump(db: Database) -> dict[str, object]:
    """Every stored row that does not depend on how points were grouped into windows."""
    def read(conn):
        out: dict[str, object] = {}
        for table in t.metadata.sorted_tables:
            if table.name in ("files", "scalar_chunks", "scalar_summaries", "histogram_chunks", "computed"):
                continue
            out[table.name] = [tuple(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns))]
        out["scalars"] = {
            (run, tag): [a.tolist() for a in (s.steps, s.wall_times, s.values, s.cursors)]
            for run, kind, tag, _c in reader.list_series(conn) if kind == "scalar"
            for s in [reader.scalar_series(conn, run, tag)]
        }
        got = histochunks.read(conn)
        out["histograms"] = list(zip(got.series_ids.tolist(), got.cursors.tolist(), got.steps.tolist(),
                                     got.wall_times.tolist(), got.stats.tolist(), [b.tolist() for b in got.buckets]))
        return out
    return db.read_sync(read)


def same(a: object, b: object) -> bool:
    """Equality where NaN equals NaN (stored as the text 'NaN' or read back as a float)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def categories(commits: list[Commit]) -> list[tuple]:
    return [(c.run, c.kind, c.tag, c.cursor) for commit in commits for c in commit.categories]


def test_one_window_stores_exactly_what_one_record_per_window_stores(tmp_path: Path) -> None:
    results = []
    for name, split in (("batched", lambda b: [b]), ("single", one_record_per_window)):
        db = Database(tmp_path / f"{name}.sqlite")
        try:
            s = Session(db)
            commits = [s.commit(f"run{r}", part) for r in range(4)
                       for part in split(rich_batch(r, [f"tag{j}" for j in range(12)], tag_plugins=False))]
            results.append((dump(db), categories(commits), commits[-1].cursor))
        finally:
            db.close()
    (batched, cats_b, cursor_b), (single, cats_s, cursor_s) = results
    assert cats_b == cats_s and cursor_b == cursor_s
    assert batched.keys() == single.keys()
    for key in batched:
        assert same(batched[key], single[key]), key
    # a run: 12 scalar, 2 histogram, 2 media, 2 tensor, 2 graph, hparams, layout, 2 plugin rows
    assert len(batched["series"]) == 4 * (12 + 2 + 2 + 2 + 2 + 1 + 1 + 2)
    assert len(batched["blobs"]) == 3 + 4 * 3  # the PNG, labels and PR curve once for all runs


def test_many_runs_and_tags_get_unique_increasing_cursors_and_right_categories(db: Database) -> None:
    s = Session(db)
    commits = [s.commit(f"run{r:03d}", rich_batch(r, [f"group{j % 3}/tag{j}" for j in range(40)]))
               for r in range(25)]
    commits.append(s.commit("run000", rich_batch(99, ["tag_new", "group0/tag0"]), path="run000/events.2"))

    cats = categories(commits)
    assert [c[3] for c in cats] == sorted({c[3] for c in cats})  # unique, increasing in commit order
    point_cursors = [c for commit in commits for u in commit.updates for c in u.cursors]
    assert len(set(point_cursors)) == len(point_cursors) and not set(point_cursors) & {c[3] for c in cats}
    newest = 0
    for commit in commits:  # each commit's cursors lie above every earlier commit's
        mine = [c.cursor for c in commit.categories] + [c for u in commit.updates for c in u.cursors]
        assert min(mine) > newest and max(mine) <= commit.cursor
        newest = commit.cursor
    assert db.read_sync(reader.max_cursor) == newest

    runs = db.read_sync(reader.list_runs)
    assert runs == [(r, c) for r, kind, _tag, c in cats if kind == "run"]
    stored = db.read_sync(reader.list_series)
    assert sorted(stored, key=lambda x: x[3]) == [c for c in cats if c[1] != "run"]
    assert len(stored) == 25 * (40 + 2 + 2 + 2 + 2 + 1 + 1) + 1  # + tag_new; group0/tag0 existed

    plugins = db.read_sync(lambda c: reader.plugins_of_run(c, "run007"))
    assert plugins["declared_only"] == "custom_scalars" and plugins["group1/tag1"] == "scalars"
    series = db.read_sync(lambda c: reader.scalar_series(c, "run000", "group0/tag0"))
    assert series.steps.tolist() == [0, 1, 2, 3, 0, 1, 2, 3]
    assert math.isnan(series.values[2]) and math.isnan(series.values[6])
    hist = db.read_sync(lambda c: reader.histogram_series(c, "run024", "hist1"))
    assert [h.step for h in hist] == [1, 3] and math.isnan(hist[0].min)
    entry, arr = db.read_sync(lambda c: reader.tensor_at(c, "run011", "embedding", "emb"))
    assert arr.tolist() == (np.arange(6.0).reshape(2, 3) + 11).tolist()
    labels = db.read_sync(lambda c: reader.load_array(c, entry.extras["labels"]))
    assert labels.tolist() == ["a", "b"]
    data, mime, _ = db.read_sync(lambda c: reader.media_blob(c, "run003", "text", "note", 1))
    assert data == b'["run 3"]' and mime == "application/json"
    assert db.read_sync(lambda c: reader.graphs(c, "run005")) == [
        ("graphdef", "g", b"graph 5"), ("run_metadata", "step1", PNG)]


class FailingStatements:
    """Fails the next statement that starts with `prefix`, as a full disk would mid-window."""

    def __init__(self, db: Database) -> None:
        self.prefix: str | None = None
        event.listen(db.engine, "before_cursor_execute", self._check)

    def _check(self, _conn, _cursor, statement: str, *_args) -> None:
        if self.prefix and statement.lstrip().upper().startswith(self.prefix):
            self.prefix = None
            raise sqlite3.OperationalError("database or disk is full")


@pytest.mark.parametrize("where", ["INSERT INTO MEDIA", "INSERT INTO GRAPHS", "COMMIT"])
def test_failed_batched_window_leaves_nothing_behind(tmp_path: Path, where: str) -> None:
    """New series and plugin rows were written (and cached) before the failure; none of it may
    survive in the file or in the caches, or the retry would file points under ids of rows that
    were rolled back, or hand out their cursors twice."""
    clean, faulty = Database(tmp_path / "clean.sqlite"), Database(tmp_path / "faulty.sqlite")
    try:
        expected, got = Session(clean), Session(faulty)
        statements, commits = FailingStatements(faulty), FailingCommits(faulty)
        windows = [("a", rich_batch(1, ["loss"])), ("a", rich_batch(2, [f"t{j}" for j in range(30)])),
                   ("b", rich_batch(3, [f"t{j}" for j in range(30)])), ("a", rich_batch(4, ["late"]))]
        want = [expected.commit(run, batch, f"{run}/{i}") for i, (run, batch) in enumerate(windows)]

        got.commit(*windows[0][:2], "a/0")
        if where == "COMMIT":
            commits.remaining = 1
        else:
            statements.prefix = where
        with pytest.raises((sqlite3.OperationalError, OperationalError), match="disk is full"):
            got.commit("a", windows[1][1], "a/1")
        assert "a/1" not in got.states
        assert faulty.read_sync(lambda c: reader.series_id(c, "a", "scalar", "loss")) > 0
        with pytest.raises(reader.NotFound):
            faulty.read_sync(lambda c: reader.series_id(c, "a", "scalar", "t0"))
        retried = [got.commit(run, batch, f"{run}/{i}") for i, (run, batch) in enumerate(windows) if i]
        assert categories(retried) == categories(want[1:])  # rolled-back cursors are handed out again
        a, b = dump(clean), dump(faulty)
    finally:
        clean.close()
        faulty.close()
    assert a.keys() == b.keys()
    for key in a:
        assert same(a[key], b[key]), key


# -- histograms are written as columns (StoreWriter._histogram_rows) -------------------------
_STATS = st.sampled_from([0.0, 1.5, -2.0, math.inf, -math.inf, math.nan])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(known=st.lists(st.sampled_from("abcd"), max_size=3, unique=True),
       records=st.lists(st.tuples(st.sampled_from("abcde"), _STATS, _STATS, st.integers(0, 3)), min_size=1,
                        max_size=25))
def test_histogram_columns_store_what_one_record_per_window_stores(tmp_path: Path, known, records) -> None:
    """Any interleaving of tags, some with a series already, NaN and infinite statistics, any
    bucket count: the same rows, cursors, series ids, categories and live updates as one
    histogram per window."""
    first = Batch()
    for i, tag in enumerate(known):  # series that exist before the window
        first.histograms.append(HistogramRecord(tag, -1 - i, 1.0, np.array([[0.0, 1.0, 1.0]]), 0.0, 1.0, 1.0,
                                                1.0, 1.0))
    window = Batch()
    for i, (tag, lo, total, k) in enumerate(records):
        edges = np.arange(k + 1, dtype=np.float64) * (1 + i)
        buckets = np.stack([edges[:-1], edges[1:], np.full(k, float(i))], axis=1) if k else np.zeros((0, 3))
        if k == 3:
            buckets[1, 0] += 0.5  # not contiguous: stored raw
        window.histograms.append(HistogramRecord(tag, i, 100.0 + i, buckets, lo, 2.0, float(k), total, lo))
    results = []
    for name, split in (("batched", lambda b: [b]), ("single", one_record_per_window)):
        path = tmp_path / f"{name}-{len(list(tmp_path.iterdir()))}.sqlite"
        db = Database(path)
        try:
            s = Session(db)
            commits = [s.commit("run", part) for part in ([first] if known else []) + split(window)]
            updates = [(u.tag, c, h.step) for commit in commits for u in commit.updates
                       for c, h in zip(u.cursors, u.histograms)]
            results.append((dump(db), categories(commits), commits[-1].cursor, sorted(updates),
                            sum(c.points for c in commits)))
        finally:
            db.close()
    (batched, *rest_b), (single, *rest_s) = results
    assert rest_b == rest_s
    assert batched.keys() == single.keys()
    for key in batched:
        assert same(batched[key], single[key]), key
