"""Sessions: one logdir, one store (a SQLite file or a PostgreSQL schema), one hub.

A session is identified by its logdir's real path, so restarting the server on the same logdir
reopens the same database: everything stored answers at once and only bytes written meanwhile
are read. When the logdir disappears the stored session stays browsable.

Exactly one process ingests a session (an OS file lock beside a SQLite file; a PostgreSQL
advisory lock plus an epoch fence on a shared database); every other process serving it is a
follower: it serves the store, pushes what the ingester commits (from the Redis broker, or by
reading the store's newest cursors) and takes over when the ingester stops.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tsvis_live.health import Health
from tsvis_live.identity import database_path, session_id_for
from tsvis_live.ingest.progress import Progress
from tsvis_live.ingest.source import Source, as_source
from tsvis_live.store import backend
from tsvis_live.store.database import Database, set_aside
from tsvis_live.store.lock import IngestLock, ReadOnlyDataDir
from tsvis_live.store.provider import Store
from tsvis_live.stream import watcher
from tsvis_live.stream.hub import LocalHub

log = logging.getLogger(__name__)
RETRY_CHECK = 1.0  # seconds between looks at the ingester's retry deadlines
LOCK_RETRY = 1.0  # seconds between a follower's tries to take over the ingest lock
FOLLOW_EVERY = 0.1  # seconds between a follower's looks at the store's newest cursor (no broker)
LOCK_CHECK = 2.0  # seconds between an ingester's checks that it still holds a PostgreSQL election


class PathRefused(ValueError):
    """A requested id/trainJobName would leave the log root."""


class Session:
    """A logdir's stored data, and (when this process holds the session's lock) its ingest.

    `role` says which: "ingest" (this process tails the logdir), "follower" (another process
    does; this one serves the store and takes over when that process stops), or "read-only"
    (the data dir cannot be written: the stored session is served as it is).
    """

    def __init__(self, logdir: Path | Source, data_dir: Path, poll: float | None = None, rebuild: bool = False,
                 database: str | None = None, broker: str | None = None, ingest: bool = True) -> None:
        self.source = as_source(logdir)  # one directory, a remote root (s3://...) or several roots
        self.logdir = self.source.logdir  # a Path for one local directory, as before; else the source
        self.id = session_id_for(self.logdir)
        self.may_ingest = ingest
        self.health = Health()  # open problems (store, files, discovery), for the status endpoint
        postgres = None
        if database:
            postgres = backend.PostgresTarget(backend.normalize_url(database), backend.schema_for(self.id))
            from tsvis_live.store.election import PgIngestLock

            self.lock = PgIngestLock(postgres.url, self.id)
            path = None
        else:
            path = database_path(data_dir, self.logdir)
            self.lock = IngestLock(path)
        try:
            self.role = "ingest" if ingest and self.lock.acquire() else "follower"
        except ReadOnlyDataDir:
            self.role = "read-only"
        if rebuild and self.role == "ingest":
            if postgres is not None:
                backend.drop_schema(postgres.url, postgres.schema)
                log.warning("dropped the stored session %s; re-reading %s", postgres.shown, self.logdir)
            else:
                moved = set_aside(path)
                if moved is not None:
                    log.warning("moved %s aside to %s; re-reading %s", path, moved.name, self.logdir)
        try:
            self.db = Database(path, read_only=self.role == "read-only", postgres=postgres,
                               session_id=self.id, logdir=str(self.logdir))
        except BaseException:
            self.lock.release()
            raise
        self.store = Store(self.db)  # what everything outside store/ reads and writes through
        self.hub = self._make_hub(broker)
        self.poll = poll
        self.ready = asyncio.Event()  # set once the data on disk at start is stored
        self.progress = Progress()
        self._stop = asyncio.Event()
        self._stopping = threading.Event()  # the same signal, for the ingest thread
        # two ingest lanes: the first pass (backlog) and live tailing, so live never waits
        self._backlog = ThreadPoolExecutor(1, thread_name_prefix=f"tsvis-backlog-{self.id[:6]}")
        self._live = ThreadPoolExecutor(1, thread_name_prefix=f"tsvis-live-{self.id[:6]}")
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handed: set[asyncio.Task] = set()  # live passes over files the backlog handed back
        self.ingester = None  # built on an ingest thread: its imports would delay serving
        self._ingester_lock = threading.Lock()

    def _make_hub(self, broker: str | None):  # type: ignore[no-untyped-def]
        if not broker:
            return LocalHub()
        from tsvis_live.stream.redis_hub import RedisHub

        return RedisHub(broker, self.id, fill=self.store.changes_sync, health=self.health)

    @property
    def read_only(self) -> bool:
        """True when the logdir is gone: the stored data is served, nothing new arrives."""
        return not self.source.exists()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.hub.bind(self._loop)
        self.hub.last_cursor = await self.store.max_cursor()
        if hasattr(self.hub, "start"):
            await self.hub.start()
        self._task = asyncio.create_task(self._run(), name=f"session-{self.id}")

    def _get_ingester(self):
        with self._ingester_lock:
            if self.ingester is None:
                from tsvis_live.ingest.ingester import Ingester

                self.ingester = Ingester(self.store, self.source, on_commit=self.hub.publish,
                                         stopping=self._stopping, health=self.health, handoff=self._hand_to_live)
            return self.ingester

    def _hand_to_live(self, files: list) -> None:
        """From the backlog's thread: read these files on the live lane (see `Ingester.handoff`)."""
        if self._loop is not None and not self._stop.is_set():
            self._loop.call_soon_threadsafe(self._start_live_pass, files)

    def _start_live_pass(self, files: list) -> None:
        task = asyncio.create_task(self._pass(files), name=f"handoff-{self.id}")
        self._handed.add(task)  # kept until done: a task nobody holds may be collected
        task.add_done_callback(self._handed.discard)

    async def _pass(self, files=None, backlog: bool = False) -> None:
        """One ingest pass on its lane: the backlog lane for the first pass, else the live one."""
        loop = asyncio.get_running_loop()

        def report(p: Progress) -> None:
            self.progress = p

        def run() -> None:
            self._get_ingester().pass_once(files, report if backlog else None, backlog=backlog)

        try:
            await loop.run_in_executor(self._backlog if backlog else self._live, run)
        except Exception as exc:  # the ingester contains per-file faults; this is a bug
            log.exception("ingest pass over %s failed; will retry", self.logdir)
            self.health.report("ingest", "pass", f"an ingest pass failed ({type(exc).__name__}); "
                               "the next pass retries")
        else:
            self.health.clear("ingest", "pass")

    async def _run(self) -> None:
        if self.role != "ingest":
            self.ready.set()  # everything there is to serve is stored already
            follow = None
            if isinstance(self.hub, LocalHub) and self.role == "follower":
                follow = asyncio.create_task(self._follow_store(), name=f"follow-{self.id}")
            try:
                if self.role == "read-only" or not self.may_ingest or not await self._wait_for_lock():
                    if follow is not None:
                        await follow
                    return
            finally:
                if follow is not None:
                    follow.cancel()
        await self._fence()
        # The watch is armed before the first pass starts, and its events are read on the live
        # lane while that pass runs: a point flushed during a long backlog arrives at once.
        first = asyncio.create_task(self._first_pass(), name=f"backlog-{self.id}")
        retries = asyncio.create_task(self._retry_when_due(), name=f"retries-{self.id}")
        watchdog = asyncio.create_task(self._watch_election(), name=f"election-{self.id}")
        try:
            while not self._stop.is_set():
                try:
                    async for files in watcher.changes(self.source, self.poll, self._stop):
                        await self._pass(files)
                        self.health.clear("ingest", "watch")
                except Exception as exc:  # a bug must not end live ingest for good
                    log.exception("watching %s failed; watching again", self.logdir)
                    self.health.report("ingest", "watch", f"watching the logdir failed "
                                       f"({type(exc).__name__}); watching again")
                    await asyncio.sleep(1.0)
                    await self._pass()  # read what came in meanwhile
        finally:
            watchdog.cancel()
            retries.cancel()
            first.cancel()

    async def _first_pass(self) -> None:
        await self._pass(backlog=True)
        self.ready.set()
        log.info("session %s ready: %s", self.id, self.logdir)

    async def _fence(self) -> None:
        """On a shared PostgreSQL store, claim the next ingest epoch: from now on a write of any
        earlier holder fails instead of landing beside ours (see `store.election`)."""
        if self.db.postgres is None:
            return
        epoch = await self.store.claim_epoch()
        log.info("ingesting %s (epoch %d)", self.logdir, epoch)

    async def _watch_election(self) -> None:
        """Notice a lost PostgreSQL election (its connection broke) and say so: writes are
        fenced already; the process stops ingesting and waits to be elected again."""
        alive = getattr(self.lock, "alive", None)
        if alive is None:
            return
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            await watcher.wait_or_stop(self._stop, LOCK_CHECK)
            if self._stop.is_set() or await loop.run_in_executor(None, alive):
                continue
            log.warning("lost the ingest election for %s; serving the store until elected again", self.logdir)
            self.health.report("ingest", "lock", "this process lost the ingest election (its database "
                               "connection broke); it serves the store and tries again")
            self.role = "follower"
            self._relaunch()
            return

    def _relaunch(self) -> None:
        """Restart the session's main task from the follower state (after a lost election)."""
        old, self.ingester = self._task, None
        self._task = asyncio.create_task(self._run(), name=f"session-{self.id}")
        if old is not None:
            old.cancel()

    async def _follow_store(self) -> None:
        """Without a broker, a follower pushes what the ingesting process commits by reading
        the store after its own newest cursor (the polling endpoint's exact read)."""
        last = self.hub.last_cursor
        while not self._stop.is_set():
            await watcher.wait_or_stop(self._stop, FOLLOW_EVERY)
            try:
                newest = await self.store.max_cursor()
                if newest > last:
                    commit = await self.store.changes(last, newest)
                    self.hub.publish(commit)
                    last = newest
                self.health.clear("live", "follow")
            except Exception as exc:  # the store may be briefly unreachable: retry
                self.health.report("live", "follow", f"reading new points from the store failed "
                                   f"({type(exc).__name__}); retrying")
                await watcher.wait_or_stop(self._stop, 1.0)

    async def _wait_for_lock(self) -> bool:
        """As a follower, take over the ingest when its holder stops (False: stopped first)."""
        holder = self.lock.holder()
        log.info("%s is being ingested by %s; serving the stored session and taking over when "
                 "it stops", self.logdir, holder)
        self.health.report("ingest", "lock", f"ingested by {holder} (another tsvis-live); this "
                           "process serves the store and takes over when it stops")
        while not self._stop.is_set():
            await watcher.wait_or_stop(self._stop, LOCK_RETRY)
            if not self._stop.is_set() and await asyncio.get_running_loop().run_in_executor(None, self.lock.acquire):
                self.role = "ingest"
                self.health.clear("ingest", "lock")
                self.hub.last_cursor = await self.store.max_cursor()
                return True
        return False

    async def _retry_when_due(self) -> None:
        """Run a pass when a backed-off file or a paused store is due: a fault clears by
        itself (space freed, a file fixed) even when no file event follows."""
        while not self._stop.is_set():
            due_in = self.ingester.next_retry_in() if self.ingester is not None else None
            if due_in is not None and due_in <= 0:
                await self._pass()
                continue
            await watcher.wait_or_stop(self._stop, RETRY_CHECK if due_in is None else min(due_in, RETRY_CHECK))

    async def stop(self) -> None:
        self._stop.set()
        self._stopping.set()  # a long first pass ends at its next window
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        for task in list(self._handed):
            task.cancel()
        self._backlog.shutdown(wait=True)
        self._live.shutdown(wait=True)
        if hasattr(self.hub, "stop"):
            await self.hub.stop()
        self.db.close()
        self.lock.release()


class SessionManager:
    """Opens sessions on demand: one fixed logdir, or `ROOT/<id>/<trainJobName>` per request."""

    def __init__(self, data_dir: Path, logdir: Path | Source | None = None, logroot: Path | None = None,
                 poll: float | None = None, database: str | None = None, broker: str | None = None,
                 ingest: bool = True) -> None:
        self.data_dir = Path(data_dir)
        self.backends = {"database": database, "broker": broker, "ingest": ingest}  # for every Session
        self._opened: dict[str, Session] = {}
        self.logdir = as_source(logdir).logdir if logdir else None  # a Path, or a remote/several-root source
        self.logroot = Path(logroot).resolve() if logroot else None
        self.poll = poll
        self.sessions: dict[str, Session] = {}
        self._lock = asyncio.Lock()

    def resolve(self, user: str | None, job: str | None) -> Path:
        """The logdir a request names; in --logdir mode always that logdir.

        In --logroot mode exactly `ROOT/<id>/<trainJobName>`: every path segment a real name
        (no '.', '..', empty or absolute ones), so neither the root nor a user's directory is
        ever opened as one session, and names too long for the file system are refused here
        instead of failing later (ENAMETOOLONG). The resolved path (symlinks followed) must lie
        at least two levels inside the root.
        """
        if self.logdir is not None:
            return self.logdir
        if self.logroot is None:
            raise PathRefused("the server has no log root")
        for name, value in (("id", user), ("trainJobName", job)):
            if not value:
                raise PathRefused(f"parameter {name!r} is required")
            if len(value) > 1024:
                raise PathRefused(f"parameter {name!r} is longer than 1024 characters")
            if "\x00" in value or value.startswith(("/", "\\")) or Path(value).is_absolute():
                raise PathRefused(f"parameter {name!r} must be a relative name inside the log root")
            segments = value.replace("\\", "/").split("/")
            if any(seg in ("", ".", "..") for seg in segments):
                raise PathRefused(f"parameter {name!r} must name a directory: no '.', '..' or empty "
                                  "path segments")
            if any(len(seg.encode("utf-8", "surrogatepass")) > 255 for seg in segments):
                raise PathRefused(f"parameter {name!r} has a path segment longer than 255 bytes")
        try:
            path = (self.logroot / user / job).resolve()  # type: ignore[operator]
            depth = len(path.relative_to(self.logroot).parts)
        except ValueError:
            raise PathRefused("the requested logdir lies outside the log root") from None
        except OSError as exc:
            raise PathRefused(f"the requested logdir cannot be used ({exc.strerror or 'bad path'})") from None
        if depth < 2:
            raise PathRefused("the requested logdir is the log root or a user's directory, not a job's")
        return path

    async def open(self, logdir: Path) -> Session:
        sid = session_id_for(logdir)
        async with self._lock:
            session = self.sessions.get(sid)
            if session is None:
                session = self._opened.pop(sid, None)
                if session is None:
                    loop = asyncio.get_running_loop()
                    session = await loop.run_in_executor(None, functools.partial(
                        Session, logdir, self.data_dir, self.poll, **self.backends))
                self.sessions[sid] = session
                await session.start()
        return session

    def adopt(self, session: Session) -> None:
        """Serve a session opened before the event loop ran (the CLI opens the --logdir one
        first, so a damaged database stops the start with one line instead of a traceback)."""
        self._opened[session.id] = session

    def get(self, session_id: str | None) -> Session | None:
        if session_id and session_id in self.sessions:
            return self.sessions[session_id]
        if len(self.sessions) == 1 and (not session_id or self.logdir is not None):
            return next(iter(self.sessions.values()))
        return None

    async def close(self) -> None:
        for session in list(self.sessions.values()):
            await session.stop()
        self.sessions.clear()
