"""One ingesting process per session across machines: a PostgreSQL advisory lock plus an epoch.

With a shared PostgreSQL store any replica may ingest a logdir, and exactly one must. The
election is `pg_try_advisory_lock` on a dedicated connection: PostgreSQL releases it the moment
that connection ends, SIGKILL of the holder included (the kernel closes its socket), so a
waiting replica takes over within its retry interval. Same interface as `store.lock.IngestLock`.

A lock alone does not fence: a holder whose lock connection broke (a network cut, a PostgreSQL
restart) may still have a write in flight while a successor starts. So the winner bumps an
epoch in the session's `settings` (`claim_epoch`), and every write transaction first checks it
under a row lock (`check_epoch`): the successor's bump waits for the old holder's open
transaction, and any later one of the old holder fails instead of committing.
"""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy import Connection, create_engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from tsvis_live.store import schema as t
from tsvis_live.store.backend import application_name

log = logging.getLogger(__name__)


class LostIngestLock(RuntimeError):
    """This process no longer holds the session's ingest election: another took over."""


def lock_key(session_id: str) -> int:
    """A signed 64-bit advisory-lock key for a session (stable across processes)."""
    digest = hashlib.sha256(f"tsvis-live:ingest:{session_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PgIngestLock:
    """A non-blocking, retryable ingest election on a session, held by a dedicated connection."""

    def __init__(self, url: str, session_id: str) -> None:
        self.key = lock_key(session_id)
        self._engine = create_engine(url, poolclass=NullPool,
                                     connect_args={"application_name": application_name()})
        self._conn: Connection | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    def acquire(self) -> bool:
        """Take the election if nobody holds it; False when another process does."""
        if self._conn is not None:
            return True
        conn = self._engine.connect()
        try:
            won = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar())
            conn.commit()
        except BaseException:
            conn.close()
            raise
        if not won:
            conn.close()
            return False
        self._conn = conn
        return True

    def alive(self) -> bool:
        """True while the lock connection still answers (and so still holds the lock)."""
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1")).scalar()
            self._conn.commit()
            return True
        except DBAPIError:
            self._drop()
            return False

    def holder(self) -> str:
        """Who holds the election, as PostgreSQL sees it (best effort, for messages)."""
        unsigned = self.key & 0xFFFFFFFFFFFFFFFF
        try:
            with self._engine.connect() as conn:
                row = conn.execute(text(
                    "SELECT a.application_name, a.client_addr FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                    "AND l.granted AND l.classid = :hi AND l.objid = :lo AND l.objsubid = 1"),
                    {"hi": unsigned >> 32, "lo": unsigned & 0xFFFFFFFF}).first()
        except DBAPIError:
            return "another process"
        if row is None or not row.application_name:
            return "another process"
        return str(row.application_name).removeprefix("tsvis-live ")

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except DBAPIError:
                pass

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                self._conn.commit()
            except DBAPIError:
                pass
            self._drop()
        self._engine.dispose()


_EPOCH = "ingest_epoch"


def claim_epoch(conn: Connection) -> int:
    """Writer job of a new election winner: the next epoch, recorded (waits for any open write
    transaction of the previous holder, which holds the epoch row)."""
    s = t.settings.c
    row = conn.execute(select(s.value).where(s.key == _EPOCH).with_for_update()).first()
    epoch = (int(row[0]) if row else 0) + 1
    if row is None:
        conn.execute(t.settings.insert().values(key=_EPOCH, value=str(epoch)))
    else:
        conn.execute(t.settings.update().where(s.key == _EPOCH).values(value=str(epoch)))
    return epoch


def epoch_fence(epoch: int):  # type: ignore[no-untyped-def]
    """A `Database.fence` that lets a write through only while `epoch` is the current one."""
    s = t.settings.c
    query = select(s.value).where(s.key == _EPOCH).with_for_update(read=True)

    def check(conn: Connection) -> None:
        current = conn.execute(query).scalar()
        if current is None or int(current) != epoch:
            raise LostIngestLock(f"another process took over this session's ingest (epoch {current}, "
                                 f"ours {epoch})")

    return check
