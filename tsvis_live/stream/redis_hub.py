"""The hub over Redis: every replica of a session delivers the same commits in the same order.

Why a Redis Stream (`tsvis:{session_id}:commits`) and not pub/sub: a stream entry has an id
and stays readable after it was added, so a reader that drops its connection for a moment (a
network blip, a busy loop, Redis failing over) reads on from the last id it saw and loses
nothing; with pub/sub every such blip loses messages and each one would cost a store read.
The stream is trimmed to about `maxlen` entries (XADD MAXLEN ~: 100 s at 1,000 commits/s)
and is no store: the database is the record, and the stream only carries what was just
committed. A commit too large for one entry (a backlog window) travels as a gap marker.

Publishing never blocks the ingest thread: `publish` encodes the commit (docs/protocol.md,
"Commits between processes"), queues it and wakes a sender task on the event loop, which
XADDs queued entries in pipelined batches. Delivery to local subscribers happens only from
the stream, in the publishing process too, so every replica sees one order.

The reader keeps L, the newest cursor it delivered. An entry is (base, cursor]: cursor <= L
is a duplicate and skipped; base > L means (L, base] was missed (trimmed away, published
while Redis was down, or too large to send), and `fill(L, base)` rebuilds it from the store
before the entry is delivered. Without a fill, or when it fails, every subscriber is marked
overflowed and its client resyncs from the store. While Redis is unreachable, subscribers are
marked overflowed once, the problem is reported to `health`, and both tasks retry with
backoff; commits published meanwhile are collapsed into one gap marker sent when Redis is
back, so receivers fill exactly what they missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from tsvis_live.health import Health
from tsvis_live.store.writer import Commit
from tsvis_live.stream.hub import FanOut
from tsvis_live.stream.wire import encode_commit, encode_gap, parse_entry

log = logging.getLogger(__name__)

STREAM_MAXLEN = 100_000  # entries kept (approximately): ~100 s at 1,000 commits/s
MAX_WIRE_POINTS = 2_000  # a bigger commit (a backlog window) is sent as a gap marker
MAX_ENTRY_BYTES = 256 * 1024  # so is one whose message would be larger than this
MAX_PENDING = 10_000  # queued entries; beyond, the newest merge into one gap marker
SEND_BATCH = 500  # entries per pipelined round trip
READ_COUNT = 1_000  # entries per XREAD
SEEK_BACK = 1_000  # entries a seeded hub looks back at start for commits past its seed
BLOCK_MS = 1_000  # XREAD BLOCK
BACKOFF_FIRST, BACKOFF_MAX = 0.2, 5.0  # seconds between reconnection attempts
KEY_TTL = 86_400  # seconds; refreshed while published to, so an abandoned stream goes away
ERRORS = (RedisError, OSError, asyncio.TimeoutError)
HEALTH_AREA, HEALTH_SUBJECT = "live", "redis"


def stream_key(session_id: str) -> str:
    return f"tsvis:{session_id}:commits"


@dataclass(slots=True)
class _Entry:
    base: int
    cursor: int
    data: bytes | None  # the encoded commit; None: a gap marker for (base, cursor]

    def fields(self) -> dict[str, bytes]:
        return {"commit": self.data} if self.data is not None else {"gap": encode_gap(self.base, self.cursor)}


def _entry_id(entry_id: bytes) -> tuple[int, int]:
    ms, _, seq = entry_id.decode().partition("-")
    return int(ms), int(seq or 0)


class RedisHub(FanOut):
    """`hub.Hub` over a Redis Stream; `publish` is safe (and never blocks) from any thread."""

    def __init__(self, url: str, session_id: str, fill: Callable[[int, int], Commit | None] | None = None,
                 health: Health | None = None, *, maxlen: int = STREAM_MAXLEN,
                 max_entry_bytes: int = MAX_ENTRY_BYTES) -> None:
        self.url, self.session_id, self.key = url, session_id, stream_key(session_id)
        self.fill, self.health = fill, health
        self.maxlen, self.max_entry_bytes = maxlen, max_entry_bytes
        parts = urlsplit(url)  # for messages: no credentials
        self.where = f"{parts.hostname or 'localhost'}:{parts.port or 6379}{parts.path or ''}"
        super().__init__()
        self._pending: deque[_Entry] = deque()
        self._plock = threading.Lock()
        self._wake: asyncio.Event | None = None
        self._woken = False  # a wake-up is on its way to the sender (guarded by _plock)
        self._tasks: list[asyncio.Task] = []
        self._positioned = asyncio.Event()  # the reader knows where to read from
        self._reader: aioredis.Redis | None = None
        self._writer: aioredis.Redis | None = None
        self._delivered: int | None = None  # L: the newest cursor delivered from the stream
        self._seed = 0
        self._last_id: bytes | None = None
        self._read_down = self._send_down = False
        self._stopping = self._sending = False
        self._expire_at = 0.0
        # counters, for tests and status
        self.published = self.sent = self.duplicates = self.gaps = self.filled = 0
        self.unfilled = self.malformed = self.collapsed = 0

    # -- the Hub interface ------------------------------------------------------------------
    @property
    def last_cursor(self) -> int:
        return max(self._seed, self._delivered or 0)

    @last_cursor.setter
    def last_cursor(self, value: int) -> None:
        """Seed from the store: before the first entry is read it is also where L starts."""
        self._seed = value
        if self._delivered is None:
            self._delivered = value


    def publish(self, commit: Commit) -> None:
        """Queue the commit for the stream and wake the sender; no I/O on the caller's thread."""
        if commit.cursor <= commit.base:
            return  # holds no cursor: nothing for anyone
        down = self._send_down  # then it joins the gap being held back, unencoded
        entry = _Entry(commit.base, commit.cursor, None) if down else self._entry(commit)
        with self._plock:
            tail = self._pending[-1] if self._pending else None
            if tail is not None and (len(self._pending) >= MAX_PENDING or (down and tail.data is None)):
                self._pending[-1] = _Entry(min(tail.base, entry.base), max(tail.cursor, entry.cursor), None)
                self.collapsed += 1
            else:
                self._pending.append(entry)
            wake, self._woken = not self._woken, True
        if wake:  # one wake-up per batch the sender takes, not one per commit
            self._wake_sender()

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self, wait: float = 2.0) -> None:
        """Start reading and sending. Waits (at most `wait` seconds: Redis may be down, and the
        tasks retry) until the reader has its place, so what is published after is delivered."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stopping = False
        common = {"retry": Retry(NoBackoff(), 0), "socket_connect_timeout": 2.0}
        self._reader = aioredis.from_url(self.url, socket_timeout=BLOCK_MS / 1000 + 5.0, **common)
        self._writer = aioredis.from_url(self.url, socket_timeout=5.0, **common)
        self._tasks = [asyncio.create_task(self._read_loop(), name=f"redis-hub-read-{self.session_id}"),
                       asyncio.create_task(self._send_loop(), name=f"redis-hub-send-{self.session_id}")]
        if self._pending:
            self._wake.set()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._positioned.wait(), wait)

    async def stop(self, flush: float = 1.0) -> None:
        """Send what is queued (for at most `flush` seconds), then stop both tasks.

        The tasks also stop at a flag: redis-py (8.1) can swallow a cancellation that lands
        inside a pipeline, and the task would then wait for the next commit forever."""
        deadline = time.monotonic() + flush
        while ((self._pending or self._sending) and not self._send_down and self._tasks
               and time.monotonic() < deadline):
            await asyncio.sleep(0.01)
        self._stopping = True
        if self._wake is not None:
            self._wake.set()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=BLOCK_MS / 1000 + 1.0)
        self._tasks = []
        for client in (self._reader, self._writer):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.aclose()
        self._reader = self._writer = None

    # -- publishing ---------------------------------------------------------------------------
    def _entry(self, commit: Commit) -> _Entry:
        if sum(len(u.cursors) for u in commit.updates) <= MAX_WIRE_POINTS and not self._surely_too_big(commit):
            try:
                data = encode_commit(commit)
            except (TypeError, ValueError, OverflowError):
                log.exception("commit (%d, %d] cannot be encoded; sent as a gap", commit.base, commit.cursor)
            else:
                if len(data) <= self.max_entry_bytes:
                    return _Entry(commit.base, commit.cursor, data)
        return _Entry(commit.base, commit.cursor, None)

    def _surely_too_big(self, commit: Commit) -> bool:
        """A lower bound of the message's size (a scalar point or a histogram bucket takes at
        least 10 bytes) over the limit: no need to spend the ingest thread's time encoding it."""
        low = sum(10 * len(u.cursors) + sum(10 * len(h.buckets) for h in u.histograms) for u in commit.updates)
        return low > self.max_entry_bytes

    def _wake_sender(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is None or wake is None or loop.is_closed():
            return  # queued until start()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            wake.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(wake.set)

    async def _send_loop(self) -> None:
        assert self._wake is not None
        backoff = BACKOFF_FIRST
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            while not self._stopping:
                with self._plock:
                    batch = [self._pending.popleft() for _ in range(min(SEND_BATCH, len(self._pending)))]
                    if not batch:
                        self._woken = False  # the next publish wakes the sender again
                        break
                try:
                    self._sending = True
                    await self._xadd(batch)
                except ERRORS as exc:
                    with self._plock:  # all that is queued becomes one gap, sent when Redis is back
                        lost = batch + list(self._pending)
                        self._pending.clear()
                        self._pending.append(_Entry(min(e.base for e in lost), max(e.cursor for e in lost), None))
                    self._send_failed(exc)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX)
                    continue
                finally:
                    self._sending = False
                backoff = BACKOFF_FIRST
                if self._send_down:
                    self._send_down = False
                    log.info("publishing to Redis at %s works again", self.where)

    async def _xadd(self, batch: list[_Entry]) -> None:
        assert self._writer is not None
        async with self._writer.pipeline(transaction=False) as pipe:
            for entry in batch:
                pipe.xadd(self.key, entry.fields(), maxlen=self.maxlen, approximate=True)
            now = time.monotonic()
            if now >= self._expire_at:
                pipe.expire(self.key, KEY_TTL)
            await pipe.execute()
        if now >= self._expire_at:
            self._expire_at = now + 60.0
        self.sent += len(batch)

    def _send_failed(self, exc: BaseException) -> None:
        if not self._send_down:
            self._send_down = True
            log.warning("publishing to Redis at %s failed (%s): commits are held back as one gap "
                        "until it answers; receivers read them from the store", self.where, type(exc).__name__)

    # -- reading ------------------------------------------------------------------------------
    async def _read_loop(self) -> None:
        assert self._reader is not None
        backoff = BACKOFF_FIRST
        while not self._stopping:
            try:
                if self._last_id is None or self._read_down:
                    await self._position()
                reply = await self._reader.xread({self.key: self._last_id}, count=READ_COUNT, block=BLOCK_MS)
            except ERRORS as exc:
                self._read_failed(exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            if self._read_down:
                self._read_recovered()
            backoff = BACKOFF_FIRST
            for _key, entries in reply or ():
                for entry_id, fields in entries:
                    self._last_id = entry_id
                    await self._handle(entry_id, fields)

    async def _position(self) -> None:
        """Where to read from. At start: after the newest entry, and when L was seeded from the
        store, the newest entries past L are delivered first (published between the seed and
        now). After an outage: on from the last id, or from the start if the stream was
        recreated meanwhile (Redis restarted empty: its new ids may be below ours)."""
        assert self._reader is not None
        if self._last_id is not None:
            top = await self._reader.xrevrange(self.key, count=1)
            if not top or _entry_id(top[0][0]) < _entry_id(self._last_id):
                self._last_id = b"0-0"
            return
        seed = self._delivered
        recent = await self._reader.xrevrange(self.key, count=SEEK_BACK if seed is not None else 1)
        self._last_id = recent[0][0] if recent else b"0-0"
        newer = []
        for entry_id, fields in recent if seed is not None else ():
            try:
                if parse_entry(fields)[1] <= seed:
                    break
            except ValueError:
                pass
            newer.append((entry_id, fields))
        for entry_id, fields in reversed(newer):
            await self._handle(entry_id, fields)
        self._positioned.set()

    async def _handle(self, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        try:
            base, cursor, commit = parse_entry(fields)
        except ValueError as exc:
            self.malformed += 1
            if self.malformed <= 10 or self.malformed % 1000 == 0:
                log.warning("skipped stream entry %s of %s (%d so far): %s", entry_id.decode(errors="replace"),
                            self.key, self.malformed, exc)
            return
        if self._delivered is None:
            self._delivered = base  # the first entry of an unseeded hub fixes the position
        if cursor <= self._delivered:
            self.duplicates += 1
            return
        if commit is None:
            await self._catch_up(self._delivered, cursor)
            return
        if base > self._delivered:
            await self._catch_up(self._delivered, base)
        self._deliver(commit)

    async def _catch_up(self, since: int, until: int) -> None:
        """Deliver (since, until], which the stream did not carry, from the store."""
        self.gaps += 1
        filled = None
        if self._subscribers and self.fill is not None:
            try:
                filled = await asyncio.get_running_loop().run_in_executor(None, self.fill, since, until)
            except Exception:
                log.exception("filling the live gap (%d, %d] from the store failed; clients resync", since, until)
        if filled is not None:
            self.filled += 1
            self._deliver(filled)
        elif self._subscribers:
            self.unfilled += 1
            self._overflow_all()
        # with no subscriber nobody needs the gap: a client that arrives later reads the store
        self._delivered = max(self._delivered or 0, until)

    def _deliver(self, commit: Commit) -> None:
        self.published += 1
        self._delivered = max(self._delivered or 0, commit.cursor)
        for sub in list(self._subscribers):
            sub.offer(commit)

    def _overflow_all(self) -> None:
        """Every subscriber resyncs from the store (the same state `Subscriber.offer` leaves)."""
        for sub in list(self._subscribers):
            if not sub.overflowed:
                sub.overflowed = True
                sub.queue.clear()
                sub.points = 0
                sub.wakeup.set()

    def _read_failed(self, exc: BaseException, backoff: float) -> None:
        if self._read_down:
            if self.health is not None:
                self.health.report(HEALTH_AREA, HEALTH_SUBJECT, self._down_message(exc), time.time() + backoff)
            return
        self._read_down = True
        self._overflow_all()
        if self.health is not None:  # it logs the first report
            self.health.report(HEALTH_AREA, HEALTH_SUBJECT, self._down_message(exc), time.time() + backoff)
        else:
            log.warning("%s", self._down_message(exc))

    def _down_message(self, exc: BaseException) -> str:
        return (f"Redis at {self.where} cannot be reached ({type(exc).__name__}): live updates are "
                "paused and clients resync from the store; retrying")

    def _read_recovered(self) -> None:
        self._read_down = False
        if self.health is not None:
            self.health.clear(HEALTH_AREA, HEALTH_SUBJECT)
        else:
            log.info("Redis at %s answers again; live updates resume", self.where)
