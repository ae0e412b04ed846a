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
BACKLOG_FILES = 25
BACKLOG_STEPS = 200_000
LIVE_POINTS = 100


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
    logdir = tmp_path / "logs"
    write_backlog(logdir)
    server = ServerProcess(logdir, tmp_path / "data", "--client-buffer", "1000")
    try:
        assert wait_listening(server)["ready"] is False  # the first pass has only begun

        async def follow_new_run() -> tuple[list[int], int, bool]:
            async with websockets.connect(server.ws_url, max_size=None) as ws:
                assert json.loads(await ws.recv())["type"] == "hello"
                await ws.send(json.dumps({"op": "subscribe", "kind": "scalar", "run": "live", "tag": "acc",
                                          "since": 0}))
                path = logdir / "live" / NAME
                path.parent.mkdir()
                records = scalar_records("acc", range(LIVE_POINTS))
                steps: list[int] = []
                resyncs = 0
                with open(path, "ab") as fh:
                    for rec in records:  # 100 points/s, flushed one by one as a trainer does
                        fh.write(rec)
                        fh.flush()
                        await asyncio.sleep(0.01)
                while len(steps) < LIVE_POINTS:
                    msg = json.loads(await ws.recv())
                    if msg["type"] == "points" and msg["run"] == "live":
                        steps.extend(p[1] for p in msg["points"])
                    elif msg["type"] == "resync":
                        resyncs += 1
                backlog_still_running = httpx.get(server.url + "/api/live/status",
                                                  timeout=10).json()["data"]["ready"] is False
                return steps, resyncs, backlog_still_running

        steps, resyncs, backlog_running = asyncio.run(asyncio.wait_for(follow_new_run(), 90))
        assert steps == list(range(LIVE_POINTS))
        assert resyncs == 0  # the backlog's 2M points are not this client's
        assert backlog_running, "every live point should arrive while the first pass still runs"
        server.wait_ready(timeout=300)
        status = httpx.get(server.url + "/api/live/status", timeout=10).json()["data"]
        assert status["progress"]["events"] >= BACKLOG_FILES * BACKLOG_STEPS
        total = httpx.get(server.url + "/api/live/scalars", params={"run": "old03", "tag": "loss"},
                          timeout=30).json()["data"]["total"]
        assert total == BACKLOG_STEPS  # read once, not once per lane
    finally:
        server.stop()
