"""Issue 12 item 8: the command-line conventions users know from TensorBoard and Python tools.

Real processes: `python -m tsvis_live`, the installed `tsvis-live` console script, real
servers on loopback (`--bind_all` listens on every interface, checked in /proc/net/tcp).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx

import tsvis_live
from tests.serverproc import ServerProcess

REPO = Path(__file__).resolve().parent.parent


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, cwd=REPO)


def test_python_dash_m_and_version():
    r = _run(sys.executable, "-m", "tsvis_live", "--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"tsvis-live {tsvis_live.__version__}"
    r = _run(sys.executable, "-m", "tsvis_live", "ingest", "--version")
    assert r.returncode == 0 and r.stdout.strip() == f"tsvis-live {tsvis_live.__version__}"


def test_help_lists_the_subcommands():
    script = shutil.which("tsvis-live", path=str(Path(sys.executable).parent))
    assert script, "the tsvis-live console script is not installed next to this Python"
    r = _run(script, "--help")
    assert r.returncode == 0, r.stderr
    text = r.stdout
    assert "subcommands:" in text
    section = text.split("subcommands:", 1)[1]
    assert "serve" in section and "(default)" in section
    assert "ingest" in section and "once" in section
    assert "--bind_all" in text and "--version" in text
    r = _run(script, "ingest", "--help")
    assert r.returncode == 0 and "--logdir" in r.stdout


def _ws_open(url: str) -> None:
    from websockets.sync.client import connect

    with connect(url, open_timeout=30) as ws:
        ws.ping().wait(30)


def _listening(port: int) -> list[str]:
    """Local addresses listening on `port` (hex /proc/net/tcp form)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            local, _remote, state = line.split()[1:4]
            addr, hexport = local.rsplit(":", 1)
            if int(hexport, 16) == port and state == "0A":
                found.append(addr)
    return found


def test_bind_all_needs_a_token_and_listens_everywhere(tmp_path):
    logdir = tmp_path / "logs"
    logdir.mkdir()
    r = _run(sys.executable, "-m", "tsvis_live", "--logdir", str(logdir), "--data-dir",
             str(tmp_path / "data"), "--bind_all", "--port", "1")
    assert r.returncode == 2
    assert "token" in r.stderr and "0.0.0.0" in r.stderr
    r = _run(sys.executable, "-m", "tsvis_live", "--logdir", str(logdir), "--bind_all", "--host", "127.0.0.1")
    assert r.returncode == 2 and "--bind_all" in r.stderr and "--host" in r.stderr
    server = ServerProcess(logdir, tmp_path / "data", "--bind_all", "--token", "s3cret-token-123",
                           "--log-level", "debug")
    try:
        server.wait_ready()
        assert "00000000" in _listening(server.port), _listening(server.port)
        r = httpx.get(server.url + "/api/live/status", params={"token": "s3cret-token-123"}, timeout=30)
        assert r.status_code == 200
        _ws_open(server.ws_url + "?token=s3cret-token-123")
        assert httpx.get(server.url + "/api/live/status", timeout=30).status_code == 401
    finally:
        server.stop()
    log = server.log_path.read_text()
    assert "Ctrl-C to quit" in log
    assert "GET /api/live/status?token=*** " in log, log[-2000:]  # access log, token hidden
    assert '"WebSocket /ws?token=***" [accepted]' in log, log[-2000:]
    assert "s3cret-token-123" not in log


def test_log_level_reaches_uvicorn(tmp_path):
    logdir = tmp_path / "logs"
    logdir.mkdir()
    server = ServerProcess(logdir, tmp_path / "d1", "--log-level", "debug")
    try:
        server.wait_ready()
        httpx.get(server.url + "/api/live/status", timeout=30)
    finally:
        server.stop()
    debug = server.log_path.read_text()
    assert "GET /api/live/status" in debug, debug[-2000:]  # uvicorn's access log
    assert "Ctrl-C to quit" in debug
    server = ServerProcess(logdir, tmp_path / "d3")  # info, the default: no line per request
    try:
        server.wait_ready()
        httpx.get(server.url + "/api/live/status", timeout=30)
        _ws_open(server.ws_url)
    finally:
        server.stop()
    info = server.log_path.read_text()
    assert "Application startup complete" in info  # uvicorn at info
    assert "GET /api/live/status" not in info and "WebSocket" not in info, info[-2000:]
    server = ServerProcess(logdir, tmp_path / "d2", "--log-level", "warning")
    try:
        server.wait_ready()
        httpx.get(server.url + "/api/live/status", timeout=30)
    finally:
        server.stop()
    quiet = server.log_path.read_text()
    assert "GET /api/live/status" not in quiet and "Application startup" not in quiet
    assert " INFO " not in quiet, quiet[-2000:]


def test_path_prefix_serves_everything_under_the_prefix(tmp_path, start_server):
    """Behind a reverse proxy at /tsvis/: API, dashboard and /ws live under the prefix."""
    from websockets.sync.client import connect

    from tests.eventfiles import write_scalars

    logdir = tmp_path / "logs"
    (logdir / "run").mkdir(parents=True)
    write_scalars(logdir / "run" / "events.out.tfevents.1.host", "loss", range(5))
    server = start_server(logdir, None, "--path_prefix", "/tsvis/", probe="/tsvis/api/init")
    assert server.json("/tsvis/api/getCategory")["data"]["run"]["scalar"]
    r = server.get("/api/getCategory")
    assert r.status_code == 404 and "/tsvis/" in r.json()["msg"]
    assert r.headers["x-content-type-options"] == "nosniff"
    r = httpx.get(server.url + "/tsvis", params={"a": "1"}, follow_redirects=False, timeout=30)
    assert r.status_code == 308 and r.headers["location"] == "/tsvis/?a=1"
    page = server.get("/tsvis/")
    assert page.status_code == 200 and "./assets/" in page.text  # relative: works under the prefix
    ws_url = server.url.replace("http", "ws") + "/tsvis/ws"
    with connect(ws_url, open_timeout=30) as ws:
        assert ws.recv(timeout=30)  # the server's first message
    try:
        with connect(server.url.replace("http", "ws") + "/ws", open_timeout=30) as ws:
            ws.recv(timeout=30)
        raise AssertionError("/ws outside the prefix was accepted")
    except Exception as exc:  # websockets.exceptions.InvalidStatus / ConnectionClosed
        assert "AssertionError" not in type(exc).__name__
    r = _run(sys.executable, "-m", "tsvis_live", "--logdir", str(logdir), "--path_prefix", "/a/../b")
    assert r.returncode == 2 and "--path_prefix" in r.stderr


def test_dashboard_live_behind_a_path_prefix_in_chromium(tmp_path, start_server):
    """The real dashboard under /tsvis/: it loads, goes live over /tsvis/ws, and every request
    it makes stays under the prefix and succeeds."""
    from playwright.sync_api import expect, sync_playwright

    from tests.eventfiles import write_scalars

    logdir = tmp_path / "logs"
    (logdir / "run").mkdir(parents=True)
    write_scalars(logdir / "run" / "events.out.tfevents.1.host", "loss", range(5))
    server = start_server(logdir, None, "--path_prefix", "tsvis", probe="/tsvis/api/init")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            page = browser.new_page()
            requests, failed, errors = [], [], []
            page.on("request", lambda r: requests.append(r.url))
            page.on("response", lambda r: failed.append((r.status, r.url)) if r.status >= 400 else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server.url + "/tsvis/#scalars")
            page.wait_for_selector("body[data-ready]", timeout=30000)
            expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=15000)
        finally:
            browser.close()
    assert not failed and not errors, (failed, errors)
    local = [u for u in requests if u.startswith(server.url)]
    assert local and all(u.startswith(server.url + "/tsvis/") for u in local), local
    assert any("/tsvis/api/" in u for u in local)
