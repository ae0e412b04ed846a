"""The commit wire format and the Redis live hub, against real Redis servers.

Hubs run on their own event-loop threads (as two replicas would) and `publish` is called from
the test thread (as the ingest thread calls it). The shared Redis on localhost:6379 carries the
ordinary tests, each on its own stream; outage tests start, kill and restart their own
`redis-server`. `CommitLog` stands in for the store: it keeps every commit made, and its
`fill` rebuilds a range the way the store-backed fill does.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import math
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable

import numpy as np
import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import REPO, free_port
from tsvis_live.health import Health
from tsvis_live.records import HistogramRecord, ScalarColumns
from tsvis_live.store.writer import CategoryUpdate, Commit, SeriesUpdate
from tsvis_live.stream.redis_hub import MAX_WIRE_POINTS, RedisHub, stream_key
from tsvis_live.stream.wire import decode_commit, encode_commit, encode_gap, parse_entry

URL = "redis://localhost:6379/0"


def canon(points: list) -> str:
    """Points as text that tells NaN, the infinities and -0.0 apart (== would not)."""
    return json.dumps(points, allow_nan=True)


# -- the wire format ----------------------------------------------------------------------------
floats = st.floats(allow_nan=True, allow_infinity=True)
int64 = st.integers(-(2**63), 2**63 - 1)
names = st.text(max_size=12)


@st.composite
def commits(draw: st.DrawFn) -> Commit:
    cursor = base = draw(st.integers(0, 2**62))
    updates = []
    for _ in range(draw(st.integers(0, 4))):
        n = draw(st.integers(0, 6))
        kind = draw(st.sampled_from(["scalar", "histogram"]))
        if kind == "scalar":
            cols = ScalarColumns(draw(st.lists(int64, min_size=n, max_size=n)),
                                 draw(st.lists(floats, min_size=n, max_size=n)),
                                 draw(st.lists(floats, min_size=n, max_size=n)))
            if draw(st.booleans()):
                cols = ScalarColumns(*(np.asarray(c) for c in (cols.steps, cols.wall_times, cols.values)))
            cursors = range(cursor + 1, cursor + 1 + n)
            updates.append(SeriesUpdate("scalar", draw(names), draw(names), cursors, scalars=cols))
        else:
            tag = draw(names)
            hists = []
            for _ in range(n):
                buckets = np.asarray(draw(st.lists(st.tuples(floats, floats, floats), max_size=3)), dtype=np.float64)
                step, wall, low, high, num, total, squares = draw(int64), *(draw(floats) for _ in range(6))
                hists.append(HistogramRecord(tag, step, wall, buckets.reshape(-1, 3), low, high, num, total, squares))
            gaps = draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
            cursors = list(np.cumsum(gaps) + cursor) if n else []
            updates.append(SeriesUpdate("histogram", draw(names), tag, [int(c) for c in cursors], histograms=hists))
        cursor += sum(gaps) if kind == "histogram" else n
    cats = [CategoryUpdate(draw(names), draw(st.sampled_from(["run", "scalar", "histogram"])),
                           draw(st.none() | names), draw(st.integers(0, 2**62))) for _ in range(draw(st.integers(0, 2)))]
    return Commit(updates, cats, cursor, draw(st.integers(0, 10**6)), base)


def assert_same(a: Commit, b: Commit) -> None:
    assert (a.base, a.cursor, a.points, a.categories) == (b.base, b.cursor, b.points, b.categories)
    assert len(a.updates) == len(b.updates)
    for u, v in zip(a.updates, b.updates):
        assert (u.kind, u.run, u.tag, list(u.cursors)) == (v.kind, v.run, v.tag, list(v.cursors))
        assert canon(u.points()) == canon(v.points())
        for h, k in zip(u.histograms, v.histograms):
            assert canon([h.num, h.sum, h.sum_squares, h.tag]) == canon([k.num, k.sum, k.sum_squares, k.tag])


@settings(max_examples=300, deadline=None)
@given(commits())
def test_wire_roundtrip(commit: Commit) -> None:
    data = encode_commit(commit)
    assert b"NaN" not in data.replace(b'"NaN"', b"")  # no bare (non-JSON) tokens
    json.loads(data, parse_constant=lambda name: pytest.fail(f"bare {name}"))
    assert_same(commit, decode_commit(data))


def test_wire_exact_values_and_compact_cursors() -> None:
    steps = [2**62 + 1, 2**63 - 1, -(2**63)]
    values = [math.nan, math.inf, -0.0]
    upd = SeriesUpdate("scalar", "r\udcff", "t", range(7, 10), ScalarColumns(steps, [1.5, -math.inf, 0.1], values))
    commit = Commit([upd], [CategoryUpdate("r\udcff", "run", None, 6)], cursor=9, points=3, base=5)
    data = encode_commit(commit)
    message = json.loads(data)
    assert message["v"] == 1 and message["updates"][0]["cursor_range"] == [7, 9]
    assert message["updates"][0]["scalars"]["values"] == ["NaN", "Infinity", -0.0]
    back = decode_commit(data)
    assert back.updates[0].scalars.steps == steps and back.updates[0].cursors == range(7, 10)
    assert back.updates[0].run == "r\udcff" and math.copysign(1, back.updates[0].scalars.values[2]) == -1
    assert_same(commit, back)


@pytest.mark.parametrize("data, says", [
    (b"\xff\xfe", "not a JSON"), (b"[1]", "must be an object"), (b'{"v": 2}', "version 2"),
    (b'{"v": 1, "base": 0}', "no 'cursor'"), (b'{"v":1,"base":NaN}', "bare NaN"),
    (b'{"v":1,"base":3,"cursor":2,"points":0,"updates":[],"categories":[]}', "below base"),
    (b'{"v":1,"base":0,"cursor":2,"points":0,"updates":[{"kind":"scalar","run":"r","tag":"t",'
     b'"cursor_range":[1,2],"scalars":{"steps":[1],"wall_times":[1.0],"values":[1.0]}}],"categories":[]}',
     "differ in length"),
    (b'{"v":1,"base":0,"cursor":1,"points":0,"updates":[{"kind":"scalar","run":"r","tag":"t",'
     b'"cursors":[1],"scalars":{"steps":[1.5],"wall_times":[1],"values":["nan"]}}],"categories":[]}',
     "steps must be an integer"),
    (b'{"v":1,"base":0,"cursor":0,"points":0,"updates":[],"categories":[{"run":"r","kind":"run"}]}', "no 'tag'"),
])
def test_wire_rejects_malformed(data: bytes, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        decode_commit(data)


def test_stream_entries_hold_a_commit_or_a_gap() -> None:
    commit = Commit([], [CategoryUpdate("r", "run", None, 4)], cursor=4, points=0, base=3)
    assert parse_entry({b"commit": encode_commit(commit)})[:2] == (3, 4)
    assert parse_entry({b"gap": encode_gap(2**62, 2**63 - 1)}) == (2**62, 2**63 - 1, None)
    for fields, says in [({b"gap": b'{"v":1,"base":5,"cursor":4}'}, "base <= cursor"),
                         ({b"gap": b'{"v":1,"base":"1","cursor":4}'}, "base must be an integer"),
                         ({b"gap": b"[]"}, "must be an object"), ({b"gap": b"{"}, "malformed gap"),
                         ({b"x": b"1", b"y": b"2"}, "neither 'commit' nor 'gap' .fields: x, y"),
                         ({b"commit": b'{"v":1}'}, "no 'base'")]:
        with pytest.raises(ValueError, match=says):
            parse_entry(fields)


@settings(max_examples=300, deadline=None)
@given(commits(), st.data())
def test_wire_mutations_raise_only_valueerror(commit: Commit, data: st.DataObject) -> None:
    raw = bytearray(encode_commit(commit))
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        decode_commit(bytes(raw))
    except ValueError:
        pass


# -- fixtures -----------------------------------------------------------------------------------
class LoopThread:
    """An event loop on its own thread: one 'replica'."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class Receiver:
    """A hub on a loop thread with one subscriber whose commits are collected as they arrive."""

    def __init__(self, hub: RedisHub, seed: int | None = 0) -> None:
        self.hub, self.lt = hub, LoopThread()
        self.got: list[tuple[Commit, float]] = []
        if seed is not None:
            hub.last_cursor = seed
        self.lt.run(self._start())

    async def _start(self) -> None:
        self.sub = self.hub.subscribe()
        await self.hub.start()
        self.task = asyncio.create_task(self._consume())

    async def _consume(self) -> None:
        while True:
            await self.sub.wakeup.wait()
            self.sub.wakeup.clear()
            now = time.time()
            self.got.extend((c, now) for c in self.sub.drain())

    def cursors(self) -> list[int]:
        return [c for commit, _ in self.got for u in commit.updates for c in u.cursors]

    def stop(self) -> None:
        self.lt.run(self._stop())
        self.lt.close()

    async def _stop(self) -> None:
        self.task.cancel()
        await self.hub.stop()


class CommitLog:
    """The 'store': every commit made, and the store-backed fill of a range."""

    def __init__(self) -> None:
        self.commits: list[Commit] = []
        self.cursor = 0
        self.fills: list[tuple[int, int]] = []
        self.rng = random.Random(7)

    def make(self, points: int = 3) -> Commit:
        upd = []
        if points:
            vals = [self.rng.choice([math.nan, math.inf, self.rng.random()]) for _ in range(points)]
            cols = ScalarColumns([self.cursor + i for i in range(points)], [time.time()] * points, vals)
            upd.append(SeriesUpdate("scalar", "run", "loss", range(self.cursor + 1, self.cursor + 1 + points), cols))
        commit = Commit(upd, [], self.cursor + points, points, self.cursor)
        self.cursor += points
        self.commits.append(commit)
        return commit

    def fill(self, since: int, until: int) -> Commit:
        self.fills.append((since, until))
        inside = [c for c in self.commits if since <= c.base and c.cursor <= until]
        return Commit([u for c in inside for u in c.updates], [], until, sum(c.points for c in inside), since)

    def points(self, lo: int = 0) -> dict[int, str]:
        """cursor -> canonical point, for every point after `lo`."""
        return {cur: canon(p) for c in self.commits for u in c.updates
                for cur, p in zip(u.cursors, u.points()) if cur > lo}


def received_points(r: Receiver, lo: int = 0) -> list[tuple[int, str]]:
    return [(cur, canon(p)) for c, _ in r.got for u in c.updates for cur, p in zip(u.cursors, u.points()) if cur > lo]


def wait_for(pred: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture
def session_id():
    sid = f"test-{uuid.uuid4().hex}"
    yield sid
    redis.Redis.from_url(URL).delete(stream_key(sid))


@pytest.fixture
def hubs():
    """Receivers made by a test; stopped at teardown."""
    made: list[Receiver] = []

    def make(*args, seed: int | None = 0, **kwargs) -> Receiver:
        made.append(Receiver(RedisHub(*args, **kwargs), seed))
        return made[-1]

    yield make
    for r in made:
        r.stop()


class RedisServer:
    """A throw-away redis-server (nothing on disk) that a test may kill and restart."""

    def __init__(self, tmp) -> None:
        self.port, self.dir, self.proc = free_port(), tmp, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", str(self.dir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        wait_for(lambda: _pings(client), 10, "redis-server to answer")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    if server.proc.poll() is None:
        server.kill()


# -- the hub --------------------------------------------------------------------------------------
def publish_all(hub: RedisHub, made: list[Commit]) -> list[float]:
    """Publish from this (non-loop) thread, as the ingest thread does; returns each call's seconds.

    The cyclic GC is off meanwhile: a full collection of the test process's heap (what earlier
    tests left) pauses every thread for 50-800 ms here, which would be timed as publish()."""
    spent = []
    gc.disable()
    try:
        for commit in made:
            t0 = time.perf_counter()
            hub.publish(commit)
            spent.append(time.perf_counter() - t0)
    finally:
        gc.enable()
    return spent


def test_two_replicas_receive_every_commit_once_in_order(hubs, session_id) -> None:
    store = CommitLog()
    pub, rec = hubs(URL, session_id), hubs(URL, session_id)
    rng = random.Random(1)
    made = [store.make(rng.randint(1, 5)) for i in range(1000)]
    made.append(store.make(MAX_WIRE_POINTS + 1))  # too big for the stream: a gap marker
    made.extend(store.make(rng.randint(0, 5)) for _ in range(1000))  # 0: no points, not sent
    rec.hub.fill = pub.hub.fill = store.fill
    publish_all(pub.hub, made)
    wait_for(lambda: rec.hub.last_cursor == store.cursor == pub.hub.last_cursor, what="every commit")
    expected = sorted(store.points().items())
    for r in (pub, rec):  # the publisher's own subscribers read the stream too
        assert received_points(r) == expected
        assert not r.sub.overflowed and r.hub.duplicates == 0
    assert store.fills == [(made[999].cursor, made[1000].cursor)] * 2
    assert [c.cursor for c, _ in rec.got] == [c.cursor for c, _ in pub.got]


def test_gap_is_filled_from_the_store_before_the_next_commit(hubs, session_id) -> None:
    store = CommitLog()
    pub, rec = hubs(URL, session_id), hubs(URL, session_id, fill=store.fill)
    first = [store.make() for _ in range(10)]
    lost = [store.make() for _ in range(5)]  # committed, never published (a trimmed or lost entry)
    after = [store.make() for _ in range(10)]
    publish_all(pub.hub, first + after)
    wait_for(lambda: rec.hub.last_cursor == store.cursor, what="the last commit")
    assert store.fills == [(first[-1].cursor, lost[-1].cursor)]
    assert received_points(rec) == sorted(store.points().items())
    assert not rec.sub.overflowed and rec.hub.gaps == 1 and rec.hub.filled == 1


def _raises(since: int, until: int) -> Commit:
    raise RuntimeError("the store is down")


@pytest.mark.parametrize("fill", [None, lambda a, b: None, _raises], ids=["no-fill", "fill-none", "fill-raises"])
def test_unfillable_gap_overflows_subscribers(hubs, session_id, fill, caplog) -> None:
    store = CommitLog()
    pub, rec = hubs(URL, session_id), hubs(URL, session_id, fill=fill)
    idle = rec.lt.run(_subscribe(rec.hub))  # a second client, drained by nobody
    publish_all(pub.hub, [store.make() for _ in range(3)])
    wait_for(lambda: rec.hub.last_cursor == store.cursor)
    assert not rec.sub.overflowed and not idle.overflowed
    store.make()  # lost
    publish_all(pub.hub, [store.make()])
    wait_for(lambda: rec.hub.last_cursor == store.cursor)
    assert rec.sub.overflowed and idle.overflowed and rec.hub.unfilled == 1
    assert not idle.queue, "an overflowed subscriber holds nothing"
    if fill is _raises:
        assert "filling the live gap" in caplog.text


async def _subscribe(hub: RedisHub):
    return hub.subscribe()


def test_a_gap_without_subscribers_is_not_filled(session_id) -> None:
    store = CommitLog()
    lt = LoopThread()
    pub, rec = RedisHub(URL, session_id), RedisHub(URL, session_id, fill=store.fill)
    rec.last_cursor = 0
    try:
        lt.run(pub.start())
        lt.run(rec.start())
        store.make()
        publish_all(pub, [store.make()])
        wait_for(lambda: rec.last_cursor == store.cursor)
        assert rec.gaps == 1 and store.fills == [] and rec.unfilled == 0
    finally:
        lt.run(pub.stop())
        lt.run(rec.stop())
        lt.close()


def test_malformed_and_duplicate_entries_are_skipped(hubs, session_id, caplog) -> None:
    store = CommitLog()
    rec = hubs(URL, session_id, fill=store.fill)
    client, key = redis.Redis.from_url(URL), stream_key(session_id)
    good = [store.make() for _ in range(3)]
    client.xadd(key, {"commit": encode_commit(good[0])})
    client.xadd(key, {"commit": b'{"v": 1, "base": "x"'})
    client.xadd(key, {"other": b"?"})
    client.xadd(key, {"gap": b'{"v": 1, "base": 9, "cursor": 2}'})
    client.xadd(key, {"commit": encode_commit(good[0])})  # the same commit twice
    client.xadd(key, {"commit": encode_commit(good[1])})
    client.xadd(key, {"commit": encode_commit(good[2])})
    wait_for(lambda: rec.hub.last_cursor == store.cursor)
    assert rec.hub.malformed == 3 and rec.hub.duplicates == 1 and store.fills == []
    assert received_points(rec) == sorted(store.points().items())
    assert caplog.text.count("skipped stream entry") == 3
    assert "neither 'commit' nor 'gap'" in caplog.text


def test_a_seeded_hub_notices_what_was_published_before_it_started(hubs, session_id) -> None:
    """A replica seeds its cursor from the store, then starts reading: what was published in
    between is read back from the stream, and what the stream lacks is filled."""
    store = CommitLog()
    publisher = RedisHub(URL, session_id)
    lt = LoopThread()
    lt.run(publisher.start())
    publish_all(publisher, [store.make() for _ in range(5)])
    seed = store.make().cursor  # where the store was when the replica read its cursor
    lost = store.make()
    publish_all(publisher, [store.make() for _ in range(3)])
    client = redis.Redis.from_url(URL)
    wait_for(lambda: client.xlen(stream_key(session_id)) == 8)
    rec = hubs(URL, session_id, fill=store.fill, seed=seed)
    publish_all(publisher, [store.make() for _ in range(2)])
    wait_for(lambda: rec.hub.last_cursor == store.cursor)
    assert received_points(rec) == sorted(store.points(lo=seed).items())
    assert store.fills == [(seed, lost.cursor)] and rec.hub.duplicates == 0
    lt.run(publisher.stop())
    lt.close()


def test_stop_returns_promptly_while_sending(session_id) -> None:
    """stop() ends both tasks even when it lands in the middle of a pipelined XADD (where the
    Redis client has been seen to swallow the cancellation)."""
    store, lt = CommitLog(), LoopThread()
    try:
        for _ in range(5):
            hub = RedisHub(URL, session_id)
            lt.run(hub.start())
            publish_all(hub, [store.make() for _ in range(3000)])
            tasks, t0 = list(hub._tasks), time.monotonic()
            lt.run(hub.stop(flush=0.05), timeout=30)
            assert time.monotonic() - t0 < 3.0 and len(tasks) == 2 and all(t.done() for t in tasks)
    finally:
        lt.close()


@pytest.fixture(params=["refused", "silent"])
def dead_redis(request):
    """A Redis URL where nothing answers: no listener (connections refused), or a listener that
    never accepts (connections hang until the client's timeout, seconds)."""
    if request.param == "refused":
        yield f"redis://127.0.0.1:{free_port()}/0"
        return
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def test_publish_returns_at_once_while_redis_is_down(session_id, dead_redis) -> None:
    store = CommitLog()
    lt = LoopThread()
    hub = RedisHub(dead_redis, session_id)
    try:
        lt.run(hub.start())
        spent = publish_all(hub, [store.make() for _ in range(20_000)])
        time.sleep(0.5)
        spent += publish_all(hub, [store.make() for _ in range(1000)])
        p50, p99 = np.percentile(spent, [50, 99]) * 1e3
        print(f"\npublish() with Redis down: p50 {p50:.3f} ms, p99 {p99:.3f} ms, max {max(spent) * 1e3:.2f} ms")
        # a call that waited on Redis would take the client's timeout (2-5 s) or more; the
        # max allows for this machine's stalls (up to ~0.2 s seen under a load of 6 on 2 cores)
        assert p99 < 5 and max(spent) < 0.5

        def held_as_one_gap() -> bool:  # what is held back while Redis is down: one gap, no data
            held = list(hub._pending)  # (empty for an instant while the sender retries)
            return len(held) == 1 and held[0].data is None and held[0].cursor == store.cursor

        wait_for(held_as_one_gap, 15, "the held-back commits to be one gap")
        assert hub.collapsed >= 1000
    finally:
        lt.run(hub.stop(flush=0))
        lt.close()


def test_redis_outage_resyncs_reports_and_resumes(own_redis, hubs, session_id, caplog) -> None:
    caplog.set_level(logging.INFO, logger="tsvis_live")
    store, health = CommitLog(), Health()
    pub = hubs(own_redis.url, session_id)
    rec = hubs(own_redis.url, session_id, fill=store.fill, health=health)
    publish_all(pub.hub, [store.make() for _ in range(50)])
    wait_for(lambda: rec.hub.last_cursor == store.cursor)
    before = store.cursor

    own_redis.kill()
    wait_for(lambda: rec.sub.overflowed and pub.sub.overflowed, 10, "subscribers overflowed")
    problem = health.get("live", "redis")
    assert problem is not None and "cannot be reached" in problem.message and "127.0.0.1" in problem.message
    rec.lt.run(_resynced(rec.sub))  # what the /ws pump does when it sends `resync`
    spent = publish_all(pub.hub, [store.make() for _ in range(30)])
    time.sleep(1.0)
    spent += publish_all(pub.hub, [store.make() for _ in range(30)])
    assert max(spent) < 0.05
    assert not rec.sub.overflowed, "marked overflowed once per outage"

    own_redis.start()
    wait_for(lambda: health.get("live", "redis") is None, 15, "the health problem to clear")
    publish_all(pub.hub, [store.make() for _ in range(20)])
    wait_for(lambda: rec.hub.last_cursor == store.cursor, 15, "commits after the restart")
    assert received_points(rec, lo=before) == sorted(store.points(lo=before).items())
    assert store.fills and store.fills[0][0] == before
    assert not rec.sub.overflowed
    sender = [r.getMessage() for r in caplog.records if r.getMessage().startswith("publishing to Redis")]
    assert len(sender) == 2 and "failed" in sender[0] and "works again" in sender[1], sender
    assert caplog.text.count("cannot be reached") == 2, "logged once by each hub (the receiver through health)"


async def _resynced(sub) -> None:
    sub.overflowed = False
    sub.drain()


PUBLISHER = """
import asyncio, sys, time
from tsvis_live.records import ScalarColumns
from tsvis_live.store.writer import Commit, SeriesUpdate
from tsvis_live.stream.redis_hub import RedisHub

url, session_id, count, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])

def publish(hub):  # the ingest thread: each point's wall time is when it was published
    t0 = time.perf_counter()
    for i in range(count):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        cols = ScalarColumns([i], [time.time()], [0.5])
        hub.publish(Commit([SeriesUpdate("scalar", "run", "loss", range(i + 1, i + 2), cols)], [], i + 1, 1, i))
    print(f"{count / (time.perf_counter() - t0):.0f}")

async def main():
    hub = RedisHub(url, session_id)
    await hub.start()
    await asyncio.get_running_loop().run_in_executor(None, publish, hub)
    await hub.stop()

asyncio.run(main())
"""


def test_latency_at_1000_commits_per_second(hubs, session_id) -> None:
    """Another process publishes 3,000 one-point commits at 1,000/s; the time from publish()
    there to the subscriber here waking with the commit, as replicas would see it."""
    rec = hubs(URL, session_id)
    done = subprocess.run([sys.executable, "-c", PUBLISHER, URL, session_id, "3000", "1000"],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    wait_for(lambda: rec.hub.last_cursor == 3000)
    lat = np.array([(at - c.updates[0].scalars.wall_times[0]) * 1000 for c, at in rec.got])
    p50, p99 = np.percentile(lat, [50, 99])
    print(f"\npublish -> delivery at {done.stdout.strip()} commits/s: p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
          f"max {lat.max():.1f} ms")
    assert rec.cursors() == list(range(1, 3001)) and not rec.sub.overflowed
    # generous: other agents share this machine's two cores (the bench holds the 50/250 ms target)
    assert p50 < 250 and p99 < 2000
