"""Contain an ingest failure to what it touches, and retry it with backoff.

A file whose window cannot be decoded or stored backs off alone: every other file keeps
flowing. A failure of the store itself (disk full, I/O error, a locked or read-only file) would
fail every file alike, so it pauses all writes instead and retries the whole store. Either way
the problem is shown in the session's health (logged once) and cleared by the first success.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable

from tsvis_live.health import Health
from tsvis_live.store.election import LostIngestLock
from tsvis_live.store.provider import ROW_ERRORS, StoreError

log = logging.getLogger(__name__)

STORE = "database"  # the health subject of store-wide problems


def is_store_failure(exc: BaseException) -> bool:
    """True when the store as a whole cannot write (not something about one file's data)."""
    if isinstance(exc, LostIngestLock):  # another process ingests now: no file of ours may write
        return True
    if isinstance(exc, StoreError):
        return not isinstance(exc, ROW_ERRORS)
    return isinstance(exc, (sqlite3.OperationalError, sqlite3.DatabaseError)) and not isinstance(
        exc, (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.ProgrammingError)
    )


def describe(exc: BaseException) -> str:
    """One line for a person: the driver's message without SQL text or parameters."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).splitlines()[0] if str(orig) else type(orig).__name__
    return text[:300]


class Backoff:
    """Exponential retry deadlines per key (monotonic seconds); thread-safe (two ingest lanes)."""

    def __init__(self, first: float, cap: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.first, self.cap, self.clock = first, cap, clock
        self._due: dict[str, tuple[float, float]] = {}  # key -> (due, last delay)
        self._lock = threading.Lock()

    def failed(self, key: str) -> float:
        """Schedule the next try of `key`; returns the delay in seconds."""
        with self._lock:
            _due, last = self._due.get(key, (0.0, 0.0))
            delay = min(self.cap, last * 2) if last else self.first
            self._due[key] = (self.clock() + delay, delay)
        return delay

    def succeeded(self, key: str) -> bool:
        """Forget `key`; True when it had failed before."""
        with self._lock:
            return self._due.pop(key, None) is not None

    def ready(self, key: str) -> bool:
        with self._lock:
            entry = self._due.get(key)
        return entry is None or entry[0] <= self.clock()

    def next_in(self) -> float | None:
        """Seconds until the earliest retry, None when nothing waits."""
        with self._lock:
            if not self._due:
                return None
            earliest = min(due for due, _ in self._due.values())
        return max(0.0, earliest - self.clock())

    def expire(self) -> None:
        """Make every waiting key due now (keeping its delay for the next failure)."""
        now = self.clock()
        with self._lock:
            self._due = {k: (now, d) for k, (_due, d) in self._due.items()}


class Containment:
    """Which files may be read now, and what to do when reading or storing one fails."""

    def __init__(self, health: Health) -> None:
        self.health = health
        self.files = Backoff(first=1.0, cap=300.0)
        self.store = Backoff(first=0.5, cap=30.0)

    def may_write(self) -> bool:
        return self.store.ready(STORE)

    def may_read(self, path: str) -> bool:
        return self.files.ready(path)

    def failed(self, path: str, exc: BaseException) -> bool:
        """Record a failure on `path`; returns True when the whole store is at fault."""
        wall_retry = time.time()
        if is_store_failure(exc):
            delay = self.store.failed(STORE)
            self.health.report("store", STORE, f"the session database cannot be written "
                               f"({describe(exc)}); serving what is stored and retrying until it can",
                               retry_at=wall_retry + delay)
            return True
        delay = self.files.failed(path)
        if self.health.get("file", path) is None:
            log.debug("failure on %s", path, exc_info=exc)
        self.health.report("file", path, f"{type(exc).__name__}: {describe(exc)}; "
                           "other files go on; retrying with backoff", retry_at=wall_retry + delay)
        return False

    def stored(self) -> None:
        """A commit landed: the store can write again."""
        if self.store.succeeded(STORE):
            self.health.clear("store", STORE)

    def finished(self, path: str) -> None:
        """`path` was read to its end (or is gone) without error."""
        if self.files.succeeded(path):
            self.health.clear("file", path)

    def retry_now(self) -> None:
        self.files.expire()
        self.store.expire()

    def next_retry_in(self) -> float | None:
        waits = [w for w in (self.files.next_in(), self.store.next_in()) if w is not None]
        return min(waits) if waits else None
