"""One session database: a single writer thread, pooled readers, an async facade.

SQLite allows one writer at a time, so one thread owns the write connection and drains a queue
of jobs, each run in its own transaction; readers take pooled connections and, thanks to WAL,
never wait for the writer. The async methods let the web layer await either side without
blocking the event loop. Alembic migrations run when the file is opened.

Opening checks the file first (`PRAGMA quick_check`, a schema this version knows) and refuses a
damaged one with `DatabaseUnusable`, whose message names the file and the way out, rather than
failing later on every request. A database in a read-only place opens read-only: it is served,
never written.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DBAPIError

from tsvis_live.store import backend, schema, statements
from tsvis_live.store.backend import PostgresTarget

log = logging.getLogger(__name__)
T = TypeVar("T")
_STOP = object()
URGENT, BULK = 0, 1  # write priorities: live tailing goes ahead of a backlog's windows


WRITER_AUTOCHECKPOINT = 16384  # pages (64 MB): the WAL's bound; see Checkpointer


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")  # with WAL: a process crash loses no commit
    cur.execute("PRAGMA foreign_keys=OFF")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA cache_size=-8000")  # 8 MB a connection: writes are appends
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.execute(f"PRAGMA wal_autocheckpoint={WRITER_AUTOCHECKPOINT}")  # see Checkpointer
    cur.close()


class Checkpointer(threading.Thread):
    """Copies committed WAL frames into the database file, off the writer thread.

    Why: with SQLite's default (an automatic checkpoint inside every COMMIT that leaves more
    than 1,000 pages in the WAL), the writer thread spent about two thirds of its COMMIT time
    copying pages and waiting for the two fsyncs of each checkpoint during a backlog. Here a
    second connection runs `PRAGMA wal_checkpoint(PASSIVE)` at most every `interval` seconds
    after a commit: the driver releases the GIL while SQLite works, so the copy overlaps the
    writer's next window. The writer's own autocheckpoint (`WRITER_AUTOCHECKPOINT` pages, set on
    its connection) bounds the WAL: this thread alone does not, since readers that keep taking
    snapshots keep a checkpoint from completing, and only a complete one lets the next write
    start the WAL over. SQLite's default bound (1,000 pages, which the writer had until its
    setting was applied) put a checkpoint and its fsyncs into a third of a backlog's COMMITs:
    64 MB made a first pass 5-15% faster (2.04M events 0.84-0.91 -> 0.73-0.76 s, 10.2M 4.1-4.2
    -> 3.7-3.8 s). Durability does not depend on either: a commit is durable once it is in the
    WAL (synchronous=NORMAL), and a checkpoint that fails or never runs loses nothing (the
    frames stay in the WAL).
    """

    def __init__(self, path: Path, interval: float = 0.2, idle: float = 5.0, min_frames: int = 1000) -> None:
        super().__init__(name="tsvis-checkpoint", daemon=True)
        self.path, self.interval, self.idle, self.min_frames = path, interval, idle, min_frames
        self._due = threading.Event()
        self._stopping = threading.Event()
        self.runs = 0  # checkpoints done (tests, benchmarks)

    def committed(self) -> None:
        """Called by the writer after each commit."""
        self._due.set()

    def run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, timeout=10, check_same_thread=False, isolation_level=None)
        except sqlite3.Error:
            log.warning("no checkpoint connection to %s: the writer checkpoints alone", self.path)
            return
        pause = self.interval
        try:
            while not self._stopping.is_set():
                self._due.wait()
                if self._stopping.is_set():
                    break
                self._due.clear()
                try:
                    _busy, frames, _done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self.runs += 1
                except sqlite3.Error as exc:  # disk full, I/O error: the frames stay in the WAL
                    log.debug("background checkpoint failed: %s", exc)
                    frames = 0
                # a backlog fills the WAL fast: checkpoint often; live tailing adds a few pages a
                # second: back off, so a checkpoint (two fsyncs) covers many commits
                pause = self.interval if frames >= self.min_frames else min(2 * pause, self.idle)
                self._stopping.wait(pause)
        finally:
            conn.close()

    def stop(self) -> None:
        self._stopping.set()
        self._due.set()
        self.join(timeout=30)


def _read_only_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA query_only=ON")
    cur.execute("PRAGMA cache_size=-8000")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()


SCHEMA_REVISION = "0004"  # the newest migration; a test keeps it equal to Alembic's head
KNOWN_REVISIONS = ("0001", "0002", "0003", "0004")  # every migration, oldest first


class DatabaseUnusable(RuntimeError):
    """The session database cannot be used as it is. The message is one line for a person."""

    def __init__(self, path: Path | str, problem: str, remedy: str | None = None) -> None:
        remedy = remedy or ("move it aside, or start with --rebuild to re-read the logdir into a "
                            "fresh database")
        super().__init__(f"the session database {path} {problem}; {remedy}")
        self.path = path


class ReadOnlyStore(RuntimeError):
    """A write was asked of a database opened read-only."""


def set_aside(path: Path) -> Path | None:
    """Rename a session database (and its WAL files) to `<name>.damaged-<time>`; returns the
    new name, None when there was nothing to move."""
    path = Path(path)
    if not path.exists():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(path) + suffix)
        if src.exists():
            src.rename(Path(str(target) + suffix))
    return target


def _check(conn: Connection, path: Path | str) -> None:
    """Refuse a file that is not a healthy database of a schema this version knows."""
    if conn.dialect.name == "sqlite":
        try:
            problems = [row[0] for row in conn.exec_driver_sql("PRAGMA quick_check(5)")]
        except DBAPIError as exc:
            raise DatabaseUnusable(path, f"cannot be read ({exc.orig})") from None
        if problems != ["ok"]:
            lines = [ln.strip() for p in problems for ln in str(p).splitlines()]
            first = next((ln for ln in lines if ln and not ln.startswith("***")), "quick_check failed")
            raise DatabaseUnusable(path, f"is damaged ({first})")
    revision = _current_revision(conn)
    if revision is not None and revision not in KNOWN_REVISIONS:
        raise DatabaseUnusable(path, f"was written by a newer tsvis-live (schema {revision})",
                               "upgrade tsvis-live, or start with --rebuild to re-read the logdir "
                               "into a fresh database")


def _current_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def describe_error(exc: DBAPIError) -> str:
    """The driver's first line, without SQL text or parameters."""
    first = str(exc.orig).strip().splitlines()
    return first[0] if first else type(exc.orig).__name__


def migrate(conn: Connection) -> None:
    """Bring the schema to the newest revision (Alembic), inside the given connection.

    An up-to-date database skips Alembic entirely: importing it costs a tenth of a second,
    and reopening a stored session should be instant.
    """
    if _current_revision(conn) == SCHEMA_REVISION:
        return
    if conn.dialect.name == "sqlite" and _is_empty(conn):
        _create_newest(conn)
        return
    conn.rollback()
    from alembic import command
    from alembic.config import Config

    location = resources.files("tsvis_live.migrations")
    config = Config()
    config.set_main_option("script_location", str(location))
    config.attributes["connection"] = conn
    command.upgrade(config, "head")


def _is_empty(conn: Connection) -> bool:
    return conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar() == 0


def _create_newest(conn: Connection) -> None:
    """A new SQLite file gets the newest schema in one transaction, stamped as Alembic would.

    The same tables, columns and indexes as `alembic upgrade head` from nothing (a test
    compares them), without importing Alembic or replaying every migration: a quarter of a
    second of a new session's start. One transaction, so a crash leaves an empty file that the
    next start builds again (Alembic on SQLite commits each statement on its own).
    """
    conn.rollback()
    conn.exec_driver_sql("BEGIN IMMEDIATE")  # pysqlite would not open one before DDL
    schema.metadata.create_all(conn)
    conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                         "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))")
    conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": SCHEMA_REVISION})


class Database:
    """A session's store (a SQLite file, or a PostgreSQL schema) with its writer thread and
    reader pool.

    `fence`, when set, runs first in every write transaction: on PostgreSQL it proves this
    process still holds the session's ingest election (see `store.election`), so a process that
    lost it can never commit over its successor. A job marked `unfenced` (claiming a new epoch
    after winning the election again) runs without it.
    """

    def __init__(self, path: Path | None, readers: int = 4, read_only: bool = False,
                 postgres: PostgresTarget | None = None, session_id: str = "", logdir: str = "") -> None:
        self.path = Path(path) if path is not None else None
        self.postgres = postgres
        self.where = postgres.shown if postgres else str(self.path)  # for messages
        self.read_only = read_only
        self.fence: Callable[[Connection], None] | None = None
        if postgres is not None:
            self.engine = backend.postgres_engine(postgres, readers)
            try:
                with self.engine.begin() as conn:
                    backend.ensure_schema(conn, postgres, session_id, logdir)
            except DBAPIError as exc:
                self.engine.dispose()
                raise DatabaseUnusable(self.where, f"cannot be opened ({describe_error(exc)})",
                                       "check the --database URL and that PostgreSQL answers") from None
        elif read_only:
            if not self.path.is_file():
                raise DatabaseUnusable(self.path, "does not exist and the data dir is read-only",
                                       "give a writable --data-dir")
            # immutable: nobody can write here, so SQLite needs no lock and no -shm file
            url = f"sqlite:///file:{self.path}?mode=ro&immutable=1&uri=true"
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{self.path}"
        if postgres is None:
            self.engine: Engine = create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": 10},
                pool_size=readers,
                max_overflow=readers,
            )
            event.listen(self.engine, "connect", _read_only_pragmas if read_only else _sqlite_pragmas)
        self._jobs: queue.PriorityQueue = queue.PriorityQueue()  # (priority, seq, job)
        self._seq = itertools.count()
        self._rollback_listeners: list[Callable[[BaseException], None]] = []
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="tsvis-read")
        try:
            with self.engine.connect() as conn:
                _check(conn, self.where)
                if read_only:
                    if _current_revision(conn) != SCHEMA_REVISION:
                        raise DatabaseUnusable(self.where, "needs a schema upgrade but is read-only",
                                               "open it once from a writable --data-dir")
                else:
                    key = {"k": f"tsvis-live:migrate:{postgres.schema}" if postgres else ""}
                    if postgres is not None:  # replicas opening one session migrate one at a time
                        conn.execute(text("SELECT pg_advisory_lock(hashtext(:k))"), key)
                        conn.commit()
                    migrate(conn)
                    if session_id:  # where the session came from, for `tsvis-live migrate`
                        save = statements.for_dialect(conn.dialect).SAVE_SETTING
                        conn.execute(save, [{"key": "session_id", "value": session_id},
                                            {"key": "logdir", "value": logdir}])
                    conn.commit()
                    if postgres is not None:
                        conn.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), key)
                        conn.commit()
        except DatabaseUnusable:
            self._dispose()
            raise
        except DBAPIError as exc:
            self._dispose()
            raise DatabaseUnusable(self.where, f"cannot be opened ({describe_error(exc)})") from None
        self._checkpointer: Checkpointer | None = None
        if postgres is None and not read_only:
            self._checkpointer = Checkpointer(self.path)
            self._checkpointer.start()
        self._writer = threading.Thread(target=self._drain, name="tsvis-writer", daemon=True)
        self._writer.start()
        self._closed = False

    def _dispose(self) -> None:
        self._readers.shutdown(wait=False)
        self.engine.dispose()

    # -- writer side -------------------------------------------------------------------
    def _drain(self) -> None:
        with self.engine.connect() as conn:
            while True:
                _priority, _seq, job = self._jobs.get()
                if job is _STOP:
                    return
                fn, future = job
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    with conn.begin():  # the COMMIT itself can fail (disk full, I/O error)
                        if self.fence is not None and not getattr(fn, "unfenced", False):
                            self.fence(conn)
                        result = fn(conn)
                except BaseException as exc:  # the job's caller decides what it means
                    # After a failed COMMIT the driver may still hold the transaction open
                    # (SQLite does for some errors), and a later COMMIT would then store it
                    # after all. A fresh connection guarantees the rollback.
                    conn.invalidate()
                    self._rolled_back(exc)
                    future.set_exception(exc)
                else:
                    if self._checkpointer is not None:
                        self._checkpointer.committed()
                    future.set_result(result)

    def on_rollback(self, listener: Callable[[BaseException], None]) -> None:
        """Call `listener` on the writer thread after any write transaction fails, wherever it
        failed (in the job or at COMMIT): caches of what the transaction wrote must be dropped,
        or ids it allocated would be reused for other rows."""
        self._rollback_listeners.append(listener)

    def _rolled_back(self, exc: BaseException) -> None:
        for listener in self._rollback_listeners:
            try:
                listener(exc)
            except Exception:  # a listener's bug must not kill the writer thread
                log.exception("rollback listener failed")

    def submit(self, fn: Callable[[Connection], T], priority: int = URGENT) -> Future[T]:
        """Queue `fn(conn)` to run in one transaction on the writer thread.

        Jobs run in order of `priority`, then of submission: a backlog submits BULK, so a live
        commit waits for at most the one bulk window being written, never for the queue.
        """
        if self._closed:
            raise RuntimeError(f"database {self.where} is closed")
        if self.read_only:
            raise ReadOnlyStore(f"database {self.where} is open read-only")
        future: Future[T] = Future()
        self._jobs.put((priority, next(self._seq), (fn, future)))
        return future

    def write_sync(self, fn: Callable[[Connection], T]) -> T:
        return self.submit(fn).result()

    async def write(self, fn: Callable[[Connection], T]) -> T:
        return await asyncio.wrap_future(self.submit(fn))

    # -- reader side -------------------------------------------------------------------
    def read_sync(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.connect() as conn:
            return fn(conn)

    async def read(self, fn: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self.read_sync, fn)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._jobs.put((BULK + 1, next(self._seq), _STOP))
        self._writer.join(timeout=30)
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self._readers.shutdown(wait=True)
        self.engine.dispose()
