"""Read queries over a session database, under `provider.Store` (what consumers call).

Functions take a SQLAlchemy connection (the Store runs them on `Database`'s reader pool) and
return numpy arrays or plain rows; they never touch ingestion. What a view shows of a series
(superseded writes, step range, downsampling) is `select.py`'s, applied by the Store.
Points come back in cursor order, which is file order within a series.
`ScalarSeries.visible()` applies the policy for steps that go back (a resumed job): a point is
superseded by any later-written point at the same or an earlier step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, and_, func, select

from tsvis_live.store import codec, histochunks
from tsvis_live.store import schema as t
from tsvis_live.store.filestate import FileState


class NotFound(LookupError):
    """A run, tag, step or sample that the session does not hold; the message names it."""


@dataclass
class ScalarSeries:
    steps: np.ndarray
    wall_times: np.ndarray
    values: np.ndarray
    cursors: np.ndarray | None  # per point; None when read without them
    newest_cursor: int = 0  # of the whole stored series, also when `cursors` is None

    def __len__(self) -> int:
        return len(self.steps)

    def take(self, index: np.ndarray) -> ScalarSeries:
        cursors = None if self.cursors is None else self.cursors[index]
        return ScalarSeries(self.steps[index], self.wall_times[index], self.values[index], cursors,
                            self.newest_cursor)

    def visible(self) -> ScalarSeries:
        """Drop points superseded by a later write at a step <= theirs (see `visible_index`)."""
        keep = visible_index(self.steps)
        return self if keep is None else self.take(keep)


def visible_index(steps: np.ndarray) -> np.ndarray | None:
    """Positions (in write order) of the points a series view shows, or None for all.

    A write at step `s` supersedes every earlier write at a step >= s: the newest write
    of a repeated step wins, and a resumed job that goes back hides what it overwrote.
    This is TensorBoard's Rust loader (`--load_fast=true`, and `auto` where the data server
    is installed); the Python loader (`--load_fast=false`) keeps every write of a repeated
    step and drops only the points orphaned by a step going back. Requests with
    `all_writes=1` skip this.
    """
    steps = np.asarray(steps)
    n = len(steps)
    if n < 2 or bool(np.all(steps[1:] > steps[:-1])):
        return None
    later_min = np.minimum.accumulate(steps[::-1])[::-1]  # min step from i to the end
    keep = np.empty(n, dtype=bool)
    keep[:-1] = steps[:-1] < later_min[1:]
    keep[-1] = True
    return np.flatnonzero(keep)


@dataclass
class HistogramPoint:
    cursor: int
    step: int
    wall_time: float
    min: float
    max: float
    num: float
    buckets: np.ndarray

    def as_list(self) -> list[Any]:
        return [self.wall_time, self.step, self.min, self.max, self.buckets.tolist()]


def run_id(conn: Connection, run: str) -> int:
    rid = conn.execute(select(t.runs.c.id).where(t.runs.c.name == run)).scalar()
    if rid is None:
        raise NotFound(f"run {run!r} not found")
    return rid


def series_id(conn: Connection, run: str, kind: str, tag: str) -> int:
    sid = conn.execute(
        select(t.series.c.id)
        .join(t.runs, t.runs.c.id == t.series.c.run_id)
        .where(t.runs.c.name == run, t.series.c.kind == kind, t.series.c.tag == tag)
    ).scalar()
    if sid is None:
        run_id(conn, run)  # names the run when it is the run that is missing
        raise NotFound(f"{kind} tag {tag!r} not found in run {run!r}")
    return sid


def list_runs(conn: Connection) -> list[tuple[str, int]]:
    return [(r.name, r.cursor) for r in conn.execute(select(t.runs.c.name, t.runs.c.cursor).order_by(t.runs.c.id))]


def list_series(conn: Connection, since: int | None = None) -> list[tuple[str, str, str, int]]:
    """(run, kind, tag, cursor) of every series, optionally only those that appeared after `since`."""
    q = (
        select(t.runs.c.name, t.series.c.kind, t.series.c.tag, t.series.c.cursor)
        .join(t.runs, t.runs.c.id == t.series.c.run_id)
        .where(t.series.c.kind != "plugin")
        .order_by(t.series.c.cursor)
    )
    if since is not None:
        q = q.where(t.series.c.cursor > since)
    return [tuple(r) for r in conn.execute(q)]


def plugins_of_run(conn: Connection, run: str) -> dict[str, str]:
    q = (
        select(t.series.c.tag, t.series.c.plugin)
        .join(t.runs, t.runs.c.id == t.series.c.run_id)
        .where(t.runs.c.name == run, t.series.c.plugin.is_not(None))
    )
    return {r.tag: r.plugin for r in conn.execute(q)}


def max_cursor(conn: Connection) -> int:
    row = conn.execute(select(t.settings.c.value).where(t.settings.c.key == "cursor")).scalar()
    return int(row) if row else 0


# -- scalars ---------------------------------------------------------------------------
def scalar_series(
    conn: Connection, run: str, tag: str, since: int | None = None, until: int | None = None,
    with_cursors: bool = True, steps: tuple[int | None, int | None] | None = None,
) -> ScalarSeries:
    """Every stored point of a scalar series (cursor > since, <= until), in cursor order.

    `with_cursors=False` (whole series only) skips building the per-point cursor column, which
    views that do not page by cursor never read; `cursors` then holds just the newest cursor.
    `steps=(lo, hi)` reads only the chunks whose step span meets [lo, hi] (None: unbounded),
    whole: the caller cuts (`store.summaries`, for series whose steps only increase).

    Chunks come in last_cursor order, the index's: ORDER BY first_cursor made SQLite copy every
    blob into a temporary b-tree (3x the read's CPU at 5M points). Chunks with contiguous
    cursors never overlap, so both orders agree; chunks that do (merged live chunks of files
    written side by side) are put in cursor order below.
    """
    sid = series_id(conn, run, "scalar", tag)
    q = select(
        t.scalar_chunks.c.first_cursor, t.scalar_chunks.c.last_cursor, t.scalar_chunks.c.count,
        t.scalar_chunks.c.steps,
        t.scalar_chunks.c.wall_times, t.scalar_chunks.c["values"], t.scalar_chunks.c.cursors,
    ).where(t.scalar_chunks.c.series_id == sid)
    if since is not None:
        q = q.where(t.scalar_chunks.c.last_cursor > since)
    if until is not None:
        q = q.where(t.scalar_chunks.c.first_cursor <= until)
    if steps is not None and steps[0] is not None:
        q = q.where(t.scalar_chunks.c.max_step >= steps[0])
    if steps is not None and steps[1] is not None:
        q = q.where(t.scalar_chunks.c.min_step <= steps[1])
    rows = conn.execute(q.order_by(t.scalar_chunks.c.last_cursor)).all()
    if not rows:
        empty_i, empty_f = np.empty(0, "<i8"), np.empty(0, "<f8")
        return ScalarSeries(empty_i, empty_f, empty_f, empty_i if with_cursors else None)
    steps = np.concatenate([codec.unpack_i64(r.steps) for r in rows])
    walls = np.concatenate([codec.unpack_f64(r.wall_times) for r in rows])
    values = np.concatenate([codec.unpack_f64(r.values) for r in rows])
    newest = max(int(r.last_cursor) for r in rows)
    if not with_cursors and since is None and until is None and all(r.cursors is None for r in rows):
        # contiguous per-chunk cursor ranges, disjoint, in last_cursor order: in cursor order
        return ScalarSeries(steps, walls, values, None, newest)
    cursors = np.concatenate([codec.chunk_cursors(r) for r in rows])
    series = ScalarSeries(steps, walls, values, cursors, newest)
    if since is not None or until is not None:
        lo = -1 if since is None else since
        hi = np.iinfo(np.int64).max if until is None else until
        series = series.take(np.flatnonzero((cursors > lo) & (cursors <= hi)))
    if len(series) > 1 and not bool(np.all(series.cursors[1:] > series.cursors[:-1])):
        series = series.take(np.argsort(series.cursors, kind="stable"))
    return series


# -- histograms ------------------------------------------------------------------------
def histogram_series(
    conn: Connection, run: str, tag: str, since: int | None = None, until: int | None = None
) -> list[HistogramPoint]:
    sid = series_id(conn, run, "histogram", tag)
    got = histochunks.read(conn, since, until, sid)
    cursors, steps, walls = got.cursors.tolist(), got.steps.tolist(), got.wall_times.tolist()
    return [HistogramPoint(c, s, w, lo, hi, num, b)
            for c, s, w, (lo, hi, num), b in zip(cursors, steps, walls, got.stats[:, :3].tolist(), got.buckets)]


def visible_histograms(points: list[HistogramPoint]) -> list[HistogramPoint]:
    """The histograms a series view shows (the rule of `visible_index`), in write order."""
    keep = visible_index(np.fromiter((p.step for p in points), dtype=np.int64, count=len(points)))
    return points if keep is None else [points[i] for i in keep.tolist()]


# -- media -----------------------------------------------------------------------------
@dataclass
class MediaEntry:
    step: int
    wall_time: float
    index: int
    meta: dict[str, Any]
    mime: str
    size: int
    cursor: int
    digest: bytes = b""


def media_list(
    conn: Connection, run: str, kind: str, tag: str, offset: int = 0, limit: int | None = None
) -> tuple[int, list[MediaEntry]]:
    sid = series_id(conn, run, kind, tag)
    m = t.media.c
    total = conn.execute(select(func.count()).where(m.series_id == sid)).scalar_one()
    q = (
        select(m.step, m.wall_time, m.idx, m.meta, m.cursor, t.blobs.c.mime, t.blobs.c.size, t.blobs.c.digest)
        .join(t.blobs, t.blobs.c.id == m.blob_id)
        .where(m.series_id == sid)
        .order_by(m.step, m.idx, m.cursor)
        .offset(offset)
        .limit(limit)
    )
    entries = [
        MediaEntry(r.step, r.wall_time, r.idx, r.meta, r.mime, r.size, r.cursor, r.digest)
        for r in conn.execute(q)
    ]
    return total, entries


def media_blob(conn: Connection, run: str, kind: str, tag: str, step: int, index: int = 0) -> tuple[bytes, str, bytes]:
    """(data, mime, digest) of one sample; the newest write wins when a step was logged twice."""
    sid = series_id(conn, run, kind, tag)
    m = t.media.c
    row = conn.execute(
        select(t.blobs.c.data, t.blobs.c.mime, t.blobs.c.digest)
        .join(t.blobs, t.blobs.c.id == m.blob_id)
        .where(and_(m.series_id == sid, m.step == step, m.idx == index))
        .order_by(m.cursor.desc())
        .limit(1)
    ).first()
    if row is None:
        raise NotFound(f"no {kind} at step {step} index {index} for tag {tag!r} in run {run!r}")
    return row.data, row.mime, row.digest


# -- tensors (embeddings, exceptions, PR curves) ---------------------------------------
@dataclass
class TensorEntry:
    step: int
    wall_time: float
    cursor: int
    meta: dict[str, Any]
    blob_id: int
    extras: dict[str, int]


def tensor_entries(conn: Connection, run: str, kind: str, tag: str) -> list[TensorEntry]:
    sid = series_id(conn, run, kind, tag)
    c = t.tensors.c
    q = select(c.step, c.wall_time, c.cursor, c.meta, c.blob_id, c.extras).where(c.series_id == sid)
    return [
        TensorEntry(r.step, r.wall_time, r.cursor, r.meta, r.blob_id, r.extras)
        for r in conn.execute(q.order_by(c.step, c.cursor))
    ]


def tensor_at(conn: Connection, run: str, kind: str, tag: str, step: int | None = None) -> tuple[TensorEntry, np.ndarray]:
    """The tensor at `step` (the newest write of it), or the last one when step is None."""
    entries = tensor_entries(conn, run, kind, tag)
    if step is not None:
        entries = [e for e in entries if e.step == step]
    if not entries:
        raise NotFound(f"no {kind} at step {step} for tag {tag!r} in run {run!r}")
    entry = max(entries, key=lambda e: (e.step, e.cursor))
    return entry, load_array(conn, entry.blob_id)


def load_array(conn: Connection, blob_id: int) -> np.ndarray:
    data = conn.execute(select(t.blobs.c.data).where(t.blobs.c.id == blob_id)).scalar_one()
    return codec.unpack_array(data)


# -- run-level records -----------------------------------------------------------------
def graphs(conn: Connection, run: str) -> list[tuple[str, str, bytes]]:
    """(kind, tag, data) of every graph record of a run, newest last."""
    rid = run_id(conn, run)
    g = t.graphs.c
    q = (
        select(g.kind, g.tag, t.blobs.c.data)
        .join(t.blobs, t.blobs.c.id == g.blob_id)
        .where(g.run_id == rid)
        .order_by(g.cursor)
    )
    return [(r.kind, r.tag, r.data) for r in conn.execute(q)]


def hparams(conn: Connection, run: str | None = None) -> list[dict[str, Any]]:
    h = t.hparams.c
    q = select(t.runs.c.name, h.group_name, h.hparams, h.metrics, h.start_time).join(
        t.runs, t.runs.c.id == h.run_id
    )
    if run is not None:
        q = q.where(h.run_id == run_id(conn, run))
    return [
        {"run": r.name, "group_name": r.group_name, "hparams": r.hparams,
         "metrics": r.metrics, "start_time": r.start_time}
        for r in conn.execute(q.order_by(h.cursor))
    ]


def layouts(conn: Connection) -> list[dict[str, Any]]:
    return list(conn.execute(select(t.layouts.c.layout).order_by(t.layouts.c.cursor)).scalars())


# -- files and the computed cache ------------------------------------------------------
def files(conn: Connection) -> list[dict[str, Any]]:
    f = t.files.c
    q = select(t.runs.c.name.label("run"), f.path, f.format, f.offset, f.size, f.status, f.error,
               f.events, f.skipped).join(t.runs, t.runs.c.id == f.run_id).order_by(f.path)
    return [dict(r._mapping) for r in conn.execute(q)]


def file_states(conn: Connection) -> tuple[dict[str, FileState], dict[str, dict[str, str]]]:
    """What an ingester resumes from: every file's state by path, and each run's tag -> plugin."""
    states = {}
    for row in conn.execute(select(t.files, t.runs.c.name.label("run")).join(t.runs, t.runs.c.id == t.files.c.run_id)):
        m = row._mapping
        states[m["path"]] = FileState(**{k: m[k] for k in FileState.__dataclass_fields__})
    plugins: dict[str, dict[str, str]] = {}
    q = select(t.runs.c.name, t.series.c.tag, t.series.c.plugin).join(t.runs, t.runs.c.id == t.series.c.run_id)
    for run, tag, plugin in conn.execute(q.where(t.series.c.plugin.is_not(None))):
        plugins.setdefault(run, {})[tag] = plugin
    return states, plugins


def computed_get(conn: Connection, key: str) -> bytes | None:
    return conn.execute(select(t.computed.c.value).where(t.computed.c.key == key)).scalar()


@dataclass
class RunRecords:
    """Which per-run records each run holds (what getCategory shows beside its tags)."""

    graph_kinds: dict[str, set[str]]  # run -> graphdef | run_metadata | json_model ...
    with_hparams: set[str]
    with_layouts: set[str]


def run_records(conn: Connection) -> RunRecords:
    graph_kinds: dict[str, set[str]] = {}
    q = select(t.runs.c.name, t.graphs.c.kind).join(t.runs, t.runs.c.id == t.graphs.c.run_id).distinct()
    for run, kind in conn.execute(q):
        graph_kinds.setdefault(run, set()).add(kind)
    with_hparams = set(conn.execute(
        select(t.runs.c.name).join(t.hparams, t.hparams.c.run_id == t.runs.c.id).distinct()).scalars())
    with_layouts = set(conn.execute(
        select(t.runs.c.name).join(t.layouts, t.layouts.c.run_id == t.runs.c.id).distinct()).scalars())
    return RunRecords(graph_kinds, with_hparams, with_layouts)


def embeddings_with_vectors(conn: Connection) -> set[tuple[str, str]]:
    """(run, tag) of embedding series holding at least one embedding, not only samples
    (TS-VIS `add_embedding_sample` before any `add_embedding`)."""
    q = (select(t.runs.c.name, t.series.c.tag, t.tensors.c.meta)
         .join(t.series, t.series.c.run_id == t.runs.c.id)
         .join(t.tensors, t.tensors.c.series_id == t.series.c.id)
         .where(t.series.c.kind == "embedding"))  # a handful of rows: filtered here, on any engine
    return {(run, tag) for run, tag, meta in conn.execute(q) if meta.get("sample_only") is None}
