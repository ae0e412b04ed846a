"""Live never waits for the backlog: points flushed during a long first pass arrive at once,
and a client that follows one series is never told to resync because of others' points.

A real server process on a logdir of 5M scalar events (several seconds of first pass even with
native decoding on a quiet machine),
a real WebSocket client, and a run written while that pass runs.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import websockets

from tests.eventfiles import scalar_records
from tests.serverproc import ServerProcess

NAME = "events.out.tfevents.1700000000.host"
BACKLOG_FILES = 40  # 8M events: the first pass must outlast the live run's first second (~2.5 s here)
BACKLOG_STEPS = 200_000
LIVE_POINTS = 100
LATENCY_BOUND = 0.5  # s: a point flushed this long before the pass ends must arrive before it ends


def write_backlog(logdir: Path) -> None:
    blob = b"".join(scalar_records("loss", range(BACKLOG_STEPS)))
    for i in range(BACKLOG_FILES):
        path = logdir / f"old{i:02d}" / NAME
        path.parent.mkdir(parents=True)
        path.write_bytes(blob)


def wait_listening(server: ServerProcess, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return httpx.get(server.url + "/api/live/status", timeout=2).json()["data"]
        except httpx.HTTPError:
            time.sleep(0.05)
    raise TimeoutError(server.log())


def test_points_flushed_during_the_backlog_arrive_before_it_ends(tmp_path: Path) -> None:
    """Every point flushed while the first pass runs arrives within a latency bound, not when
    the pass ends. Timed against the moment the pass really ends (polled), so a client slowed
    by a busy machine (it shares the cores with the pass) cannot fail it, and a pass that ends
    too soon to prove anything fails it by name."""
    logdir = tmp_path / "logs"
    write_backlog(logdir)
    server = ServerProcess(logdir, tmp_path / "data", "--client-buffer", "1000")
    try:
        assert wait_listening(server)["ready"] is False  # the first pass has only begun

        async def follow_new_run() -> tuple[dict[int, float], dict[int, float], list[int], int, float]:
            flushed: dict[int, float] = {}  # step -> when it was flushed
            arrived: dict[int, float] = {}  # step -> when it arrived
            order: list[int] = []
            resyncs = 0
            ready_at: list[float] = []

            async def watch_status() -> None:
                async with httpx.AsyncClient(timeout=10) as client:
                    while True:
                        data = (await client.get(server.url + "/api/live/status")).json()["data"]
                        if data["ready"]:
                            ready_at.append(time.monotonic())
                            return
                        await asyncio.sleep(0.02)

            async with websockets.connect(server.ws_url, max_size=None) as ws:
                assert json.loads(await ws.recv())["type"] == "hello"
                await ws.send(json.dumps({"op": "subscribe", "kind": "scalar", "run": "live", "tag": "acc",
                                          "since": 0}))
                status = asyncio.create_task(watch_status())

                async def receive() -> None:
                    nonlocal resyncs
                    while len(arrived) < LIVE_POINTS:
                        msg = json.loads(await ws.recv())
                        if msg["type"] == "points" and msg["run"] == "live":
                            now = time.monotonic()
                            for p in msg["points"]:
                                assert p[1] not in arrived, f"step {p[1]} arrived twice"
                                arrived[p[1]] = now
                                order.append(p[1])
                        elif msg["type"] == "resync":
                            resyncs += 1

                receiving = asyncio.create_task(receive())
                async with httpx.AsyncClient(timeout=10) as client:  # the new run comes after the
                    # pass has listed its files (one that is there by then is the backlog's own)
                    for _ in range(3000):
                        status_now = (await client.get(server.url + "/api/live/status")).json()["data"]
                        if status_now["progress"]["files_total"] > 0:
                            break
                        await asyncio.sleep(0.02)
                assert status_now["ready"] is False, "the first pass ended before the new run could start"
                path = logdir / "live" / NAME
                path.parent.mkdir()
                head, *records = scalar_records("acc", range(LIVE_POINTS))
                with open(path, "ab") as fh:
                    fh.write(head)  # the file-version record: not a point
                    for step, rec in enumerate(records):
                        fh.write(rec)  # 100 points/s, flushed one by one as a trainer does
                        fh.flush()
                        flushed[step] = time.monotonic()
                        await asyncio.sleep(0.01)
                await receiving
                await status
            return flushed, arrived, order, resyncs, ready_at[0]

        flushed, arrived, order, resyncs, ready_at = asyncio.run(asyncio.wait_for(follow_new_run(), 120))
        assert order == list(range(LIVE_POINTS))  # each once, in order
        assert resyncs == 0  # the backlog's points are not this client's
        during = [step for step in range(LIVE_POINTS) if flushed[step] < ready_at - LATENCY_BOUND]
        assert len(during) >= 20, f"the first pass ended too soon to prove anything ({len(during)} points during it)"
        late = {step: round(arrived[step] - flushed[step], 3) for step in during if arrived[step] > ready_at}
        assert not late, f"points flushed during the first pass waited for its end: {late}"
        server.wait_ready(timeout=300)
        status = httpx.get(server.url + "/api/live/status", timeout=10).json()["data"]
        assert status["progress"]["events"] >= BACKLOG_FILES * BACKLOG_STEPS
        total = httpx.get(server.url + "/api/live/scalars", params={"run": "old03", "tag": "loss"},
                          timeout=30).json()["data"]["total"]
        assert total == BACKLOG_STEPS  # read once, not once per lane
    finally:
        server.stop()
