"""Commit batches: points, new runs and tags, and the file's offset, in one transaction.

`StoreWriter` lives on the database's writer thread. Because a file's new offset is written in
the same transaction as the points read up to it, a crash at any moment either keeps both or
neither: nothing is lost and nothing is stored twice. Each commit returns what it added, so the
hub can push exactly those points to live clients.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection, delete, insert, select

from tsvis_live.records import Batch, HistogramRecord, ScalarColumns
from tsvis_live.store import codec, histochunks, statements, summaries
from tsvis_live.store import schema as t
from tsvis_live.store.filestate import FileState
from tsvis_live.store.schema import storable

# getCategory section that a series kind belongs to (what a `category` message names)
SECTION = {
    "scalar": "scalar",
    "histogram": "statistic",
    "image": "media",
    "audio": "media",
    "text": "media",
    "embedding": "embedding",
    "exception": "exception",
    "pr_curve": "roc",
    "graph": "graph",
    "hparams": "hyperparm",
    "layout": "custom",
}


@dataclass
class SeriesUpdate:
    """New points of one series from one commit. Points are formatted only when asked for,
    so a bulk ingest with nobody listening pays nothing for them, and only once however many
    clients follow the series (`memo` also holds the live layer's encoded messages)."""

    kind: str
    run: str
    tag: str
    cursors: Sequence[int]
    scalars: ScalarColumns | None = None
    histograms: list[HistogramRecord] = field(default_factory=list)
    memo: dict[str, Any] = field(default_factory=dict, repr=False)

    def points(self) -> list[list[Any]]:
        if "points" not in self.memo:
            self.memo["points"] = self._format()
        return self.memo["points"]

    def _format(self) -> list[list[Any]]:
        if self.scalars is not None:
            c = self.scalars
            walls, steps, values = (np.asarray(a).tolist() for a in (c.wall_times, c.steps, c.values))
            return [list(p) for p in zip(walls, steps, values)]
        return [
            [h.wall_time, h.step, h.min, h.max, np.asarray(h.buckets).tolist()] for h in self.histograms
        ]


@dataclass
class CategoryUpdate:
    run: str
    kind: str  # a series kind, "run" for a new run
    tag: str | None
    cursor: int


@dataclass
class Commit:
    updates: list[SeriesUpdate] = field(default_factory=list)
    categories: list[CategoryUpdate] = field(default_factory=list)
    cursor: int = 0  # the session's newest cursor after this commit
    points: int = 0
    base: int = 0  # the session's newest cursor before it: (base, cursor] is what it holds


_FILE_FIELDS = [c.name for c in t.files.columns if c.name not in ("id", "run_id")]  # FileState's names


def _file_row(state: FileState) -> dict[str, Any]:
    return {name: getattr(state, name) for name in _FILE_FIELDS}


def _sql(conn: Connection) -> statements.Statements:
    return statements.for_dialect(conn.dialect)


SMALL_CHUNK = 4096  # points; live tailing commits chunks of a few points each
COMPACT_AFTER = 64  # small chunks of one series and file before they are merged into one
# Only windows that end at the end of their file count towards a merge: that is where a live run
# adds a few points per commit. A backlog window stops short of the end, and its chunks are as
# big as the window allows: with many tags a file's 1 MB windows hold a few hundred points per
# tag, and merging every 64 of them rewrote ~30 MB of chunks in one transaction that held the
# writer ~0.5 s (a live point waited behind it) and stored each point's cursor again.


@dataclass
class _Window:
    """What one commit adds, gathered before anything is written so each table takes one
    statement. Cursors and series ids are handed out while gathering, in the order the
    records come, so they are the ones a statement-per-row writer would have given."""

    run: str
    run_id: int
    file_id: int
    commit: Commit
    plugins: dict[str, str]
    at_end: bool = True  # the window ends where the file does (see COMPACT_AFTER)
    series: list[dict[str, Any]] = field(default_factory=list)  # new series rows
    blobs: list[tuple[bytes, str | None]] = field(default_factory=list)  # (data, mime) in order

    def blob(self, data: bytes, mime: str | None = None) -> int:
        """Queue a blob; returns its place in the window (its id is known after `_blob_ids`)."""
        self.blobs.append((data, mime))
        return len(self.blobs) - 1


class StoreWriter:
    """Caches ids and the cursor counter; used only on the writer thread."""

    def __init__(self) -> None:
        self._small: dict[tuple[int, int], int] = {}  # (series, file) -> small chunks added
        self._loaded = False
        self.runs: dict[str, int] = {}
        self.series: dict[tuple[int, str, str], int] = {}
        self.cursor = 0
        self._next_series = 1  # the id the next new series row gets (only this writer adds any)
        self._dialect = "sqlite"  # cache keys are names as the engine stores them (schema.storable)

    def _load(self, conn: Connection) -> None:
        self._dialect = conn.dialect.name
        self.runs = {r.name: r.id for r in conn.execute(select(t.runs.c.name, t.runs.c.id))}
        rows = conn.execute(select(t.series.c.run_id, t.series.c.kind, t.series.c.tag, t.series.c.id)).all()
        self.series = {(r.run_id, r.kind, r.tag): r.id for r in rows}
        self._next_series = max((r.id for r in rows), default=0) + 1
        row = conn.execute(select(t.settings.c.value).where(t.settings.c.key == "cursor")).first()
        self.cursor = int(row[0]) if row else 0
        self._loaded = True

    def invalidate(self) -> None:
        """Forget the caches (after a rolled-back transaction they may be ahead of the file):
        run and series ids, the next series id and the cursor are all reloaded."""
        self._loaded = False

    def _ensure_loaded(self, conn: Connection) -> None:
        if not self._loaded:
            self._load(conn)

    # -- small helpers -------------------------------------------------------------------
    def _take(self, n: int) -> int:
        """Allocate n cursors; returns the first."""
        first = self.cursor + 1
        self.cursor += n
        return first

    def _run_id(self, conn: Connection, name: str, commit: Commit) -> int:
        run_id = self.runs.get(storable(name, self._dialect))
        if run_id is None:
            cursor = self._take(1)
            run_id = conn.execute(_sql(conn).INSERT_RUN, {"name": name, "cursor": cursor}).inserted_primary_key[0]
            self.runs[storable(name, self._dialect)] = run_id
            commit.categories.append(CategoryUpdate(name, "run", None, cursor))
        return run_id

    def _series_id(self, win: _Window, kind: str, tag: str) -> int:
        """The series' id; a new one gets the next id and cursor now, its row is written with
        the window's other new series (`_flush_series`)."""
        key = (win.run_id, kind, storable(tag, self._dialect))
        sid = self.series.get(key)
        if sid is None:
            sid, cursor = self._next_series, self._take(1)
            self._next_series += 1
            win.series.append({"id": sid, "run_id": win.run_id, "kind": kind, "tag": tag,
                               "plugin": win.plugins.get(tag), "cursor": cursor})
            self.series[key] = sid
            win.commit.categories.append(CategoryUpdate(win.run, kind, tag, cursor))
        return sid

    def _flush_series(self, conn: Connection, win: _Window) -> None:
        """Write the window's new series, then the plugins of tags not seen before (kept even
        before a tag has points, so a resumed read can decode it)."""
        if win.series:
            _sql(conn).INSERT_SERIES(conn, win.series)
        plugin_rows = []
        for tag, plugin in win.plugins.items():
            key = (win.run_id, "plugin", storable(tag, self._dialect))
            if key not in self.series:
                self.series[key] = self._next_series
                plugin_rows.append({"id": self._next_series, "run_id": win.run_id, "kind": "plugin",
                                    "tag": tag, "plugin": plugin, "cursor": self.cursor})
                self._next_series += 1
        if plugin_rows:
            _sql(conn).INSERT_PLUGIN(conn, plugin_rows)

    @staticmethod
    def _blob_ids(conn: Connection, blobs: list[tuple[bytes, str | None]]) -> list[int]:
        """Store the window's blobs (each distinct content once, first come first numbered) and
        return their ids, in order: one insert and one lookup per window, not two per blob."""
        if not blobs:
            return []
        digests = [hashlib.sha256(data).digest() for data, _mime in blobs]
        rows, seen = [], set()
        for digest, (data, mime) in zip(digests, blobs):
            if digest not in seen:
                seen.add(digest)
                rows.append({"digest": digest, "mime": mime or codec.sniff_mime(data), "size": len(data),
                             "data": data})
        conn.execute(_sql(conn).INSERT_BLOB, rows)
        unique = [r["digest"] for r in rows]
        ids: dict[bytes, int] = {}
        for i in range(0, len(unique), statements.IN_LIMIT):
            for digest, blob_id in conn.execute(_sql(conn).BLOB_IDS, {"digests": unique[i : i + statements.IN_LIMIT]}):
                ids[digest] = blob_id
        return [ids[d] for d in digests]

    # -- files ---------------------------------------------------------------------------
    @staticmethod
    def file_state(conn: Connection, path: str) -> FileState | None:
        row = conn.execute(
            select(t.files, t.runs.c.name.label("run"))
            .join(t.runs, t.runs.c.id == t.files.c.run_id)
            .where(t.files.c.path == path)
        ).first()
        if row is None:
            return None
        m = row._mapping
        return FileState(**{k: m[k] for k in FileState.__dataclass_fields__})

    def forget_points(self, conn: Connection, file_id: int) -> None:
        """Drop every point a file contributed (it was replaced or shrank and is re-read)."""
        for table in t.POINT_TABLES:
            conn.execute(delete(table).where(table.c.file_id == file_id))

    def save_file(self, conn: Connection, state: FileState, commit: Commit) -> None:
        run_id = self._run_id(conn, state.run, commit)
        row = _file_row(state) | {"run_id": run_id}
        if state.id is None:
            state.id = conn.execute(_sql(conn).INSERT_FILE, row).inserted_primary_key[0]
        else:
            conn.execute(_sql(conn).UPDATE_FILE, row | {"file_row_id": state.id})

    # -- the commit ----------------------------------------------------------------------
    def commit(self, conn: Connection, state: FileState, batch: Batch, replace: bool = False) -> Commit:
        """Store `batch` as read from `state.path` up to `state.offset`, atomically."""
        self._ensure_loaded(conn)
        try:
            commit = Commit(base=self.cursor)
            self.save_file(conn, state, commit)
            if replace:
                self.forget_points(conn, state.id)
            win = _Window(state.run, self.runs[storable(state.run, self._dialect)], state.id, commit, batch.plugins,
                          at_end=state.offset >= state.size)
            self._store_points(conn, win, batch)
            conn.execute(_sql(conn).SAVE_SETTING, {"key": "cursor", "value": str(self.cursor)})
            commit.cursor = self.cursor
            return commit
        except BaseException:
            self.invalidate()
            raise

    def _store_points(self, conn: Connection, win: _Window, batch: Batch) -> None:
        """Gather every row of the window (ids and cursors in record order), then write each
        table once. Rows with a blob hold its place in the window until the blobs are stored."""
        chunks, summary_rows = self._scalar_rows(win, batch)
        hist_chunks, n_hists = self._histogram_rows(win, batch)
        rows: dict[str, list[dict[str, Any]]] = {"media": [], "tensors": []}
        for b in batch.blobs:
            rows["media"].append({
                "cursor": self._take(1), "series_id": self._series_id(win, b.kind, b.tag), "file_id": win.file_id,
                "step": b.step, "wall_time": b.wall_time, "idx": b.index, "meta": b.meta,
                "blob_id": win.blob(b.data, "application/json" if b.kind == "text" else None)})
        for rec in batch.tensors:
            extras = {name: win.blob(codec.pack_array(a)) for name, a in rec.extras.items()}
            rows["tensors"].append({
                "cursor": self._take(1), "series_id": self._series_id(win, rec.kind, rec.tag),
                "file_id": win.file_id, "step": rec.step, "wall_time": rec.wall_time,
                "blob_id": win.blob(codec.pack_array(rec.value)), "extras": extras, "meta": rec.meta})
        rows |= self._run_record_rows(win, batch)
        self._flush_series(conn, win)

        if chunks:
            _sql(conn).INSERT_CHUNKS(conn, chunks)
            _sql(conn).INSERT_SUMMARIES(conn, summary_rows)  # in the chunks' transaction
            for chunk in chunks:
                if chunk["count"] < SMALL_CHUNK and win.at_end:
                    self._note_small_chunk(conn, chunk["series_id"], win.file_id, compact_scalars)
        if hist_chunks:
            _sql(conn).INSERT_HISTOGRAMS(conn, hist_chunks)
            for chunk in hist_chunks:
                if chunk["count"] < histochunks.SMALL and win.at_end:
                    self._note_small_chunk(conn, chunk["series_id"], win.file_id, histochunks.compact)
        blob_ids = self._blob_ids(conn, win.blobs)
        for row in rows["media"] + rows["tensors"] + rows["graphs"]:
            row["blob_id"] = blob_ids[row["blob_id"]]
        for row in rows["tensors"]:
            row["extras"] = {name: blob_ids[i] for name, i in row["extras"].items()}
        for name, table_rows in rows.items():
            if table_rows:
                conn.execute(_sql(conn).INSERT_ROWS[name], table_rows)
        win.commit.points += n_hists + len(rows["media"]) + len(rows["tensors"])

    def _scalar_rows(self, win: _Window, batch: Batch) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Chunk rows of the window's scalars, and their summary rows (`store.summaries`)."""
        chunks, steps, walls, values = [], [], [], []
        for tag, cols in batch.scalars.items():
            n = len(cols.steps)
            if not n:
                continue
            series_id = self._series_id(win, "scalar", tag)
            first = self._take(n)
            steps.append(np.asarray(cols.steps, dtype="<i8"))
            walls.append(np.asarray(cols.wall_times, dtype="<f8"))
            values.append(np.asarray(cols.values, dtype="<f8"))
            chunks.append({
                "series_id": series_id, "file_id": win.file_id, "first_cursor": first,
                "last_cursor": first + n - 1, "count": n, "steps": steps[-1].tobytes(),
                "wall_times": walls[-1].tobytes(), "values": values[-1].tobytes(), "cursors": None,
            })
            win.commit.updates.append(SeriesUpdate("scalar", win.run, tag, range(first, first + n), cols))
            win.commit.points += n
        for chunk, low, high in zip(chunks, *codec.bounds(steps)):
            chunk["min_step"], chunk["max_step"] = low, high
        return chunks, summaries.summary_rows(chunks, steps, walls, values)

    def _histogram_rows(self, win: _Window, batch: Batch) -> tuple[list[dict[str, Any]], int]:
        """The window's histograms as one chunk row per tag (`store.histochunks`), tags in order
        of first appearance; like a scalar tag, a new series takes its cursor before its points,
        so each chunk's cursors are one contiguous range."""
        if not batch.histograms:
            return [], 0
        tags, hists = histochunks.by_tag(batch.histograms)
        cols = histochunks.Columns.of(hists)
        chunks, start = [], 0
        for tag, n in tags.items():
            sid = self._series_id(win, "histogram", tag)
            first = self._take(n)
            chunks.append(cols.chunk(start, start + n, sid, win.file_id, first))
            win.commit.updates.append(SeriesUpdate("histogram", win.run, tag, list(range(first, first + n)),
                                                   histograms=hists[start : start + n]))
            start += n
        return chunks, start

    def _run_record_rows(self, win: _Window, batch: Batch) -> dict[str, list[dict[str, Any]]]:
        """Graphs, hparams and layouts: each makes sure its series exists, then takes a cursor."""
        base = {"run_id": win.run_id, "file_id": win.file_id}
        graphs, hparams, layouts = [], [], []
        for g in batch.graphs:
            self._series_id(win, "graph", g.kind)
            graphs.append(base | {"kind": g.kind, "tag": g.tag, "cursor": self._take(1),
                                  "blob_id": win.blob(g.data, "application/octet-stream")})
        for hp in batch.hparams:
            self._series_id(win, "hparams", hp.group_name)
            hparams.append(base | {
                "group_name": hp.group_name, "hparams": hp.hparams,
                "metrics": hp.metrics, "start_time": hp.start_time,
                "cursor": self._take(1),
            })
        for layout in batch.layouts:
            self._series_id(win, "layout", "layout")
            layouts.append(base | {"layout": layout, "cursor": self._take(1)})
        return {"graphs": graphs, "hparams": hparams, "layouts": layouts}

    def _note_small_chunk(self, conn: Connection, series_id: int, file_id: int,
                          compact: Callable[[Connection, int, int], None]) -> None:
        key = (series_id, file_id)  # a series is scalars or histograms: its id tells them apart
        self._small[key] = self._small.get(key, 0) + 1
        if self._small[key] >= COMPACT_AFTER:
            self._small[key] = 0
            compact(conn, series_id, file_id)


def compact_scalars(conn: Connection, series_id: int, file_id: int) -> None:
    """Merge a series' small chunks from one file into one, in the current transaction.

    A live run commits a few points per series at a time; without merging, a long run would
    leave hundreds of thousands of tiny rows to read back. The merged chunk keeps every point's
    exact cursor (an explicit cursor column, since other series' cursors fall in between).
    """
    c = t.scalar_chunks.c
    rows = conn.execute(
        select(c.id, c.first_cursor, c.count, c.steps, c.wall_times, c["values"], c.cursors)
        .where(c.series_id == series_id, c.file_id == file_id, c.count < SMALL_CHUNK)
        .order_by(c.first_cursor)
    ).all()
    if len(rows) < 2:
        return
    cursors = np.concatenate([codec.chunk_cursors(r) for r in rows])
    steps = np.concatenate([codec.unpack_i64(r.steps) for r in rows])
    walls, values = b"".join(r.wall_times for r in rows), b"".join(r.values for r in rows)
    conn.execute(delete(t.scalar_chunks).where(c.id.in_([r.id for r in rows])))
    conn.execute(delete(t.scalar_summaries).where(t.scalar_summaries.c.first_cursor.in_([r.first_cursor for r in rows])))
    chunk = {"series_id": series_id, "file_id": file_id, "first_cursor": int(cursors[0]),
             "last_cursor": int(cursors[-1]), "count": len(cursors), "min_step": int(steps.min()),
             "max_step": int(steps.max()), "steps": steps.tobytes(), "wall_times": walls, "values": values,
             "cursors": cursors.tobytes()}
    conn.execute(insert(t.scalar_chunks).values(**chunk))
    conn.execute(insert(t.scalar_summaries), summaries.summary_rows(
        [chunk], [steps], [codec.unpack_f64(walls)], [codec.unpack_f64(values)], [cursors]))


def save_computed(conn: Connection, key: str, value: bytes) -> None:
    """Writer-thread job: remember a computed result (projections; the first write wins)."""
    conn.execute(_sql(conn).INSERT_COMPUTED, {"key": key, "value": value, "created": time.time()})
