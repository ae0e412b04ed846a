"""Commit batches: points, new runs and tags, and the file's offset, in one transaction.

`StoreWriter` lives on the database's writer thread. Because a file's new offset is written in
the same transaction as the points read up to it, a crash at any moment either keeps both or
neither: nothing is lost and nothing is stored twice. Each commit returns what it added, so the
hub can push exactly those points to live clients.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tsvis_live.records import Batch, HistogramRecord, ScalarColumns
from tsvis_live.store import codec
from tsvis_live.store import schema as t
from tsvis_live.store.filestate import FileState

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


def _file_row(state: FileState) -> dict[str, Any]:
    return {
        "path": state.path,
        "format": state.format,
        "inode": state.inode,
        "head": state.head,
        "offset": state.offset,
        "size": state.size,
        "mtime_ns": state.mtime_ns,
        "status": state.status,
        "error": state.error,
        "events": state.events,
        "skipped": state.skipped,
    }


SMALL_CHUNK = 4096  # points; live tailing commits chunks of a few points each
COMPACT_AFTER = 64  # small chunks of one series and file before they are merged into one


class StoreWriter:
    """Caches ids and the cursor counter; used only on the writer thread."""

    def __init__(self) -> None:
        self._small: dict[tuple[int, int], int] = {}  # (series, file) -> small chunks added
        self._loaded = False
        self.runs: dict[str, int] = {}
        self.series: dict[tuple[int, str, str], int] = {}
        self.cursor = 0

    def _load(self, conn: Connection) -> None:
        self.runs = {r.name: r.id for r in conn.execute(select(t.runs.c.name, t.runs.c.id))}
        self.series = {
            (r.run_id, r.kind, r.tag): r.id
            for r in conn.execute(select(t.series.c.run_id, t.series.c.kind, t.series.c.tag, t.series.c.id))
        }
        row = conn.execute(select(t.settings.c.value).where(t.settings.c.key == "cursor")).first()
        self.cursor = int(row[0]) if row else 0
        self._loaded = True

    def invalidate(self) -> None:
        """Forget the caches (after a rolled-back transaction they may be ahead of the file)."""
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
        run_id = self.runs.get(name)
        if run_id is None:
            cursor = self._take(1)
            run_id = conn.execute(insert(t.runs).values(name=name, cursor=cursor)).inserted_primary_key[0]
            self.runs[name] = run_id
            commit.categories.append(CategoryUpdate(name, "run", None, cursor))
        return run_id

    def _series_id(
        self, conn: Connection, run: str, run_id: int, kind: str, tag: str, plugin: str | None, commit: Commit
    ) -> int:
        key = (run_id, kind, tag)
        sid = self.series.get(key)
        if sid is None:
            cursor = self._take(1)
            sid = conn.execute(
                insert(t.series).values(run_id=run_id, kind=kind, tag=tag, plugin=plugin, cursor=cursor)
            ).inserted_primary_key[0]
            self.series[key] = sid
            commit.categories.append(CategoryUpdate(run, kind, tag, cursor))
        return sid

    @staticmethod
    def _blob_id(conn: Connection, data: bytes, mime: str | None = None) -> int:
        digest = hashlib.sha256(data).digest()
        conn.execute(
            sqlite_insert(t.blobs)
            .values(digest=digest, mime=mime or codec.sniff_mime(data), size=len(data), data=data)
            .on_conflict_do_nothing(index_elements=["digest"])
        )
        return conn.execute(select(t.blobs.c.id).where(t.blobs.c.digest == digest)).scalar_one()

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
            state.id = conn.execute(insert(t.files).values(**row)).inserted_primary_key[0]
        else:
            conn.execute(update(t.files).where(t.files.c.id == state.id).values(**row))

    # -- the commit ----------------------------------------------------------------------
    def commit(self, conn: Connection, state: FileState, batch: Batch, replace: bool = False) -> Commit:
        """Store `batch` as read from `state.path` up to `state.offset`, atomically."""
        self._ensure_loaded(conn)
        try:
            commit = Commit()
            self.save_file(conn, state, commit)
            if replace:
                self.forget_points(conn, state.id)
            run_id = self.runs[state.run]
            self._store_points(conn, state, run_id, batch, commit)
            conn.execute(
                sqlite_insert(t.settings)
                .values(key="cursor", value=str(self.cursor))
                .on_conflict_do_update(index_elements=["key"], set_={"value": str(self.cursor)})
            )
            commit.cursor = self.cursor
            return commit
        except BaseException:
            self.invalidate()
            raise

    def _store_points(self, conn: Connection, state: FileState, run_id: int, batch: Batch, commit: Commit) -> None:
        run, fid = state.run, state.id
        plugins = batch.plugins

        def sid(kind: str, tag: str) -> int:
            return self._series_id(conn, run, run_id, kind, tag, plugins.get(tag), commit)

        chunks = []
        for tag, cols in batch.scalars.items():
            n = len(cols.steps)
            if not n:
                continue
            series_id = sid("scalar", tag)
            first = self._take(n)
            steps = np.asarray(cols.steps, dtype="<i8")
            chunks.append({
                "series_id": series_id, "file_id": fid, "first_cursor": first,
                "last_cursor": first + n - 1, "count": n,
                "min_step": int(steps.min()), "max_step": int(steps.max()),
                "steps": steps.tobytes(), "wall_times": codec.pack_f64(cols.wall_times),
                "values": codec.pack_f64(cols.values), "cursors": None,
            })
            commit.updates.append(SeriesUpdate("scalar", run, tag, range(first, first + n), cols))
            commit.points += n
        if chunks:
            conn.execute(insert(t.scalar_chunks), chunks)
            for chunk in chunks:
                if chunk["count"] < SMALL_CHUNK:
                    self._note_small_chunk(conn, chunk["series_id"], fid)

        if batch.histograms:
            rows, by_tag = [], {}
            for h in batch.histograms:
                cursor = self._take(1)
                rows.append({
                    "cursor": cursor, "series_id": sid("histogram", h.tag), "file_id": fid,
                    "step": h.step, "wall_time": h.wall_time, "min": h.min, "max": h.max,
                    "num": h.num, "sum": h.sum, "sum_squares": h.sum_squares,
                    "buckets": codec.pack_buckets(h.buckets),
                })
                upd = by_tag.get(h.tag)
                if upd is None:
                    upd = by_tag[h.tag] = SeriesUpdate("histogram", run, h.tag, [])
                    commit.updates.append(upd)
                upd.cursors.append(cursor)
                upd.histograms.append(h)
            conn.execute(insert(t.histograms), rows)
            commit.points += len(rows)

        media_rows = []
        for b in batch.blobs:
            media_rows.append({
                "cursor": self._take(1), "series_id": sid(b.kind, b.tag), "file_id": fid,
                "step": b.step, "wall_time": b.wall_time, "idx": b.index,
                "blob_id": self._blob_id(conn, b.data, "application/json" if b.kind == "text" else None),
                "meta": json.dumps(b.meta),
            })
        if media_rows:
            conn.execute(insert(t.media), media_rows)
            commit.points += len(media_rows)

        for rec in batch.tensors:
            extras = {name: self._blob_id(conn, codec.pack_array(a)) for name, a in rec.extras.items()}
            conn.execute(insert(t.tensors).values(
                cursor=self._take(1), series_id=sid(rec.kind, rec.tag), file_id=fid, step=rec.step,
                wall_time=rec.wall_time, blob_id=self._blob_id(conn, codec.pack_array(rec.value)),
                extras=json.dumps(extras), meta=json.dumps(rec.meta),
            ))
            commit.points += 1

        for g in batch.graphs:
            sid("graph", g.kind)
            conn.execute(insert(t.graphs).values(
                run_id=run_id, file_id=fid, kind=g.kind, tag=g.tag,
                blob_id=self._blob_id(conn, g.data, "application/octet-stream"), cursor=self._take(1),
            ))
        for hp in batch.hparams:
            sid("hparams", hp.group_name)
            conn.execute(insert(t.hparams).values(
                run_id=run_id, file_id=fid, group_name=hp.group_name,
                hparams=json.dumps(hp.hparams, default=str), metrics=json.dumps(hp.metrics, default=str),
                start_time=hp.start_time, cursor=self._take(1),
            ))
        for layout in batch.layouts:
            sid("layout", "layout")
            conn.execute(insert(t.layouts).values(
                run_id=run_id, file_id=fid, layout=json.dumps(layout), cursor=self._take(1)
            ))
        for tag, plugin in plugins.items():
            self._remember_plugin(conn, run_id, tag, plugin)

    def _note_small_chunk(self, conn: Connection, series_id: int, file_id: int) -> None:
        key = (series_id, file_id)
        self._small[key] = self._small.get(key, 0) + 1
        if self._small[key] >= COMPACT_AFTER:
            self._small[key] = 0
            compact_scalars(conn, series_id, file_id)

    def _remember_plugin(self, conn: Connection, run_id: int, tag: str, plugin: str) -> None:
        """Keep a tag's plugin even before it has points, so a resumed read can decode it."""
        key = (run_id, "plugin", tag)
        if key in self.series:
            return
        conn.execute(
            sqlite_insert(t.series)
            .values(run_id=run_id, kind="plugin", tag=tag, plugin=plugin, cursor=self.cursor)
            .on_conflict_do_nothing()
        )
        self.series[key] = 0


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
    cursors = np.concatenate([
        codec.unpack_i64(r.cursors) if r.cursors is not None
        else np.arange(r.first_cursor, r.first_cursor + r.count, dtype="<i8")
        for r in rows
    ])
    steps = np.concatenate([codec.unpack_i64(r.steps) for r in rows])
    conn.execute(delete(t.scalar_chunks).where(c.id.in_([r.id for r in rows])))
    conn.execute(insert(t.scalar_chunks).values(
        series_id=series_id, file_id=file_id, first_cursor=int(cursors[0]), last_cursor=int(cursors[-1]),
        count=len(cursors), min_step=int(steps.min()), max_step=int(steps.max()), steps=steps.tobytes(),
        wall_times=b"".join(r.wall_times for r in rows), values=b"".join(r.values for r in rows),
        cursors=cursors.tobytes(),
    ))
