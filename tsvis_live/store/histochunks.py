"""Histograms stored as per-series chunks: one row per tag and commit, as scalars are.

A row per histogram cost SQLite ~5 us of insert and index work each (a third of a 2M-event
ingest went to 2% of its events); a chunk row holds a window's histograms of one tag as packed
columns: steps, wall times, the five statistics, where each histogram's bucket rows end, and
every bucket row. Buckets whose edges are contiguous (each left edge bit for bit the right edge
before it, what writers produce) keep their left edges, each histogram's last right edge and the
counts: ~2/3 of the raw (k, 3) rows. Everything is read back bit for bit, NaN and -0.0 included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, delete, insert, select

from tsvis_live.histcolumns import HistogramColumns
from tsvis_live.records import HistogramRecord
from tsvis_live.store import codec
from tsvis_live.store import schema as t

_RAW, _CONTIGUOUS = b"\x00", b"\x01"
_F8 = "<f8"  # a string: numpy is loaded on first use (tsvis_live.deferred)


def by_tag(hists: list[HistogramRecord]) -> tuple[dict[str, int], list[HistogramRecord]]:
    """{tag: how many}, tags in order of first appearance, and the records in that order (each
    tag's in file order): a window's histograms as its chunks take them."""
    if isinstance(hists, HistogramColumns) and (cols := hists.columns()) is not None:
        return _by_tag_columns(cols)
    order: dict[str, int] = {}
    for h in hists:
        order[h.tag] = order.get(h.tag, 0) + 1
    if len(order) > 1:
        number = {tag: i for i, tag in enumerate(order)}
        ids = np.fromiter((number[h.tag] for h in hists), np.int64, len(hists))
        hists = [hists[i] for i in np.argsort(ids, kind="stable").tolist()]
    return order, hists


def _by_tag_columns(cols: HistogramColumns) -> tuple[dict[str, int], HistogramColumns]:
    """`by_tag` of columns, in numpy: no record is built."""
    ids = cols.ids
    uniq, first, counts = np.unique(ids, return_index=True, return_counts=True)
    seen = np.argsort(first, kind="stable")  # tags in order of first appearance
    order = {cols.tags[t]: n for t, n in zip(uniq[seen].tolist(), counts[seen].tolist())}
    if len(order) > 1:
        rank = np.empty(len(cols.tags), dtype=np.int64)
        rank[uniq[seen]] = np.arange(len(uniq))
        return order, cols.take(np.argsort(rank[ids], kind="stable"))
    return order, cols


@dataclass
class Columns:
    """Histograms as arrays: `buckets` holds every bucket row, histogram i's rows end at ends[i]."""

    steps: np.ndarray  # int64 (n,)
    wall_times: np.ndarray  # float64 (n,)
    stats: np.ndarray  # float64 (n, 5): min, max, num, sum, sum_squares
    ends: np.ndarray  # int64 (n,), cumulative
    buckets: np.ndarray  # float64 (K, 3)

    @classmethod
    def of(cls, hists: Sequence[HistogramRecord]) -> Columns:
        """The records' columns, in their order (one pass over them; the rest is numpy)."""
        if isinstance(hists, HistogramColumns) and (hc := hists.columns()) is not None:
            ends, rows = hc.flat()
            return cls(hc.steps, np.ascontiguousarray(hc.stats[:, 0]), np.ascontiguousarray(hc.stats[:, 1:]), ends,
                       np.ascontiguousarray(rows, dtype=_F8))
        n = len(hists)
        steps = np.fromiter((h.step for h in hists), np.int64, n)
        values = np.array([(h.wall_time, h.min, h.max, h.num, h.sum, h.sum_squares) for h in hists],
                          dtype=np.float64).reshape(n, 6)
        raw = [h.buckets for h in hists]
        try:  # the decoders' (k, 3) float64 arrays: one concatenation
            flat = np.concatenate(raw) if raw else np.zeros((0, 3))
            sizes = [len(b) for b in raw]
            if flat.ndim != 2 or flat.shape[1] != 3:
                raise ValueError
        except ValueError:  # anything else that holds k rows of 3 (an empty one of any shape)
            arrays = [np.asarray(b, dtype=_F8).reshape(-1, 3) for b in raw]
            flat, sizes = np.concatenate(arrays), [len(a) for a in arrays]
        return cls(steps, np.ascontiguousarray(values[:, 0]), np.ascontiguousarray(values[:, 1:]),
                   np.cumsum(np.asarray(sizes, dtype=np.int64)), np.ascontiguousarray(flat, dtype=_F8))

    def chunk(self, a: int, b: int, series_id: int, file_id: int, cursors: np.ndarray | int) -> dict[str, Any]:
        """The chunk row of histograms a..b-1; `cursors`: the first of a contiguous range, or each one's."""
        n = b - a
        r0 = int(self.ends[a - 1]) if a else 0
        ends = self.ends[a:b] - r0
        steps = self.steps[a:b]
        if isinstance(cursors, int | np.integer):
            first, last, explicit = int(cursors), int(cursors) + n - 1, None
        else:
            cursors = np.asarray(cursors, dtype="<i8")
            first, last = int(cursors[0]), int(cursors[-1])
            explicit = None if last - first == n - 1 else cursors.tobytes()
        return {"series_id": series_id, "file_id": file_id, "first_cursor": first, "last_cursor": last,
                "count": n, "min_step": int(steps.min()), "max_step": int(steps.max()),
                "steps": steps.astype("<i8", copy=False).tobytes(),
                "wall_times": self.wall_times[a:b].astype(_F8, copy=False).tobytes(),
                "stats": self.stats[a:b].astype(_F8, copy=False).tobytes(),
                "bucket_ends": ends.astype("<i8", copy=False).tobytes(),
                "buckets": pack_rows(self.buckets[r0 : r0 + int(ends[-1])], ends), "cursors": explicit}


def pack_rows(rows: np.ndarray, ends: np.ndarray) -> bytes:
    """A chunk's (K, 3) bucket rows: left edges, each histogram's last right edge (0 when it has
    no bucket) and counts when every right edge but the last of each histogram is, bit for bit,
    the next left edge; else the rows as they are."""
    k = len(rows)
    if k > 1:
        lefts, rights = rows[:, 0].view(np.int64), rows[:, 1].view(np.int64)
        inner = np.ones(k - 1, dtype=bool)  # row i -> i+1 within one histogram
        inner[ends[(ends > 0) & (ends < k)] - 1] = False
        if np.any(inner & (lefts[1:] != rights[:-1])):
            return _RAW + rows.tobytes()
    last = np.zeros(len(ends), dtype=_F8)
    sizes = np.diff(ends, prepend=0)
    last[sizes > 0] = rows[ends[sizes > 0] - 1, 1]
    return _CONTIGUOUS + rows[:, 0].tobytes() + last.tobytes() + rows[:, 2].tobytes()


def unpack_rows(data: bytes, ends: np.ndarray) -> np.ndarray:
    """`pack_rows` undone: the (K, 3) rows."""
    k = int(ends[-1]) if len(ends) else 0
    body = np.frombuffer(data, dtype=_F8, offset=1)
    if data[:1] == _RAW:
        return body.reshape(-1, 3)
    n = len(ends)
    out = np.empty((k, 3), dtype=_F8)
    out[:, 0], out[:, 2] = body[:k], body[k + n :]
    out[:-1, 1] = body[1:k]
    sizes = np.diff(ends, prepend=0)
    out[ends[sizes > 0] - 1, 1] = body[k : k + n][sizes > 0]
    return out


@dataclass
class Stored:
    """Histograms read back from chunks, in cursor order (`read`)."""

    series_ids: np.ndarray
    cursors: np.ndarray
    steps: np.ndarray
    wall_times: np.ndarray
    stats: np.ndarray  # (n, 5)
    buckets: list[np.ndarray]  # each (k, 3)

    def records(self, tag: str, a: int = 0, b: int | None = None) -> list[HistogramRecord]:
        steps, walls = self.steps[a:b].tolist(), self.wall_times[a:b].tolist()
        return [HistogramRecord(tag, s, w, bk, *st)
                for s, w, bk, st in zip(steps, walls, self.buckets[a:b], self.stats[a:b].tolist())]


def read(conn: Connection, after: int | None = None, until: int | None = None,
         series_id: int | None = None) -> Stored:
    """Every stored histogram with a cursor in (after, until] (of one series, if given), in
    cursor order: the chunks that overlap the range, cut to it."""
    c = t.histogram_chunks.c
    q = select(c.series_id, c.first_cursor, c.count, c.steps, c.wall_times, c.stats, c.bucket_ends, c.buckets,
               c.cursors)
    if series_id is not None:
        q = q.where(c.series_id == series_id)
    if after is not None:
        q = q.where(c.last_cursor > after)
    if until is not None:
        q = q.where(c.first_cursor <= until)
    parts: list[tuple] = []
    lo = np.iinfo(np.int64).min if after is None else after
    hi = np.iinfo(np.int64).max if until is None else until
    for row in conn.execute(q.order_by(c.first_cursor)):
        cursors = codec.chunk_cursors(row)
        keep = np.flatnonzero((cursors > lo) & (cursors <= hi))
        if not len(keep):
            continue
        ends = codec.unpack_i64(row.bucket_ends)
        rows = unpack_rows(row.buckets, ends)
        starts = np.concatenate([[0], ends[:-1]]).tolist()
        stops = ends.tolist()
        parts.append((np.full(len(keep), row.series_id, dtype=np.int64), cursors[keep],
                      codec.unpack_i64(row.steps)[keep], codec.unpack_f64(row.wall_times)[keep],
                      codec.unpack_f64(row.stats).reshape(-1, 5)[keep],
                      [rows[starts[i] : stops[i]] for i in keep.tolist()]))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Stored(empty, empty, empty, np.zeros(0), np.zeros((0, 5)), [])
    sids, cursors, steps, walls, stats = (np.concatenate([p[i] for p in parts]) for i in range(5))
    buckets = [b for p in parts for b in p[5]]
    if len(cursors) > 1 and not bool(np.all(cursors[1:] > cursors[:-1])):
        order = np.argsort(cursors, kind="stable")
        sids, cursors, steps, walls, stats = (a[order] for a in (sids, cursors, steps, walls, stats))
        buckets = [buckets[i] for i in order.tolist()]
    return Stored(sids, cursors, steps, walls, stats, buckets)


SMALL = 256  # histograms; live tailing commits chunks of one or a few


def compact(conn: Connection, series_id: int, file_id: int) -> None:
    """Merge a series' small histogram chunks from one file into one, in the current
    transaction (as `writer.compact_scalars` does: live runs commit one histogram at a time)."""
    c = t.histogram_chunks.c
    ids = [r.id for r in conn.execute(select(c.id).where(c.series_id == series_id, c.file_id == file_id,
                                                         c.count < SMALL))]
    if len(ids) < 2:
        return
    cols, cursors = read_chunks(conn, ids)
    conn.execute(delete(t.histogram_chunks).where(c.id.in_(ids)))
    conn.execute(insert(t.histogram_chunks).values(**cols.chunk(0, len(cursors), series_id, file_id, cursors)))


def read_chunks(conn: Connection, ids: list[int]) -> tuple[Columns, np.ndarray]:
    """The histograms of the chunks `ids` (one series' and file's: they follow each other in
    cursor order) as `Columns`, with their cursors."""
    c = t.histogram_chunks.c
    rows = conn.execute(select(c.first_cursor, c.count, c.steps, c.wall_times, c.stats, c.bucket_ends,
                               c.buckets, c.cursors).where(c.id.in_(ids)).order_by(c.first_cursor)).all()
    offset, ends, buckets = 0, [], []
    for r in rows:
        e = codec.unpack_i64(r.bucket_ends)
        ends.append(e + offset)
        buckets.append(unpack_rows(r.buckets, e))
        offset += int(e[-1])
    cols = Columns(np.concatenate([codec.unpack_i64(r.steps) for r in rows]),
                   np.concatenate([codec.unpack_f64(r.wall_times) for r in rows]),
                   np.concatenate([codec.unpack_f64(r.stats).reshape(-1, 5) for r in rows]),
                   np.concatenate(ends), np.concatenate(buckets))
    cursors = np.concatenate([codec.chunk_cursors(r) for r in rows])
    return cols, cursors
