"""/ws under hostile input: bounded memory, an error message then a proper close code.

One real server, real websockets clients. Before the fix: 10 MB frames were accepted and kept
(RSS grew by hundreds of MB), binary frames and deep JSON dropped the TCP connection (1006),
and `since` >= 2**63 killed the socket with an OverflowError.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import websockets

from tests.eventfiles import write_scalars
from tests.test_security_http import wait_ingested


@pytest.fixture(scope="module")
def ws_server(tmp_path_factory):
    from tests.conftest import spawn_server

    base = tmp_path_factory.mktemp("wslimits")
    logdir = base / "logs"
    write_scalars(logdir / "run" / "events.out.tfevents.1.host", "loss", range(50))
    server = spawn_server(logdir, base / "data", log_dir=base, probe="/api/live/status", probe_query={})
    wait_ingested(server)
    yield server
    server.stop()


def ws_url(server) -> str:
    return server.url.replace("http://", "ws://") + "/ws"


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def _hello(ws) -> None:
    assert json.loads(await asyncio.wait_for(ws.recv(), 20))["type"] == "hello"


async def _until_closed(ws, timeout: float = 20) -> tuple[list[dict], int | None, str]:
    """Every frame until the server closes: (messages, close code, close reason); a server that
    keeps the socket open for `timeout` s yields code None."""
    got: list[dict] = []

    async def read() -> None:
        while True:
            got.append(json.loads(await ws.recv()))

    try:
        await asyncio.wait_for(read(), timeout)
    except websockets.exceptions.ConnectionClosed as exc:
        return got, exc.rcvd.code if exc.rcvd else None, exc.rcvd.reason if exc.rcvd else ""
    except asyncio.TimeoutError:
        pass
    return got, None, "still open"


async def _next_error(ws, timeout: float = 30) -> dict:
    async def wait() -> dict:
        while True:
            msg = json.loads(await ws.recv())
            if msg["type"] == "error":
                return msg
            assert msg["type"] in ("heartbeat", "points", "category"), msg

    return await asyncio.wait_for(wait(), timeout)


def test_huge_frames_are_refused_and_memory_stays_flat(ws_server) -> None:
    before = rss_kb(ws_server.proc.pid)

    async def main() -> list[tuple[list[dict], int | None, str]]:
        outcomes = []
        for i in range(30):
            async with websockets.connect(ws_url(ws_server), max_size=None) as ws:
                await _hello(ws)
                tag = chr(ord("a") + i % 26) * (10 << 20)
                try:
                    await ws.send(json.dumps({"op": "subscribe", "kind": "scalar", "run": "run", "tag": tag}))
                except websockets.exceptions.ConnectionClosed:
                    pass
                outcomes.append(await _until_closed(ws))
        return outcomes

    outcomes = asyncio.run(main())
    after = rss_kb(ws_server.proc.pid)
    for _msgs, code, _reason in outcomes:
        assert code == 1009, outcomes[0]
    assert after - before < 60_000, (before, after)


def test_a_large_frame_gets_an_error_message_then_1009(ws_server) -> None:
    async def main():
        async with websockets.connect(ws_url(ws_server)) as ws:
            await _hello(ws)
            await ws.send(json.dumps({"op": "subscribe", "kind": "scalar", "run": "run", "tag": "x" * 200_000}))
            return await _until_closed(ws)

    msgs, code, _reason = asyncio.run(main())
    assert code == 1009
    assert msgs and msgs[-1]["type"] == "error" and "too large" in msgs[-1]["message"], msgs


def test_long_names_and_too_many_subscriptions_get_errors(ws_server) -> None:
    async def main():
        async with websockets.connect(ws_url(ws_server)) as ws:
            await _hello(ws)
            await ws.send(json.dumps({"op": "subscribe", "kind": "scalar", "run": "run", "tag": "t" * 5000}))
            long_tag = await _next_error(ws)
            await ws.send(json.dumps({"op": "options", "batch": True}))
            for i in range(2100):
                await ws.send(json.dumps({"op": "subscribe", "kind": "scalar", "run": "run", "tag": f"t{i}"}))
            refused = await _next_error(ws, 60)
            await ws.send(json.dumps({"op": "ping"}))
            while json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] != "pong":
                pass
            return long_tag, refused

    long_tag, refused = asyncio.run(main())
    assert "4096" in long_tag["message"] and "tag" in long_tag["message"]
    assert "subscriptions" in refused["message"] and "2000" in refused["message"]


MALFORMED = [
    ("since 2**63", json.dumps({"op": "subscribe", "kind": "scalar", "run": "run", "tag": "loss", "since": 2**63})),
    ("since 10**30", json.dumps({"op": "subscribe", "kind": "scalar", "run": "run", "tag": "loss", "since": 10**30})),
    ("since -1", json.dumps({"op": "subscribe", "kind": "scalar", "run": "run", "tag": "loss", "since": -1})),
    ("since float", json.dumps({"op": "subscribe", "kind": "scalar", "run": "run", "tag": "loss", "since": 1.5})),
    ("max_points huge", json.dumps({"op": "subscribe", "kind": "scalar", "run": "run", "tag": "loss",
                                    "max_points": 10**30})),
    ("deep list", "[" * 30_000 + "]" * 30_000),  # under the 64 KiB message limit
    ("deep object", '{"a":' * 10_000 + "1" + "}" * 10_000),
    ("deep inside op", json.dumps({"op": "subscribe", "kind": "scalar", "run": "run", "tag": "loss"})[:-1]
     + ', "x": ' + "[" * 5000 + "]" * 5000 + "}"),
    ("not an object", "[1, 2, 3]"),
    ("a string", '"subscribe"'),
    ("not JSON", "{op: subscribe"),
    ("unknown op", json.dumps({"op": "rm -rf"})),
    ("op not a string", json.dumps({"op": {"a": 1}})),
    ("run not a string", json.dumps({"op": "subscribe", "kind": "scalar", "run": 5, "tag": "loss"})),
    ("lone surrogate", '{"op": "subscribe", "kind": "scalar", "run": "\\ud800", "tag": "loss"}'),
]


@pytest.mark.parametrize("label,frame", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_messages_get_an_error_and_the_socket_lives(ws_server, label: str, frame: str) -> None:
    async def main():
        async with websockets.connect(ws_url(ws_server), max_size=None) as ws:
            await _hello(ws)
            await ws.send(frame)
            error = await _next_error(ws)
            await ws.send(json.dumps({"op": "ping"}))
            while json.loads(await asyncio.wait_for(ws.recv(), 20))["type"] != "pong":
                pass
            return error

    error = asyncio.run(main())
    assert isinstance(error["message"], str) and len(error["message"]) > 20, (label, error)


def test_binary_frames_get_an_error_then_1003(ws_server) -> None:
    async def main():
        async with websockets.connect(ws_url(ws_server)) as ws:
            await _hello(ws)
            await ws.send(b'{"op": "ping"}')
            return await _until_closed(ws)

    msgs, code, _reason = asyncio.run(main())
    assert code == 1003, (code, msgs)
    assert msgs and msgs[-1]["type"] == "error" and "binary" in msgs[-1]["message"].lower()


def test_the_socket_still_serves_after_all_that(ws_server) -> None:
    async def main():
        async with websockets.connect(ws_url(ws_server)) as ws:
            await _hello(ws)
            await ws.send(json.dumps({"op": "subscribe", "kind": "scalar", "run": "run", "tag": "loss", "since": 0}))
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 20))
                if msg["type"] == "points":
                    return msg

    msg = asyncio.run(main())
    assert [p[1] for p in msg["points"]] == list(range(50))
