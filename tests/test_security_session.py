"""The token off the command line, and --logroot refusing what is not ROOT/<id>/<trainJobName>."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, free_port
from tests.eventfiles import write_scalars

SECRET = "s3cret-not-in-argv"


def _serve(tmp_path: Path, args: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    logdir = tmp_path / "logs"
    logdir.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "tsvis_live.cli", "--logdir", str(logdir), "--data-dir", str(tmp_path / "data"),
           "--port", str(port), *args]
    log = open(tmp_path / f"server-{port}.log", "wb")
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    return proc, f"http://127.0.0.1:{port}"


def _ready(proc: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}")
        try:
            httpx.get(url + "/api/live/status", timeout=5)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("server never answered")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=20)


@pytest.mark.parametrize("source", ["env", "file"])
def test_token_from_env_or_file_is_enforced_and_not_in_cmdline(tmp_path: Path, source: str) -> None:
    if source == "env":
        proc, url = _serve(tmp_path, [], env={"TSVIS_LIVE_TOKEN": SECRET})
    else:
        token_file = tmp_path / "token"
        token_file.write_text(SECRET + "\n")
        proc, url = _serve(tmp_path, ["--token-file", str(token_file)])
    try:
        _ready(proc, url)
        assert httpx.get(url + "/api/live/status", timeout=10).status_code == 401
        assert httpx.get(url + "/api/live/status", params={"token": SECRET}, timeout=10).status_code == 200
        r = httpx.get(url + "/api/live/status", headers={"Authorization": f"Bearer {SECRET}"}, timeout=10)
        assert r.status_code == 200
        assert SECRET.encode() not in Path(f"/proc/{proc.pid}/cmdline").read_bytes()
    finally:
        _stop(proc)


def test_unreadable_or_empty_token_file_is_a_one_line_error(tmp_path: Path) -> None:
    for name, content in (("missing", None), ("empty", "\n")):
        path = tmp_path / name
        if content is not None:
            path.write_text(content)
        proc, _url = _serve(tmp_path, ["--token-file", str(path)])
        out = proc.communicate(timeout=60)[0] if proc.stdout else None
        proc.wait(timeout=60)
        log = max(tmp_path.glob("server-*.log"), key=lambda p: p.stat().st_mtime).read_text()
        assert proc.returncode == 2, (name, log)
        assert "token file" in log and str(path) in log, log
        assert "Traceback" not in log and "unrecognized" not in log, log
        assert out is None


def test_non_loopback_bind_accepts_a_token_from_the_environment(tmp_path: Path) -> None:
    proc, _url = _serve(tmp_path, ["--host", "192.0.2.2"], env={"TSVIS_LIVE_TOKEN": SECRET})
    try:
        url = _url.replace("127.0.0.1", "192.0.2.2")
        _ready(proc, url)
        assert httpx.get(url + "/api/live/status", params={"token": SECRET}, timeout=10).status_code == 200
    finally:
        _stop(proc)


def test_logroot_refuses_the_root_itself_and_overlong_names(start_server, tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_scalars(root / "alice" / "job1" / "events.out.tfevents.1.h", "loss", range(5))
    write_scalars(root / "bob" / "job2" / "events.out.tfevents.1.h", "loss", range(5))
    server = start_server(None, None, "--logroot", str(root), probe="/api/init",
                          probe_query={"id": "alice", "trainJobName": "job1"})
    cases = [
        (".", "."), ("alice", "."), (".", "alice"), ("alice/job1", "."), ("./alice", "job1/."),
        ("alice", "job1/.."), ("", "job1"), ("x" * 5000, "job1"), ("alice", "j" * 300),
        ("alice", "a/" * 2000 + "b"), ("alice", "/etc"), ("alice\x00", "job1"),
    ]
    for user, job in cases:
        r = httpx.get(server.url + "/api/init", params={"id": user, "trainJobName": job}, timeout=30)
        assert r.status_code in (400, 404), (user[:20], job[:20], r.status_code, r.text[:200])
        assert r.json()["msg"].endswith("."), r.text
        if user and job:  # (an empty one means "the session of my cookie", here the only one)
            r = httpx.get(server.url + "/api/getCategory", params={"id": user, "trainJobName": job}, timeout=30)
            assert r.status_code in (400, 404), (user[:20], job[:20], r.status_code, r.text[:200])
    # no session was opened on the root or on a user's directory
    ok = httpx.get(server.url + "/api/init", params={"id": "alice", "trainJobName": "job1"}, timeout=30)
    assert ok.status_code == 200
    data_dir = tmp_path / "data"
    stems = sorted(p.name.rsplit("-", 1)[0] for p in data_dir.glob("*.sqlite"))
    assert stems == ["job1"], stems
