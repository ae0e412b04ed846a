"""What the store gained between two cursors, as the `Commit` the writer returned then.

A process that did not write those points (a replica serving a session another process
ingests, or one that missed part of the live stream) rebuilds the commits from the store and
delivers them like its own: the same scalar and histogram updates, new runs and new tags, in
cursor order. Exact by construction: cursors are the store's order of record.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import Connection, select

from tsvis_live.records import ScalarColumns
from tsvis_live.store import codec, histochunks
from tsvis_live.store import schema as t
from tsvis_live.store.reader import max_cursor
from tsvis_live.store.writer import CategoryUpdate, Commit, SeriesUpdate


def _names(conn: Connection) -> tuple[dict[int, str], dict[int, tuple[int, str, str]]]:
    runs = {r.id: r.name for r in conn.execute(select(t.runs.c.id, t.runs.c.name))}
    series = {r.id: (r.run_id, r.kind, r.tag)
              for r in conn.execute(select(t.series.c.id, t.series.c.run_id, t.series.c.kind, t.series.c.tag))}
    return runs, series


def changes_between(conn: Connection, after: int, until: int | None = None) -> Commit:
    """One commit holding every scalar and histogram point, run and series with a cursor in
    (after, until]; `until` defaults to the store's newest cursor."""
    until = max_cursor(conn) if until is None else until
    commit = Commit(base=after, cursor=max(until, after))
    if until <= after:
        return commit
    runs, series = _names(conn)
    r, s = t.runs.c, t.series.c
    events: list[tuple[int, CategoryUpdate]] = []
    for row in conn.execute(select(r.name, r.cursor).where(r.cursor > after, r.cursor <= until)):
        events.append((row.cursor, CategoryUpdate(row.name, "run", None, row.cursor)))
    q = select(s.run_id, s.kind, s.tag, s.cursor).where(s.cursor > after, s.cursor <= until, s.kind != "plugin")
    for row in conn.execute(q):
        events.append((row.cursor, CategoryUpdate(runs[row.run_id], row.kind, row.tag, row.cursor)))
    commit.categories = [c for _, c in sorted(events, key=lambda e: e[0])]
    updates = _scalar_updates(conn, after, until, runs, series) + _histogram_updates(conn, after, until, runs, series)
    commit.updates = sorted(updates, key=lambda u: u.cursors[0])
    commit.points = sum(len(u.cursors) for u in commit.updates)
    return commit


def _scalar_updates(conn, after, until, runs, series) -> list[SeriesUpdate]:  # type: ignore[no-untyped-def]
    c = t.scalar_chunks.c
    q = (select(c.series_id, c.first_cursor, c.count, c.steps, c.wall_times, c["values"], c.cursors)
         .where(c.last_cursor > after, c.first_cursor <= until).order_by(c.first_cursor))
    parts: dict[int, list[tuple[np.ndarray, ...]]] = {}
    for row in conn.execute(q):
        cursors = codec.chunk_cursors(row)
        keep = (cursors > after) & (cursors <= until)
        parts.setdefault(row.series_id, []).append((
            cursors[keep], codec.unpack_i64(row.steps)[keep], codec.unpack_f64(row.wall_times)[keep],
            codec.unpack_f64(row._mapping["values"])[keep]))
    updates = []
    for sid, chunks in parts.items():
        cursors, steps, walls, values = (np.concatenate(col) for col in zip(*chunks))
        if not len(cursors):
            continue
        order = np.argsort(cursors, kind="stable")
        run_id, _kind, tag = series[sid]
        cols = ScalarColumns(steps[order].tolist(), walls[order].tolist(), values[order].tolist())
        updates.append(SeriesUpdate("scalar", runs[run_id], tag, cursors[order].tolist(), cols))
    return updates


def _histogram_updates(conn, after, until, runs, series) -> list[SeriesUpdate]:  # type: ignore[no-untyped-def]
    got = histochunks.read(conn, after, until)
    updates = []
    for sid in dict.fromkeys(got.series_ids.tolist()):  # in order of each series' first cursor
        where = np.flatnonzero(got.series_ids == sid)
        run_id, _kind, tag = series[sid]
        part = histochunks.Stored(got.series_ids[where], got.cursors[where], got.steps[where],
                                  got.wall_times[where], got.stats[where], [got.buckets[i] for i in where.tolist()])
        updates.append(SeriesUpdate("histogram", runs[run_id], tag, part.cursors.tolist(), histograms=part.records(tag)))
    return updates
