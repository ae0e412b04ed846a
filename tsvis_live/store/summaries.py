"""Per-chunk summaries of scalar series, so that a downsampled answer reads O(requested points).

Why: a downsampled `/api/scalar` used to read and unpack every point of the series (40 ms at
1M points, 229 ms and 250 MB of temporaries at 5M). Every stored scalar chunk now has a
`scalar_summaries` row, written in the same transaction as the chunk (a crash leaves both or
neither): a pyramid of levels, level k cutting the chunk, in write order from its first point,
into buckets of `BASE * FACTOR**k` points. Each bucket is an *item*: its point count and four of
its points, each with cursor, step, wall time and value: the first, the last, the minimum and
the maximum (NaN ignored, first occurrence; an all-NaN bucket gives its first point for both).

Reading (`select_stored`, called by `Store.scalars` for whole-series views) takes this path only
for series whose steps strictly increase in write order (every chunk's `monotone` flag, and the
chunks' cursor and step bounds in order); other series read everything as before
(`select.select_scalars`). Then:

- only chunks overlapping [start, end] are read. When they hold at most
  `RAW_PER_BUCKET * max_points / 4` points they are read raw: the answer is exactly the full
  read's (a monotone series hides no write, and M4 runs on the same points). Smoothing reads
  from `history(w)` finite points before the range (see `select_stored`);
- otherwise (never with smoothing: the full read then) the chunks inside the range give their
  items at the finest level with at most `ITEMS_PER_BUCKET` items per output bucket, the (at
  most two) chunks crossing the range's ends are read raw, cut and summarised alike, and M4
  (`compute.downsample`, unchanged) runs on the items' points, the *candidates*.

Deviation bound (docs/benchmarks.md): the output buckets are the full read's (their edges come
from the first and last step in range, which are candidates); every point returned is a stored
point; the range's first and last points and its minimum and maximum are always kept. A bucket's
first, last, minimum or maximum can differ from the full read's only when that point lies in an
item straddling one of the bucket's two edges and is not one of that item's four points, i.e.
within `resolution` points (the item size, `ScalarRead.resolution`) of the bucket's edge.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import numpy as np
from sqlalchemy import Connection, LargeBinary, func, select

from tsvis_live.compute.downsample import BucketBands, bucket_bands, downsample
from tsvis_live.store import codec, reader
from tsvis_live.store import schema as t
from tsvis_live.store.reader import ScalarSeries
from tsvis_live.store.select import ScalarRead, select_scalars

BASE = 64  # points per item at level 0
FACTOR = 4  # items of level k per item of level k + 1
LEVELS = t.SUMMARY_LEVELS  # 64 .. 262,144 points per item
RAW_PER_BUCKET = 64  # read raw (exact) while the range holds at most this many points per output bucket
ITEMS_PER_BUCKET = 16  # the finest level with at most this many items per output bucket is read

POINT_FIELDS = ("cursor", "step", "wall", "value")


@cache
def point_dtype() -> np.dtype:
    """One point of an item (a function, not a constant: numpy loads when data first needs it)."""
    return np.dtype(list(zip(POINT_FIELDS, ("<i8", "<i8", "<f8", "<f8"))))


@cache
def item_dtype() -> np.dtype:
    """One summary item: its count and its first, last, lowest and highest points."""
    point = point_dtype()
    return np.dtype([("count", "<i8"), ("first", point), ("last", point), ("min", point), ("max", point)])
ROLES = ("first", "last", "min", "max")
LEVEL_COLUMNS = [f"level{k}" for k in range(LEVELS)]


def level_size(k: int) -> int:
    return BASE * FACTOR**k


# -- building -------------------------------------------------------------------------------
def _segments(lens: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Start (into the concatenation) of every `size`-long segment of each part, parts cut from
    their own start; and how many segments each part has."""
    per = -(-lens // size)
    firsts = np.cumsum(lens) - lens
    offsets = np.repeat(np.cumsum(per) - per, per)
    return np.repeat(firsts, per) + size * (np.arange(int(per.sum())) - offsets), per


def _first_equal(v: np.ndarray, target: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per segment, the first position holding its `target` value; its start when the target
    is NaN (an all-NaN segment)."""
    sizes = np.diff(np.append(starts, len(v)))
    found = ~np.isnan(target)
    out = starts.copy()
    if found.any():
        hits = np.flatnonzero(v == np.repeat(target, sizes))
        out[found] = hits[np.searchsorted(hits, starts[found])]
    return out


def _extremes(vmin: np.ndarray, vmax: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of each segment's NaN-ignoring minimum of `vmin` and maximum of `vmax`."""
    with np.errstate(invalid="ignore"):
        low, high = np.fmin.reduceat(vmin, starts), np.fmax.reduceat(vmax, starts)
    return _first_equal(vmin, low, starts), _first_equal(vmax, high, starts)


def _level0(steps: np.ndarray, walls: np.ndarray, values: np.ndarray, lens: np.ndarray,
            cursors: np.ndarray | None = None, bases: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Level-0 items of the parts `lens` of the columns, and items per part. A point's cursor is
    `cursors[i]`, or (contiguous parts) its part's first cursor in `bases` plus its position."""
    starts, per = _segments(lens, BASE)
    ends = np.append(starts[1:], len(steps)) - 1
    imin, imax = _extremes(values, values, starts)
    items = np.empty(len(starts), item_dtype())
    items["count"] = ends - starts + 1
    shift = None if cursors is not None else np.repeat(bases - (np.cumsum(lens) - lens), per)
    for role, index in zip(ROLES, (starts, ends, imin, imax)):
        out = items[role]
        out["cursor"] = cursors[index] if cursors is not None else index + shift
        out["step"], out["wall"], out["value"] = steps[index], walls[index], values[index]
    return items, per


def _coarser(items: np.ndarray, per: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The next level: every FACTOR items of a part merged into one."""
    starts, per_next = _segments(per, FACTOR)
    out = np.empty(len(starts), item_dtype())
    out["count"] = np.add.reduceat(items["count"], starts)
    out["first"] = items["first"][starts]
    out["last"] = items["last"][np.append(starts[1:], len(items)) - 1]
    imin, imax = _extremes(items["min"]["value"], items["max"]["value"], starts)
    out["min"] = items["min"][imin]
    out["max"] = items["max"][imax]
    return out, per_next


Columns = tuple["np.ndarray", "np.ndarray", "np.ndarray", "np.ndarray"]  # cursors, steps, wall times, values


def items_at(cols: Columns, level: int) -> np.ndarray:
    """The items of one run of points at `level`."""
    cursors, steps, walls, values = cols
    items, per = _level0(steps, walls, values, np.array([len(steps)], dtype=np.int64), cursors)
    for _ in range(level):
        items, per = _coarser(items, per)
    return items


def summary_rows(chunks: list[dict[str, Any]], steps: list[np.ndarray], walls: list[np.ndarray],
                 values: list[np.ndarray], cursors: list[np.ndarray] | None = None) -> list[dict[str, Any]]:
    """The `scalar_summaries` rows of chunk rows (as the writer builds them) and their columns.

    `cursors` defaults to each chunk's contiguous first_cursor..last_cursor. All chunks are
    summarised together (a window holds a short chunk per tag; per-chunk numpy calls would cost
    more than the chunks' insert). Levels above a chunk's first one-item level are NULL: the
    reader takes the finest stored level at or below the one it wants.
    """
    if not chunks:
        return []
    lens = np.array([len(s) for s in steps], dtype=np.int64)
    firsts = np.cumsum(lens) - lens
    st = np.concatenate(steps).astype("<i8", copy=False)
    bases = None if cursors is not None else np.array([c["first_cursor"] for c in chunks], dtype=np.int64)
    back = np.zeros(len(st), dtype=bool)
    back[1:] = st[1:] <= st[:-1]
    back[firsts] = False
    monotone = ~np.logical_or.reduceat(back, firsts)
    rows = [{"first_cursor": c["first_cursor"], "series_id": c["series_id"], "file_id": c["file_id"],
             "monotone": int(m)} | dict.fromkeys(LEVEL_COLUMNS) for c, m in zip(chunks, monotone.tolist())]
    items, per = _level0(st, np.concatenate(walls), np.concatenate(values), lens,
                         None if cursors is None else np.concatenate(cursors), bases)
    open_rows = list(range(len(rows)))  # chunks with more than one item at the level below
    for k in range(LEVELS):
        if k:
            items, per = _coarser(items, per)
        data, ends = items.tobytes(), np.cumsum(per) * item_dtype().itemsize
        name, still = LEVEL_COLUMNS[k], []
        for i in open_rows:
            rows[i][name] = data[ends[i] - per[i] * item_dtype().itemsize : ends[i]]
            if per[i] > 1:
                still.append(i)
        if not still:
            break
        open_rows = still
    return rows


# -- reading --------------------------------------------------------------------------------
def _chunk_table(conn: Connection, series_id: int) -> np.ndarray:
    """first_cursor, last_cursor, count, min_step, max_step, monotone (-1: no summary) per chunk,
    in last_cursor order (the index's: no sort), which is write order when chunks do not
    interleave, as `_monotone` requires."""
    c, s = t.scalar_chunks.c, t.scalar_summaries.c
    q = (select(c.first_cursor, c.last_cursor, c.count, c.min_step, c.max_step, func.coalesce(s.monotone, -1))
         .select_from(t.scalar_chunks.outerjoin(t.scalar_summaries, s.first_cursor == c.first_cursor))
         .where(c.series_id == series_id).order_by(c.last_cursor))
    return np.array([tuple(r) for r in conn.execute(q)], dtype=np.int64).reshape(-1, 6)


def _monotone(ch: np.ndarray) -> bool:
    """True when the series' steps strictly increase in write (cursor) order."""
    return bool(np.all(ch[:, 5] == 1) and np.all(ch[:-1, 1] < ch[1:, 0]) and np.all(ch[:-1, 4] < ch[1:, 3]))


def _stored_items(conn: Connection, series_id: int, lo: int, hi: int, level: int) -> list[bytes]:
    """Items at `level` of the chunks lying inside steps [lo, hi], in write order."""
    c, s = t.scalar_chunks.c, t.scalar_summaries.c
    columns = [s[LEVEL_COLUMNS[k]] for k in range(level, -1, -1)]
    blob = func.coalesce(*columns, type_=LargeBinary) if level else columns[0]  # SQLite: 2+ arguments
    q = (select(blob).select_from(t.scalar_chunks.join(t.scalar_summaries, s.first_cursor == c.first_cursor))
         .where(c.series_id == series_id, c.min_step >= lo, c.max_step <= hi)
         .order_by(c.last_cursor))  # the index's order: SQLite would copy every blob into a sorter
    return list(conn.execute(q).scalars())


def _raw_points(conn: Connection, series_id: int, first_cursors: list[int], lo: int, hi: int) -> list[Columns]:
    """The points with steps in [lo, hi] of each chunk named, one query."""
    c = t.scalar_chunks.c
    q = (select(c.first_cursor, c.count, c.steps, c.wall_times, c["values"], c.cursors)
         .where(c.series_id == series_id, c.first_cursor.in_(first_cursors)))  # no ORDER BY: a blob sort
    out = []
    for r in conn.execute(q):
        steps = codec.unpack_i64(r.steps)
        keep = np.flatnonzero((steps >= lo) & (steps <= hi))
        cursors = (codec.unpack_i64(r.cursors)[keep] if r.cursors is not None else r.first_cursor + keep)
        out.append((cursors, steps[keep], codec.unpack_f64(r.wall_times)[keep],
                    codec.unpack_f64(r._mapping["values"])[keep]))
    return out


def _candidates(items: np.ndarray) -> dict[str, np.ndarray]:
    """The distinct points the items name, in step order, as POINT field -> array.

    Items are in step order and an item's first point comes before its min and max, its last
    after them: ordering min and max within each item orders them all."""
    swap = items["max"]["step"] < items["min"]["step"]
    cand = {}
    for field in POINT_FIELDS:
        first, last, low, high = (items[role][field] for role in ROLES)
        cand[field] = np.stack([first, np.where(swap, high, low), np.where(swap, low, high), last], axis=1).ravel()
    keep = np.ones(len(cand["step"]), dtype=bool)
    keep[1:] = cand["step"][1:] != cand["step"][:-1]  # steps are unique in a monotone series
    return {field: a[keep] for field, a in cand.items()}


def _bands(cand: dict[str, np.ndarray], items: np.ndarray, n_buckets: int) -> BucketBands:
    """Bands over the candidates; `count` attributes each item's points to its first point's bucket."""
    band = bucket_bands(cand["step"], cand["value"], n_buckets)
    owner = np.searchsorted(band.step_start, items["first"]["step"], side="right") - 1
    count = np.bincount(owner, weights=items["count"], minlength=len(band.step_start)).astype(np.int64)
    return band._replace(count=count)


def history(weight: float) -> int:
    """Finite points before a range after which an EMA of `weight` has forgotten the rest
    (`weight**h < 2**-60`: the debiasing factor is exactly 1 there, the carry below rounding)."""
    return math.ceil(60 * math.log(2) / -math.log(weight))


def select_stored(conn: Connection, run: str, tag: str, *, cursors: bool, every: bool = False,
                  start: int | None = None, end: int | None = None, max_points: int | None = None,
                  smoothing: float = 0.0, bands: bool = False) -> ScalarRead | None:
    """`select_scalars` of the whole series, reading only what the answer needs; None when this
    series or request must read everything (steps not strictly increasing; no range and no
    downsampling; smoothing of more than RAW_PER_BUCKET points per bucket). `every` changes
    nothing here: a monotone series supersedes no write.

    Smoothing starts `history(smoothing)` finite points before the range instead of at the
    series' first point: the smoothed values agree with the full read's to float64 rounding
    (ema_smooth's own error, eps * max|x| / (1 - w)), every other field exactly."""
    del every
    if max_points is None and start is None and end is None:
        return None
    sid = reader.series_id(conn, run, "scalar", tag)
    ch = _chunk_table(conn, sid)
    if not len(ch) or not _monotone(ch):
        return None
    newest = int(ch[:, 1].max())
    lo = np.iinfo(np.int64).min if start is None else start
    hi = np.iinfo(np.int64).max if end is None else end
    over = (ch[:, 4] >= lo) & (ch[:, 3] <= hi)
    inner = over & (ch[:, 3] >= lo) & (ch[:, 4] <= hi)
    n_buckets = max(1, (max_points or 0) // 4)
    raw_limit = max(max_points or 0, RAW_PER_BUCKET * n_buckets)

    def exact() -> ScalarRead | None:
        first, need = start, 0  # the first step read: before the range, for smoothing's history
        if smoothing > 0 and start is not None and over.any():
            i0, need = int(np.argmax(over)), history(smoothing)
            before = np.cumsum(ch[:i0, 2][::-1])  # points in the chunks before, nearest first
            j = int(np.searchsorted(before, 2 * need))  # twice: room for NaN and Inf
            first = None if j >= len(before) else int(ch[i0 - 1 - j, 3])
        part = reader.scalar_series(conn, run, tag, with_cursors=cursors, steps=(first, end))
        if first != start and first is not None and np.isfinite(part.values[part.steps < lo]).sum() < need:
            return None
        part.newest_cursor = newest
        read = select_scalars(part, start=start, end=end, max_points=max_points, smoothing=smoothing,
                              bands=bands)
        if smoothing > 0 and read.smoothed is None:  # nothing read: the full read smooths, then cuts
            read.smoothed = np.empty(0)
        return read

    if max_points is None or int(ch[over, 2].sum()) <= raw_limit:
        return exact()
    if smoothing > 0 and int(ch[inner, 2].sum()) > raw_limit:  # an EMA needs every point before each kept
        return None
    crossing = np.flatnonzero(over & ~inner)  # at most two: the chunks holding start and end
    edges = list(zip((ch[crossing, 3] >= lo).tolist(),  # True: after the inner chunks
                     _raw_points(conn, sid, ch[crossing, 0].tolist(), lo, hi)))
    total = int(ch[inner, 2].sum()) + sum(len(p[1]) for _, p in edges)
    if total <= raw_limit:
        return exact()
    if smoothing > 0:
        return None
    level = LEVELS - 1
    for k in range(LEVELS):
        size = level_size(k)
        items_k = int((-(-ch[inner, 2] // size)).sum()) + sum(-(-len(p[1]) // size) for _, p in edges)
        if items_k <= ITEMS_PER_BUCKET * n_buckets:
            level = k
            break
    parts = [items_at(p, level).tobytes() for is_last, p in edges if not is_last and len(p[1])]
    parts += _stored_items(conn, sid, lo, hi, level)
    parts += [items_at(p, level).tobytes() for is_last, p in edges if is_last and len(p[1])]
    items = np.frombuffer(b"".join(parts), item_dtype())  # bytes: a nested struct array concatenates slowly
    cand = _candidates(items)
    keep = downsample(cand["step"], None, cand["value"], max_points)
    points = ScalarSeries(cand["step"][keep], cand["wall"][keep], cand["value"][keep],
                          cand["cursor"][keep] if cursors else None, newest)
    band = _bands(cand, items, n_buckets) if bands else None
    return ScalarRead(points, total, True, newest, None, band, level_size(level))


def build_missing(conn: Connection, batch: int = 32) -> int:
    """Summarise every chunk without a summary (an upgraded session); returns how many.

    Chunks are read a batch at a time, in id order, so memory stays bounded however big the
    session is."""
    c, s = t.scalar_chunks.c, t.scalar_summaries.c
    done, after = 0, None
    while True:
        q = (select(c.id, c.series_id, c.file_id, c.first_cursor, c.count, c.steps, c.wall_times, c["values"],
                    c.cursors)
             .select_from(t.scalar_chunks.outerjoin(t.scalar_summaries, s.first_cursor == c.first_cursor))
             .where(s.first_cursor.is_(None)).order_by(c.id).limit(batch))
        if after is not None:
            q = q.where(c.id > after)
        rows = conn.execute(q).all()
        if not rows:
            return done
        after = rows[-1].id
        chunks = [{"first_cursor": r.first_cursor, "series_id": r.series_id, "file_id": r.file_id} for r in rows]
        cursors = [codec.chunk_cursors(r) for r in rows]
        out = summary_rows(chunks, [codec.unpack_i64(r.steps) for r in rows],
                           [codec.unpack_f64(r.wall_times) for r in rows],
                           [codec.unpack_f64(r._mapping["values"]) for r in rows], cursors)
        conn.execute(t.scalar_summaries.insert(), out)
        done += len(out)
