"""Copy stored sessions between backends (`tsvis-live migrate SRC DST`), verified.

A source or destination is a PostgreSQL URL (every session it holds, or those asked for), a
SQLite session file, or a directory of them (a --data-dir). Tables are copied in dependency
order with their ids and cursors unchanged, in batches, inside one destination transaction per
session: a failure leaves the destination as it was. Afterwards each table is compared by row
count and by a SHA-256 over its rows in key order, read back from both sides.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Table, func, select, text

from tsvis_live.store import backend
from tsvis_live.store import schema as t
from tsvis_live.store.database import Database

log = logging.getLogger(__name__)
BATCH = 2_000  # rows per read and per insert (blobs can be megabytes each)
ORDER = (t.settings, t.runs, t.files, t.series, t.blobs, t.scalar_chunks, t.scalar_summaries, t.histogram_chunks,
         t.media, t.tensors, t.graphs, t.hparams, t.layouts, t.computed)  # parents before children


class TransferError(RuntimeError):
    """A migration that cannot start or whose copy does not verify; one line for a person."""


@dataclass
class StoredRef:
    """One session in some backend: how to open its Database."""

    session_id: str
    logdir: str
    path: Path | None = None  # SQLite file
    postgres: backend.PostgresTarget | None = None

    def open(self) -> Database:
        return Database(self.path, readers=1, postgres=self.postgres, session_id=self.session_id, logdir=self.logdir)

    @property
    def shown(self) -> str:
        return self.postgres.shown if self.postgres else str(self.path)


_FILE_ID = re.compile(r"-([0-9a-f]{16})\.sqlite$")


def sources(spec: str, only: set[str] | None = None) -> list[StoredRef]:
    """The sessions `spec` holds: a PostgreSQL URL, a SQLite session file or a directory of them."""
    if "://" in spec:
        url = backend.normalize_url(spec)
        refs = [StoredRef(sid, logdir, postgres=backend.PostgresTarget(url, schema))
                for sid, logdir, schema in backend.list_sessions(url)]
    else:
        path = Path(spec)
        files = sorted(path.glob("*.sqlite")) if path.is_dir() else [path]
        refs = []
        for f in files:
            if not f.is_file():
                raise TransferError(f"{f} is not a session database file or a directory of them")
            m = _FILE_ID.search(f.name)
            refs.append(StoredRef(m.group(1) if m else hashlib.sha256(str(f.resolve()).encode()).hexdigest()[:16],
                                  "", path=f))
    if only:
        refs = [r for r in refs if r.session_id in only]
    return refs


def destination(spec: str, src: StoredRef, logdir: str) -> StoredRef:
    if "://" in spec:
        url = backend.normalize_url(spec)
        return StoredRef(src.session_id, logdir, postgres=backend.PostgresTarget(url, backend.schema_for(src.session_id)))
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(logdir).name)[:40] if logdir else "session"
    return StoredRef(src.session_id, logdir, path=Path(spec) / f"{slug or 'root'}-{src.session_id}.sqlite")


def _key(table: Table):  # type: ignore[no-untyped-def]
    return list(table.primary_key.columns)


def _rows(conn: Connection, table: Table) -> Iterator[list[dict]]:
    """A table's rows in key order, in batches (keyset paging: no OFFSET rescans)."""
    (key,) = _key(table)
    last = None
    while True:
        q = select(table).order_by(key).limit(BATCH)
        if last is not None:
            q = q.where(key > last)
        batch = [dict(r._mapping) for r in conn.execute(q)]
        if not batch:
            return
        yield batch
        last = batch[-1][key.name]


def _digest_value(value: object) -> bytes:
    if isinstance(value, float):
        return b"nan" if math.isnan(value) else repr(value).encode()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return repr(value).encode()


def table_digest(conn: Connection, table: Table) -> tuple[int, str]:
    """(rows, SHA-256 over every value of every row in key order) of a table."""
    h, n = hashlib.sha256(), 0
    for batch in _rows(conn, table):
        for row in batch:
            for name in sorted(row):
                h.update(name.encode() + b"=" + _digest_value(row[name]) + b";")
            h.update(b"\n")
            n += 1
    return n, h.hexdigest()


def _copy(src: Connection, dst: Connection, progress: Callable[[str, int], None]) -> None:
    for table in ORDER:
        copied = 0
        for batch in _rows(src, table):
            dst.execute(table.insert(), batch)
            copied += len(batch)
        progress(table.name, copied)
    if dst.dialect.name == "postgresql":  # explicit ids: move each SERIAL past them
        for table in ORDER:
            for column in _key(table):
                seq = dst.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                  {"t": table.name, "c": column.name}).scalar()
                if seq:
                    dst.execute(text(f"SELECT setval('{seq}', GREATEST((SELECT max({column.name}) "
                                     f"FROM {table.name}), 1))"))


def _empty(conn: Connection) -> bool:
    return all(conn.execute(select(func.count()).select_from(table)).scalar() == 0
               for table in (t.runs, t.files, t.blobs))


def _ingest_lock(ref: StoredRef):  # type: ignore[no-untyped-def]
    if ref.postgres is not None:
        from tsvis_live.store.election import PgIngestLock

        return PgIngestLock(ref.postgres.url, ref.session_id)
    from tsvis_live.store.lock import IngestLock

    return IngestLock(ref.path)


def migrate_session(src: StoredRef, dst_spec: str, replace: bool = False,
                    progress: Callable[[str, int], None] = lambda _t, _n: None) -> dict[str, tuple[int, str]]:
    """Copy one session to `dst_spec` and verify it; returns {table: (rows, sha256)}.

    Holds the source's ingest lock meanwhile: a session being ingested would change under the
    copy, so that is refused with the holder's name."""
    lock = _ingest_lock(src)
    if not lock.acquire():
        raise TransferError(f"session {src.session_id} is being ingested by {lock.holder()}; stop it first")
    try:
        return _migrate_locked(src, dst_spec, replace, progress)
    finally:
        lock.release()


def _migrate_locked(src: StoredRef, dst_spec: str, replace: bool,
                    progress: Callable[[str, int], None]) -> dict[str, tuple[int, str]]:
    source = src.open()
    try:
        logdir = src.logdir or source.read_sync(
            lambda c: c.execute(select(t.settings.c.value).where(t.settings.c.key == "logdir")).scalar()) or ""
        dst = destination(dst_spec, src, logdir)
        if dst.path is not None and dst.path.resolve() == (src.path.resolve() if src.path else None):
            raise TransferError(f"{dst.shown} is the source itself")
        target = dst.open()
        try:
            def copy(conn: Connection) -> None:
                if not _empty(conn):
                    if not replace:
                        raise TransferError(f"{dst.shown} already holds session {src.session_id}; give "
                                            "--replace to overwrite it")
                for table in reversed(ORDER):
                    conn.execute(table.delete())
                source.read_sync(lambda s: _copy(s, conn, progress))

            target.write_sync(copy)
            want = source.read_sync(lambda c: {tb.name: table_digest(c, tb) for tb in ORDER})
            got = target.read_sync(lambda c: {tb.name: table_digest(c, tb) for tb in ORDER})
        finally:
            target.close()
    finally:
        source.close()
    bad = [name for name in want if want[name] != got[name]]
    if bad:
        raise TransferError(f"the copy of session {src.session_id} differs from its source in {', '.join(bad)}")
    return want
