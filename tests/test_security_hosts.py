"""DNS rebinding: the Host header and the Origin are checked against the hosts the server serves.

A rebinding page on `http://evil.example:PORT` whose name now resolves to 127.0.0.1 sends
`Host: evil.example:PORT` and `Origin: http://evil.example:PORT`: both must be refused, over
HTTP and on `/ws`, while loopback names, `--allowed-host` names and clients that send no Origin
(curl, scripts) keep working. Real server processes, real httpx and websockets clients.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import httpx
import pytest
import websockets

from tests.conftest import spawn_server

NON_LOOPBACK = "192.0.2.2"  # this machine's eth0 address (see test_beyond_loopback_*)


def _get(url: str, host: str | None = None, origin: str | None = None) -> httpx.Response:
    headers = {}
    if host is not None:
        headers["Host"] = host
    if origin is not None:
        headers["Origin"] = origin
    return httpx.get(url, headers=headers, timeout=30)


async def _ws_attempt(addr: tuple[str, int], host: str, origin: str | None = None, query: str = "") -> str:
    """Open /ws on `addr` while the handshake names `host`; 'hello', 'refused N' or 'closed N'."""
    sock = socket.create_connection(addr, timeout=10)
    try:
        async with websockets.connect(f"ws://{host}/ws{query}", sock=sock, origin=origin,
                                      open_timeout=20) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 20))["type"]
    except websockets.exceptions.InvalidStatus as exc:
        return f"refused {exc.response.status_code}"
    except websockets.exceptions.ConnectionClosed as exc:
        return f"closed {exc.rcvd.code if exc.rcvd else None}"


@pytest.fixture
def loopback_server(start_server, tmp_path: Path):
    logdir = tmp_path / "logs"
    logdir.mkdir()
    return start_server(logdir, None, "--allowed-host", "tsvis.lan", "--allowed-host", "Box.Example.",
                        probe="/api/live/status", probe_query={})


def test_loopback_server_refuses_foreign_host_headers(loopback_server) -> None:
    url = loopback_server.url + "/api/live/status"
    port = int(url.split(":")[2].split("/")[0])
    for good in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}", "127.0.0.1",
                 f"127.3.4.5:{port}", f"[::1]:{port}", f"tsvis.lan:{port}", f"box.example:{port}"):
        r = _get(url, host=good)
        assert r.status_code == 200, (good, r.status_code, r.text)
    for bad in (f"evil.example:{port}", "evil.example", f"localhost.evil.example:{port}",
                f"127.0.0.1.evil.example:{port}", f"192.0.2.2:{port}", f"tsvis.lan.evil:{port}", ""):
        r = _get(url, host=bad)
        assert r.status_code in (400, 421), (bad, r.status_code, r.text)
        assert "host" in r.json()["msg"].lower(), r.text
        assert "--allowed-host" in r.json()["msg"], r.text
    # the UI is guarded too, not only the API
    assert _get(loopback_server.url + "/", host=f"evil.example:{port}").status_code in (400, 421)


def test_origin_is_checked_against_the_allowed_hosts(loopback_server) -> None:
    url = loopback_server.url + "/api/live/status"
    port = int(url.split(":")[2].split("/")[0])
    own = f"127.0.0.1:{port}"
    for good in (None, f"http://127.0.0.1:{port}", f"http://localhost:{port}", f"http://tsvis.lan:{port}"):
        r = _get(url, host=own, origin=good)
        assert r.status_code == 200, (good, r.status_code, r.text)
    for bad in ("http://evil.example", f"http://evil.example:{port}", "null",
                "http://localhost:1", f"http://localhost.evil.example:{port}"):
        r = _get(url, host=own, origin=bad)
        assert r.status_code == 403, (bad, r.status_code, r.text)
        assert "origin" in r.json()["msg"].lower(), r.text


def test_websocket_refuses_a_rebinding_page(loopback_server) -> None:
    port = int(loopback_server.url.rsplit(":", 1)[1])
    addr = ("127.0.0.1", port)

    async def attempts() -> list[str]:
        return [
            # the rebinding page: Origin and Host agree, both foreign (accepted before the fix)
            await _ws_attempt(addr, f"evil.example:{port}", origin=f"http://evil.example:{port}"),
            await _ws_attempt(addr, f"evil.example:{port}"),
            await _ws_attempt(addr, f"127.0.0.1:{port}", origin=f"http://evil.example:{port}"),
            await _ws_attempt(addr, f"127.0.0.1:{port}", origin=f"http://127.0.0.1:{port}"),
            await _ws_attempt(addr, f"localhost:{port}", origin=f"http://localhost:{port}"),
            await _ws_attempt(addr, f"tsvis.lan:{port}", origin=f"http://tsvis.lan:{port}"),
            await _ws_attempt(addr, f"127.0.0.1:{port}"),
        ]

    rebound, foreign_host, foreign_origin, own, local, allowed, no_origin = asyncio.run(attempts())
    for refused in (rebound, foreign_host, foreign_origin):
        assert refused in ("refused 403", "refused 421", "refused 400", "closed 1008"), refused
    assert own == local == allowed == no_origin == "hello"


def _wait(url: str, token: str, proc) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, "server exited"
        try:
            if httpx.get(url + "/api/live/status", params={"token": token}, timeout=10).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("server not ready")


@pytest.mark.parametrize("bind", [NON_LOOPBACK, "0.0.0.0"])
def test_beyond_loopback_the_bind_address_and_allowed_names_are_served(bind: str, tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    logdir.mkdir()
    (logdir / "events.out.tfevents.1.loop").symlink_to("events.out.tfevents.1.loop")  # a problem to report
    server = spawn_server(logdir, tmp_path / "data", "--host", bind, "--token", "tok",
                          "--allowed-host", "tsvis.example.org", wait=False, log_dir=tmp_path)
    try:
        port = int(server.url.rsplit(":", 1)[1])
        base = f"http://{NON_LOOPBACK}:{port}"
        _wait(base, "tok", server.proc)
        status = base + "/api/live/status?token=tok"
        for good in (f"{NON_LOOPBACK}:{port}", f"tsvis.example.org:{port}", "tsvis.example.org"):
            assert _get(status, host=good).status_code == 200, (bind, good)
        for bad in (f"evil.example:{port}", f"{NON_LOOPBACK}.nip.io:{port}"):
            r = _get(status, host=bad)
            assert r.status_code in (400, 421), (bind, bad, r.status_code)
        assert _get(status, host=f"tsvis.example.org:{port}", origin="https://evil.example").status_code == 403
        # a non-loopback client does not learn where the logs live on disk
        data = _get(status).json()["data"]
        assert data["problems"], data  # reported, and without absolute paths in them either
        assert data["logdir"] == "logs" and str(tmp_path) not in json.dumps(data)
    finally:
        server.stop()


def test_loopback_clients_still_see_the_full_logdir(start_server, tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    logdir.mkdir()
    server = start_server(logdir, None, probe="/api/live/status", probe_query={})
    assert server.json("/api/live/status")["data"]["logdir"] == str(logdir.resolve())
