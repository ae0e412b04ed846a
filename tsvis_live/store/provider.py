"""`Store`: the one interface between a session's store and everything that uses it.

REST routes, `/ws`, the polling endpoint, the follower's push, the Python reader and the
ingester all go through a `Store`; nothing outside `tsvis_live/store/` sees SQL, a dialect or a
connection (tests/test_store_boundary.py keeps it so). In the spirit of TensorBoard's
`DataProvider` and MLflow's `AbstractStore`: methods say what is wanted (a series with a step
range and downsampling, a page of media, a cached computation), the store decides how.

Data flow: log files -> records (formats) -> points (ingest) -> `Store.commit` (the writer
thread) -> the hub (live commits) -> clients; reads come back through the `Store` methods.

Underneath is `Database`: async methods run on its reader pool (or, for writes, its writer
thread) and never block the event loop; `*_sync` methods are for threads (ingest, the Redis
hub's gap fill, the Python API). A method that reads several things does so in one job, that
is one connection and one transaction, so what it returns is consistent (the poll read's
cursor matches its points). Shaping that is not a read (graph building, statistics) runs via
`offload`, on the same pool, off the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import Connection
from sqlalchemy import exc as _sa_exc

from tsvis_live.records import Batch
from tsvis_live.store import reader, summaries, writer
from tsvis_live.store.changes import changes_between
from tsvis_live.store.database import URGENT, Database
from tsvis_live.store.filestate import FileState
from tsvis_live.store.reader import (
    HistogramPoint,
    MediaEntry,
    NotFound,
    RunRecords,
    ScalarSeries,
    TensorEntry,
)
from tsvis_live.store.select import HistogramRead, ScalarRead, select_histograms, select_scalars
from tsvis_live.store.writer import Commit, StoreWriter

__all__ = [
    "Catalog", "DamagedStore", "HistogramPoint", "HistogramRead", "MediaEntry", "MediaPage", "NotFound",
    "Poll", "ROW_ERRORS", "ScalarRead", "ScalarSeries", "Store", "StoreError", "TensorEntry",
]

T = TypeVar("T")
Key = tuple[str, str, str]  # kind ("scalar" | "histogram"), run, tag
SeriesRead = ScalarRead | HistogramRead

StoreError = _sa_exc.DBAPIError  # any failure the database driver reported
DamagedStore = _sa_exc.DatabaseError  # a read met a damaged or unreadable database
# errors about one write's data (a file's bad window), not about the store as a whole
ROW_ERRORS = (_sa_exc.IntegrityError, _sa_exc.DataError, _sa_exc.ProgrammingError, _sa_exc.InterfaceError)


@dataclass
class Catalog:
    """Everything getCategory shows, read at one moment."""

    runs: list[tuple[str, int]]  # (run, cursor), in creation order
    series: list[tuple[str, str, str, int]]  # (run, kind, tag, cursor), in cursor order
    records: RunRecords  # graph kinds, hparams and layouts per run
    with_vectors: set[tuple[str, str]]  # embedding (run, tag) holding vectors (read when any)
    plugins: dict[str, dict[str, str]]  # tag -> plugin of the runs holding run metadata


@dataclass
class MediaPage:
    """A page of a media series; `data[i]` holds entry i's bytes when they were asked for."""

    total: int
    entries: list[MediaEntry]
    data: list[bytes | None] = field(default_factory=list)


@dataclass
class Poll:
    """What the store gained after a cursor, up to `until` (its newest cursor at the read)."""

    until: int
    runs: list[tuple[str, int]]  # new runs (run, cursor)
    series: list[tuple[str, str, str, int]]  # new series (run, kind, tag, cursor)
    points: dict[Key, SeriesRead]  # new points of the series asked for (those holding some)


# -- reads done in one connection (module level: they run on a reader thread) -----------------
def _scalars(conn: Connection, run: str, tag: str, since: int | None, until: int | None,
             cursors: bool, **view: Any) -> ScalarRead:
    if since is None and until is None:  # a step range or downsampling: only what the view needs
        read = summaries.select_stored(conn, run, tag, cursors=cursors, **view)
        if read is not None:
            return read
    raw = reader.scalar_series(conn, run, tag, since=since, until=until,
                               with_cursors=cursors or since is not None or until is not None)
    return select_scalars(raw, **view)


def _histograms(conn: Connection, run: str, tag: str, since: int | None, until: int | None,
                **view: Any) -> HistogramRead:
    return select_histograms(reader.histogram_series(conn, run, tag, since=since, until=until), **view)


def _points(conn: Connection, key: Key, since: int, until: int | None) -> SeriesRead:
    kind, run, tag = key
    if kind == "scalar":
        return _scalars(conn, run, tag, since, until, True, every=True)
    return _histograms(conn, run, tag, since, until, every=True)


def _snapshot(conn: Connection, key: Key, limit: int) -> SeriesRead:
    kind, run, tag = key
    if kind == "scalar":
        return _scalars(conn, run, tag, None, None, True, max_points=limit)
    return _histograms(conn, run, tag, None, None, samples=limit)  # superseded writes hidden, as REST


def _poll(conn: Connection, since: int, keys: Iterable[Key]) -> Poll:
    until = reader.max_cursor(conn)
    runs = [(run, c) for run, c in reader.list_runs(conn) if since < c <= until]
    series = [row for row in reader.list_series(conn, since) if row[3] <= until]
    points: dict[Key, SeriesRead] = {}
    for key in keys:
        try:
            read = _points(conn, key, since, until)
        except NotFound:
            continue  # not there yet: a later poll brings it, announced by its category
        if len(read):
            points[key] = read
    return Poll(until, runs, series, points)


def _catalog(conn: Connection) -> Catalog:
    series = reader.list_series(conn)
    records = reader.run_records(conn)
    with_vectors = reader.embeddings_with_vectors(conn) if any(k == "embedding" for _r, k, _t, _c in series) else set()
    plugins = {run: reader.plugins_of_run(conn, run)
               for run, kinds in records.graph_kinds.items() if "run_metadata" in kinds}
    return Catalog(reader.list_runs(conn), series, records, with_vectors, plugins)


def _last_values(conn: Connection, choices: list[list[tuple[str, str]]]) -> list[float | None]:
    memo: dict[tuple[str, str], float | None] = {}

    def last(run: str, tag: str) -> float | None:
        if (run, tag) not in memo:
            try:
                s = reader.scalar_series(conn, run, tag, with_cursors=False).visible()
            except NotFound:
                memo[(run, tag)] = None
            else:
                memo[(run, tag)] = float(s.values[-1]) if len(s) else None
        return memo[(run, tag)]

    out = []
    for sources in choices:
        out.append(next((v for v in (last(r, t) for r, t in sources) if v is not None), None))
    return out


def _media_page(conn: Connection, run: str, kind: str, tag: str, offset: int, limit: int | None,
                with_data: bool | Callable[[MediaEntry], bool]) -> MediaPage:
    total, entries = reader.media_list(conn, run, kind, tag, offset, limit)
    data: list[bytes | None] = []
    for e in entries:
        wanted = with_data(e) if callable(with_data) else with_data
        data.append(reader.media_blob(conn, run, kind, tag, e.step, e.index)[0] if wanted else None)
    return MediaPage(total, entries, data)


def _tensors(conn: Connection, run: str, kind: str, tag: str, newest_per_step: bool) -> list[tuple[TensorEntry, np.ndarray]]:
    entries = reader.tensor_entries(conn, run, kind, tag)  # ordered by (step, cursor)
    if newest_per_step:
        entries = list({e.step: e for e in entries}.values())
    return [(e, reader.load_array(conn, e.blob_id)) for e in entries]


def _tensor_at(conn: Connection, run: str, kind: str, tag: str, step: int | None,
               where: Callable[[TensorEntry], bool] | None) -> tuple[TensorEntry, np.ndarray]:
    if where is None:
        return reader.tensor_at(conn, run, kind, tag, step)
    entries = [e for e in reader.tensor_entries(conn, run, kind, tag)
               if where(e) and (step is None or e.step == step)]
    if not entries:
        raise NotFound(f"no {kind} at step {step} for tag {tag!r} in run {run!r}")
    entry = max(entries, key=lambda e: (e.step, e.cursor))
    return entry, reader.load_array(conn, entry.blob_id)


def _tensor_index(conn: Connection, kind: str, run: str | None) -> dict[tuple[str, str], list[TensorEntry]]:
    series = [(r, tag) for r, k, tag, _c in reader.list_series(conn) if k == kind and run in (None, r)]
    return {(r, tag): reader.tensor_entries(conn, r, kind, tag) for r, tag in series}


def _tensors_at(conn: Connection, run: str, kind: str, tags: list[str],
                step: int) -> dict[str, tuple[TensorEntry, np.ndarray]]:
    out = {}
    for tag in tags:
        try:
            out[tag] = reader.tensor_at(conn, run, kind, tag, step)
        except NotFound:
            continue
    return out


class Store:
    """A session's store: typed reads and writes over its `Database` (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- what it is ------------------------------------------------------------------------
    @property
    def backend(self) -> str:
        """"sqlite" or "postgresql"."""
        return self.db.engine.dialect.name

    @property
    def path(self) -> Path | None:
        """The SQLite file (None on PostgreSQL)."""
        return self.db.path

    @property
    def read_only(self) -> bool:
        return self.db.read_only

    async def offload(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a pure function (no store access) on the reader pool, off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.db._readers, fn, *args)

    # -- runs, tags, categories ------------------------------------------------------------
    async def max_cursor(self) -> int:
        """The newest cursor committed to the store."""
        return await self.db.read(reader.max_cursor)

    async def runs(self) -> list[tuple[str, int]]:
        return await self.db.read(reader.list_runs)

    def runs_sync(self) -> list[tuple[str, int]]:
        return self.db.read_sync(reader.list_runs)

    def series_sync(self, since: int | None = None) -> list[tuple[str, str, str, int]]:
        """(run, kind, tag, cursor) of every series (after `since`), in cursor order."""
        return self.db.read_sync(lambda conn: reader.list_series(conn, since))

    async def catalog(self) -> Catalog:
        return await self.db.read(_catalog)

    async def plugins(self, run: str) -> dict[str, str]:
        """tag -> plugin name of a run's tensor series."""
        return await self.db.read(lambda conn: reader.plugins_of_run(conn, run))

    # -- series ----------------------------------------------------------------------------
    async def scalars(self, run: str, tag: str, *, since: int | None = None, until: int | None = None,
                      start: int | None = None, end: int | None = None, max_points: int | None = None,
                      every: bool = False, smoothing: float = 0.0, bands: bool = False,
                      cursors: bool = False) -> ScalarRead:
        """A scalar series as views show it (`store.select`): points with since < cursor <=
        until, the newest write per step unless `every`, steps in [start, end], downsampled to
        `max_points`; `cursors` keeps the per-point cursors (always kept for a cursor range)."""
        return await self.db.read(lambda conn: _scalars(
            conn, run, tag, since, until, cursors, every=every, start=start, end=end,
            max_points=max_points, smoothing=smoothing, bands=bands))

    def scalars_sync(self, run: str, tag: str, *, every: bool = False) -> ScalarRead:
        """The whole series (the newest write per step unless `every`), from any thread."""
        return self.db.read_sync(lambda conn: _scalars(conn, run, tag, None, None, False, every=every))

    async def histograms(self, run: str, tag: str, *, start: int | None = None, end: int | None = None,
                         samples: int | None = None, every: bool = False) -> HistogramRead:
        """A histogram series as views show it: like `scalars`, sampled evenly to `samples`."""
        return await self.db.read(lambda conn: _histograms(
            conn, run, tag, None, None, every=every, start=start, end=end, samples=samples))

    async def points(self, key: Key, since: int, until: int | None = None) -> SeriesRead:
        """Every stored write of a series with since < cursor <= until, in cursor order (a replay)."""
        return await self.db.read(lambda conn: _points(conn, key, since, until))

    async def snapshot(self, key: Key, limit: int) -> SeriesRead:
        """The current series for a new live subscriber, downsampled to `limit` points."""
        return await self.db.read(lambda conn: _snapshot(conn, key, limit))

    async def poll(self, since: int, keys: Iterable[Key]) -> Poll:
        """New runs, series and points after `since`, all read at one moment."""
        keys = list(keys)
        return await self.db.read(lambda conn: _poll(conn, since, keys))

    async def last_values(self, choices: list[list[tuple[str, str]]]) -> list[float | None]:
        """Per list of (run, tag) choices: the last shown value of the first series that has one."""
        return await self.db.read(lambda conn: _last_values(conn, choices))

    # -- media -----------------------------------------------------------------------------
    async def media_page(self, run: str, kind: str, tag: str, offset: int = 0, limit: int | None = None,
                         with_data: bool | Callable[[MediaEntry], bool] = False) -> MediaPage:
        """A page of image/audio/text entries, ordered by (step, index); the bytes of the
        entries `with_data` selects (a predicate runs in the reader thread)."""
        return await self.db.read(lambda conn: _media_page(conn, run, kind, tag, offset, limit, with_data))

    async def media_blob(self, run: str, kind: str, tag: str, step: int, index: int = 0) -> tuple[bytes, str, bytes]:
        """(data, stored mime, digest) of one sample; the newest write of a step wins."""
        return await self.db.read(lambda conn: reader.media_blob(conn, run, kind, tag, step, index))

    # -- tensors (embeddings, exceptions, PR curves) ---------------------------------------
    async def tensor_entries(self, run: str, kind: str, tag: str) -> list[TensorEntry]:
        """Every tensor write of a series, ordered by (step, cursor), without the arrays."""
        return await self.db.read(lambda conn: reader.tensor_entries(conn, run, kind, tag))

    async def tensors(self, run: str, kind: str, tag: str,
                      newest_per_step: bool = False) -> list[tuple[TensorEntry, np.ndarray]]:
        """Entries with their arrays (`newest_per_step`: only the newest write of each step)."""
        return await self.db.read(lambda conn: _tensors(conn, run, kind, tag, newest_per_step))

    async def tensor_at(self, run: str, kind: str, tag: str, step: int | None = None,
                        where: Callable[[TensorEntry], bool] | None = None) -> tuple[TensorEntry, np.ndarray]:
        """The newest write at `step` (None: the last step) among the entries `where` accepts."""
        return await self.db.read(lambda conn: _tensor_at(conn, run, kind, tag, step, where))

    async def tensor_index(self, kind: str, run: str | None = None) -> dict[tuple[str, str], list[TensorEntry]]:
        """(run, tag) -> entries (no arrays) of every `kind` series of `run` (None: every run),
        read at one moment; series in cursor order (meshes group their parts from it)."""
        return await self.db.read(lambda conn: _tensor_index(conn, kind, run))

    async def tensors_at(self, run: str, kind: str, tags: list[str],
                         step: int) -> dict[str, tuple[TensorEntry, np.ndarray]]:
        """The newest write at `step` of each of `tags` that has one, read at one moment (the
        parts of one mesh); tags without a write at `step` are left out."""
        return await self.db.read(lambda conn: _tensors_at(conn, run, kind, tags, step))

    async def arrays(self, blob_ids: list[int]) -> list[np.ndarray]:
        """Arrays stored beside tensor entries (`TensorEntry.blob_id` and `extras` ids)."""
        return await self.db.read(lambda conn: [reader.load_array(conn, b) for b in blob_ids])

    # -- run-level records -----------------------------------------------------------------
    async def graphs(self, run: str) -> list[tuple[str, str, bytes]]:
        """(kind, tag, data) of a run's graph records, newest last."""
        return await self.db.read(lambda conn: reader.graphs(conn, run))

    async def hparams(self, run: str | None = None) -> list[dict[str, Any]]:
        """Hyperparameter records of one run (NotFound names a missing run) or of all."""
        return await self.db.read(lambda conn: reader.hparams(conn, run))

    async def layouts(self) -> list[dict[str, Any]]:
        return await self.db.read(reader.layouts)

    async def files(self) -> list[dict[str, Any]]:
        """Per log file: run, path, format, offset, size, status, error, events, skipped."""
        return await self.db.read(reader.files)

    def files_sync(self) -> list[dict[str, Any]]:
        return self.db.read_sync(reader.files)

    # -- cached computations ---------------------------------------------------------------
    async def computed_get(self, key: str) -> bytes | None:
        return await self.db.read(lambda conn: reader.computed_get(conn, key))

    async def computed_put(self, key: str, value: bytes) -> None:
        """Remember a computed result (the first write of a key wins)."""
        await self.db.write(lambda conn: writer.save_computed(conn, key, value))

    # -- live: what was committed between two cursors --------------------------------------
    async def changes(self, after: int, until: int | None = None) -> Commit:
        """The points, runs and series with after < cursor <= until, as one `Commit`."""
        return await self.db.read(lambda conn: changes_between(conn, after, until))

    def changes_sync(self, after: int, until: int | None = None) -> Commit:
        return self.db.read_sync(lambda conn: changes_between(conn, after, until))

    # -- ingest ----------------------------------------------------------------------------
    def writer(self) -> StoreWriter:
        """A writer for one ingester: its id caches are dropped whenever a write rolls back."""
        w = StoreWriter()
        self.db.on_rollback(lambda _exc: w.invalidate())
        return w

    def file_states_sync(self) -> tuple[dict[str, FileState], dict[str, dict[str, str]]]:
        """Where an ingester resumes: file states by path, and each run's tag -> plugin."""
        return self.db.read_sync(reader.file_states)

    def commit(self, w: StoreWriter, state: FileState, batch: Batch, replace: bool = False,
               priority: int = URGENT) -> Future[Commit]:
        """Queue one window of a file (its points and new offset) as one transaction."""
        return self.db.submit(lambda conn: w.commit(conn, state, batch, replace), priority)

    def commit_many(self, w: StoreWriter, windows: list[tuple[FileState, Batch, bool]],
                    priority: int = URGENT) -> Future[list[Commit]]:
        """Queue several files' windows as one transaction: all are stored, or none is."""
        return self.db.submit(lambda conn: [w.commit(conn, s, b, r) for s, b, r in windows], priority)

    async def claim_epoch(self) -> int:
        """On PostgreSQL, take the next ingest epoch and fence every later write with it."""
        return await asyncio.wrap_future(self._claim())

    def claim_epoch_sync(self) -> int:
        return self._claim().result()

    def _claim(self) -> Future[int]:
        from tsvis_live.store.election import claim_epoch, epoch_fence

        def claim(conn: Connection) -> int:
            epoch = claim_epoch(conn)
            self.db.fence = epoch_fence(epoch)  # set on the writer thread, before its next job
            return epoch

        claim.unfenced = True  # type: ignore[attr-defined]  # an older epoch's fence must not refuse it
        return self.db.submit(claim)
