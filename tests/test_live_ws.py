"""Live push end to end: a real writer process, a real server process, real WebSocket clients."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import textwrap
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import websockets

from tests.serverproc import running_server

WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from tensorboardX import SummaryWriter
    logdir, start, n_scalars, n_hists, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    w = SummaryWriter(logdir, flush_secs=1, max_queue=20)
    every = max(1, n_scalars // max(1, n_hists)) if n_hists else 0
    t0 = time.time()
    for i in range(start, start + n_scalars):
        w.add_scalar("loss", 1.0 / (i + 1), i)
        if every and (i - start) % every == 0 and (i - start) // every < n_hists:
            w.add_histogram("weights", np.random.default_rng(i).normal(size=100), i)
        lag = t0 + seconds * (i - start + 1) / n_scalars - time.time()
        if lag > 0:
            time.sleep(lag)
    w.close()
""")


def write(logdir: Path, start: int, n: int, hists: int = 0, seconds: float = 0.0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(logdir), str(start), str(n), str(hists), str(seconds)])


def expected_loss(steps) -> np.ndarray:
    return np.array([np.float32(1.0 / (i + 1)) for i in steps], dtype=np.float64)


async def collect(ws, want: dict[str, int], timeout: float = 90.0) -> dict[str, list]:
    """Receive until `want[kind]` points of each kind arrived; returns points and cursors per kind."""
    got: dict[str, list] = {k: [] for k in want}
    got["categories"] = []

    async def loop():
        while any(len(got[k]) < n for k, n in want.items()):
            msg = json.loads(await ws.recv())
            if msg["type"] == "points":
                got[msg["kind"]].extend((p, msg["cursor"]) for p in msg["points"])
            elif msg["type"] == "category":
                got["categories"].append(msg)
            elif msg["type"] == "resync":
                raise AssertionError(f"unexpected resync: {msg}")

    await asyncio.wait_for(loop(), timeout)
    return got


def subscribe(kind: str, run: str, tag: str, **extra) -> str:
    return json.dumps({"op": "subscribe", "kind": kind, "run": run, "tag": tag, **extra})


def test_every_point_arrives_once_in_order(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    logdir.mkdir()
    with running_server(logdir, tmp_path / "data") as server:

        async def main():
            async with websockets.connect(server.ws_url) as ws:
                hello = json.loads(await ws.recv())
                assert hello["type"] == "hello"
                await ws.send(subscribe("scalar", ".", "loss"))
                await ws.send(subscribe("histogram", ".", "weights"))
                writer = write(logdir, 0, 5000, hists=200, seconds=4.0)
                try:
                    return await collect(ws, {"scalar": 5000, "histogram": 200})
                finally:
                    assert writer.wait(60) == 0

        got = asyncio.run(main())
    scalars = [p for p, _ in got["scalar"]]
    assert len(scalars) == 5000  # nothing doubled (and the loop stopped at 5000: nothing lost)
    steps = [p[1] for p in scalars]
    assert steps == list(range(5000))
    np.testing.assert_array_equal([p[2] for p in scalars], expected_loss(steps))
    wall = [p[0] for p in scalars]
    assert wall == sorted(wall)
    hist = [p for p, _ in got["histogram"]]
    assert [h[1] for h in hist] == list(range(0, 5000, 25))
    for h in hist:
        buckets = np.array(h[4])
        assert buckets.shape[1] == 3 and buckets[:, 2].sum() == pytest.approx(100)
        assert h[2] <= h[3]
    cursors = [c for _, c in got["scalar"]]
    assert cursors == sorted(cursors)
    kinds = {(c["kind"], tuple(c["tags"])) for c in got["categories"]}
    assert ("scalar", ("loss",)) in kinds and ("statistic", ("weights",)) in kinds


def test_reconnect_with_cursor_gets_exactly_the_missed_points(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    logdir.mkdir()
    with running_server(logdir, tmp_path / "data") as server:

        assert write(logdir / "a", 0, 1000).wait(60) == 0

        async def session_one():
            async with websockets.connect(server.ws_url) as ws:
                await ws.send(subscribe("scalar", "a", "loss", since=0))
                got = await collect(ws, {"scalar": 1000})
                return got["scalar"][-1][1], [p for p, _ in got["scalar"]]

        last_cursor, seen = asyncio.run(session_one())
        assert [p[1] for p in seen] == list(range(1000))
        assert write(logdir / "a", 1000, 700).wait(60) == 0  # written while nobody listens

        async def session_two():
            async with websockets.connect(server.ws_url) as ws:
                await ws.send(subscribe("scalar", "a", "loss", since=last_cursor))
                got = await collect(ws, {"scalar": 700})
                try:  # and nothing more than the missed points
                    extra = await asyncio.wait_for(ws.recv(), 1.0)
                    assert json.loads(extra)["type"] in ("heartbeat", "category")
                except asyncio.TimeoutError:
                    pass
                return [p for p, _ in got["scalar"]]

        missed = asyncio.run(session_two())
    assert [p[1] for p in missed] == list(range(1000, 1700))
    np.testing.assert_array_equal([p[2] for p in missed], expected_loss(range(1000, 1700)))


def test_new_run_appears_and_can_be_followed(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    (logdir / "old").mkdir(parents=True)
    assert write(logdir / "old", 0, 10).wait(60) == 0
    with running_server(logdir, tmp_path / "data") as server:

        async def main():
            async with websockets.connect(server.ws_url) as ws:
                await ws.recv()  # hello
                writer = write(logdir / "deep" / "new" / "run", 0, 300, seconds=2.0)
                run = None
                while run is None:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    if msg["type"] == "category" and msg["kind"] == "run":
                        run = msg["run"]
                await ws.send(subscribe("scalar", run, "loss", since=0))
                got = await collect(ws, {"scalar": 300})
                assert writer.wait(60) == 0
                return run, got

        run, got = asyncio.run(main())
    assert run == "deep/new/run"
    assert [p[1] for p, _ in got["scalar"]] == list(range(300))


def test_slow_client_does_not_stall_others(tmp_path: Path) -> None:
    """A client that stops reading is cut loose (resync) once its buffer is full; others go on."""
    logdir = tmp_path / "logs"
    logdir.mkdir()
    total = 400_000  # ~16 MB of JSON: far more than the loopback socket buffers can hide
    with running_server(logdir, tmp_path / "data", "--client-buffer", "20000") as server:

        async def main():
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a reader on a thin pipe
            sock.connect(("127.0.0.1", server.port))
            # no keepalive pings: a client that does not read never sees the pongs, and on a busy
            # machine its own ping timeout (not the server) would end the test
            slow = await websockets.connect(server.ws_url, sock=sock, max_queue=1, max_size=2**20,
                                            ping_interval=None)
            fast = await websockets.connect(server.ws_url)
            try:
                for ws in (slow, fast):
                    await ws.send(subscribe("scalar", ".", "loss"))
                writer = write(logdir, 0, total)
                got = await collect(fast, {"scalar": total}, timeout=240)
                assert writer.wait(120) == 0
                rss = int(next(x.split()[1] for x in open(f"/proc/{server.proc.pid}/status") if x.startswith("VmRSS")))
                # now read the slow client: it was told to resync instead of being buffered for
                # (or the server closed it: its keepalive gives up on a client that never reads)
                seen, deadline = [], time.monotonic() + 60
                while (not seen or seen[-1]["type"] != "resync") and time.monotonic() < deadline:
                    try:
                        seen.append(json.loads(await asyncio.wait_for(slow.recv(), 30)))
                    except websockets.ConnectionClosed:
                        seen.append({"type": "closed by the server"})
                        break
                return got, rss, seen
            finally:
                await fast.close()
                slow.transport.abort()

        got, rss_kb, seen = asyncio.run(main())
    assert [p[1] for p, _ in got["scalar"]] == list(range(total))
    assert rss_kb < 400_000
    assert seen[-1]["type"] in ("resync", "closed by the server"), "the slow client was never cut loose"
    if seen[-1]["type"] == "resync":
        assert seen[-1]["subscriptions"][0]["kind"] == "scalar"
    assert sum(len(m.get("points", [])) for m in seen) < total


def test_polling_walk_equals_the_socket(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    logdir.mkdir()
    with running_server(logdir, tmp_path / "data") as server:

        async def socket_side():
            async with websockets.connect(server.ws_url) as ws:
                await ws.send(subscribe("scalar", ".", "loss", since=0))
                await ws.send(subscribe("histogram", ".", "weights", since=0))
                writer = write(logdir, 0, 2000, hists=40, seconds=2.0)
                got = await collect(ws, {"scalar": 2000, "histogram": 40})
                assert writer.wait(60) == 0
                return got

        got = asyncio.run(socket_side())
        subs = json.dumps([{"kind": "scalar", "run": ".", "tag": "loss"}, {"kind": "histogram", "run": ".", "tag": "weights"}])
        polled: dict[str, list] = {"scalar": [], "histogram": []}
        cursor, walks = 0, 0
        while True:
            # walk in small steps: ask from a cursor, move to the returned one
            url = f"{server.url}/api/live/poll?since={cursor}&subs={urllib.parse.quote(subs)}"
            data = json.load(urllib.request.urlopen(url))["data"]
            for m in data["messages"]:
                if m["type"] == "points":
                    polled[m["kind"]].extend(m["points"])
            walks += 1
            if data["cursor"] == cursor:
                break
            cursor = data["cursor"]
    assert polled["scalar"] == [p for p, _ in got["scalar"]]
    assert polled["histogram"] == [p for p, _ in got["histogram"]]


def test_batched_frames_carry_the_same_messages(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    logdir.mkdir()
    assert write(logdir, 0, 12000).wait(60) == 0
    with running_server(logdir, tmp_path / "data") as server:

        async def main():
            async with websockets.connect(server.ws_url) as ws:
                await ws.recv()  # hello
                await ws.send(json.dumps({"op": "options", "batch": True}))
                await ws.send(subscribe("scalar", ".", "loss", since=0))
                frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                await ws.send(json.dumps({"op": "bogus"}))
                error = json.loads(await asyncio.wait_for(ws.recv(), 30))
                return frame, error

        frame, error = asyncio.run(main())
    assert frame["type"] == "batch" and len(frame["messages"]) == 3  # 12000 points, 5000 a message
    points = [p for m in frame["messages"] for p in m["points"]]
    assert [p[1] for p in points] == list(range(12000))
    assert error["type"] == "error" and "bogus" in error["message"]


def test_socket_checks_origin_and_token(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    logdir.mkdir()
    with running_server(logdir, tmp_path / "data", "--token", "s3cret") as server:

        async def attempt(url: str, origin: str | None = None) -> str:
            try:
                async with websockets.connect(url, origin=origin) as ws:
                    return json.loads(await asyncio.wait_for(ws.recv(), 10))["type"]
            except websockets.exceptions.InvalidStatus as exc:
                return f"refused {exc.response.status_code}"
            except websockets.exceptions.ConnectionClosed as exc:
                return f"closed {exc.rcvd.code if exc.rcvd else None}"

        own = f"http://127.0.0.1:{server.port}"
        async def all_attempts() -> list[str]:
            return [
                await attempt(server.ws_url),
                await attempt(server.ws_url + "?token=wrong"),
                await attempt(server.ws_url + "?token=s3cret"),
                await attempt(server.ws_url + "?token=s3cret", origin=own),
                await attempt(server.ws_url + "?token=s3cret", origin="http://evil.example"),
            ]

        results = asyncio.run(all_attempts())
    no_token, bad_token, good, same_origin, cross_origin = results
    assert no_token.startswith(("refused", "closed")) and bad_token.startswith(("refused", "closed"))
    assert good == "hello" and same_origin == "hello"
    assert cross_origin.startswith(("refused", "closed"))


def test_polling_mode_follows_new_runs_and_bytes(tmp_path: Path) -> None:
    """--poll: for file systems that never deliver file events (NFS, FUSE)."""
    logdir = tmp_path / "logs"
    logdir.mkdir()
    with running_server(logdir, tmp_path / "data", "--poll", "0.3") as server:

        async def main():
            async with websockets.connect(server.ws_url) as ws:
                await ws.send(subscribe("scalar", "later", "loss"))
                writer = write(logdir / "later", 0, 500, seconds=1.5)
                got = await collect(ws, {"scalar": 500})
                assert writer.wait(60) == 0
                return got

        got = asyncio.run(main())
    assert [p[1] for p, _ in got["scalar"]] == list(range(500))
    assert any(c["kind"] == "run" and c["run"] == "later" for c in got["categories"])


def test_histogram_snapshot_hides_superseded_writes_as_rest_does(tmp_path: Path) -> None:
    """A resumed job rewrites steps 1.. : the /ws snapshot shows what /api/histogram shows."""
    from tensorboardX import SummaryWriter

    logdir = tmp_path / "logs"
    w = SummaryWriter(str(logdir / "h"))
    for step in (0, 1, 2, 1):  # the job went back to step 1
        w.add_histogram("weights", np.arange(10.0) + step, step)
    w.close()
    with running_server(logdir, tmp_path / "data") as server:
        rest = json.loads(urllib.request.urlopen(
            server.url + "/api/histogram?run=h&tag=weights", timeout=30).read())["data"]
        rest_steps = [p[1] for p in rest["weights"]]

        async def main():
            async with websockets.connect(server.ws_url) as ws:
                await ws.send(subscribe("histogram", "h", "weights"))
                while True:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    if msg["type"] == "points":
                        return [p[1] for p in msg["points"]]

        assert rest_steps == [0, 1]
        assert asyncio.run(main()) == rest_steps
