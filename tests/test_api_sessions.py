"""Sessions across restarts (no re-parse), a deleted logdir, --logroot and --token."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from tests import writers
from tests.conftest import REPO

PROBES = [
    ("/api/getCategory", {}),
    ("/api/scalar", {"run": ".", "tag": "x/loss"}),
    ("/api/histogram", {"run": ".", "tag": "h"}),
    ("/api/distribution", {"run": ".", "tag": "h"}),
    ("/api/image", {"run": ".", "tag": "pic"}),
    ("/api/image_raw", {"run": ".", "tag": "pic", "step": "1"}),
    ("/api/text", {"run": ".", "tag": "t/text_summary"}),
    ("/api/hyperparm", {"run": "trial"}),
]


def _answers(server) -> list:
    return [server.json(path, **query) for path, query in PROBES]


def _status(server) -> dict:
    return server.json("/api/live/status")["data"]


def _file_state(status: dict) -> dict:
    return {f["path"]: (f["offset"], f["size"], f["events"]) for f in status["files"]}


def test_restart_answers_the_same_without_reparsing(tmp_path, start_server):
    logdir, data = tmp_path / "logs", tmp_path / "data"
    writers.write_tbx_logs(logdir)
    first = start_server(logdir, data)
    before, status_before = _answers(first), _status(first)
    assert status_before["progress"]["bytes_done"] > 0
    assert first.stop() == 0 or first.proc.returncode is not None

    t0 = time.perf_counter()
    second = start_server(logdir, data)
    ready = time.perf_counter() - t0
    assert _answers(second) == before
    status = _status(second)
    assert status["progress"]["bytes_done"] == 0 and status["progress"]["events"] == 0  # nothing re-read
    assert _file_state(status) == _file_state(status_before)
    second.stop()
    print(f"restart to ready: {ready:.2f} s")

    # bytes written while the server was down are the only ones read on the next start
    from tensorboardX import SummaryWriter

    w = SummaryWriter(str(logdir / "later"))
    for step in range(5):
        w.add_scalar("late", step * 2.0, step)
    w.close()
    [new_file] = list((logdir / "later").iterdir())
    third = start_server(logdir, data)
    status = _status(third)
    assert status["progress"]["bytes_done"] == new_file.stat().st_size
    assert [p["value"] for p in third.json("/api/scalar", run="later", tag="late")["data"]["late"]] == [0, 2, 4, 6, 8]
    assert _answers(third)[1:] == before[1:]


def test_deleted_logdir_stays_browsable(tmp_path, start_server):
    logdir, data = tmp_path / "logs", tmp_path / "data"
    writers.write_tbx_logs(logdir)
    first = start_server(logdir, data)
    before = _answers(first)
    first.stop()
    shutil.rmtree(logdir)
    again = start_server(logdir, data)
    assert _answers(again) == before
    assert _status(again)["read_only"] is True


def test_logroot_maps_id_and_job_and_refuses_escapes(tmp_path, start_server):
    root = tmp_path / "root"
    writers.write_tbx_logs(root / "alice" / "job1")
    (root / "bob" / "job2").mkdir(parents=True)
    server = start_server(None, tmp_path / "data", "--logroot", str(root),
                          probe_query={"id": "alice", "trainJobName": "job1"})
    r = httpx.get(server.url + "/api/init", params={"id": "alice", "trainJobName": "job1"})
    sid = r.json()["data"]["session_id"]
    cookies = {"session_id": sid}
    cat = httpx.get(server.url + "/api/getCategory", cookies=cookies).json()["data"]
    assert "x" in cat["."]["scalar"]
    for query in ({"id": "..", "trainJobName": "alice"}, {"id": "alice", "trainJobName": "../bob"},
                  {"id": "/etc", "trainJobName": "x"}, {"id": "alice"}):
        r = httpx.get(server.url + "/api/init", params=query)
        assert r.status_code == 400, (query, r.text)
    r = httpx.get(server.url + "/api/init", params={"id": "carol", "trainJobName": "nothing"})
    assert r.status_code == 404
    other = httpx.get(server.url + "/api/init", params={"id": "bob", "trainJobName": "job2"}).json()["data"]
    assert other["session_id"] != sid
    r = httpx.get(server.url + "/api/getCategory")  # two sessions, no cookie: which one?
    assert r.status_code == 404 and "session" in r.json()["msg"].lower()
    r = httpx.get(server.url + "/api/getCategory", cookies={"session_id": other["session_id"]})
    assert r.json()["data"] == {}
    scalar = httpx.get(server.url + "/api/scalar", params={"run": ".", "tag": "x/loss"}, cookies=cookies).json()
    assert np.allclose([p["value"] for p in scalar["data"]["x/loss"]], [1.0, 0.5, 0.25])


def test_token_is_required_everywhere(tmp_path, start_server):
    logdir = tmp_path / "logs"
    writers.write_tbx_logs(logdir)
    server = start_server(logdir, None, "--token", "s3cret", probe_query={"token": "s3cret"})
    for path in ("/api/getCategory", "/", "/api/live/status"):
        r = httpx.get(server.url + path)
        assert r.status_code == 401 and r.json()["code"] == 401
    assert httpx.get(server.url + "/api/getCategory", params={"token": "wrong"}).status_code == 401
    r = httpx.get(server.url + "/api/getCategory", params={"token": "s3cret"})
    assert r.status_code == 200 and r.cookies.get("tsvis_token") == "s3cret"
    assert httpx.get(server.url + "/api/getCategory", cookies={"tsvis_token": "s3cret"}).status_code == 200
    r = httpx.get(server.url + "/api/getCategory", headers={"Authorization": "Bearer s3cret"})
    assert r.status_code == 200 and "set-cookie" not in r.headers


def test_non_loopback_host_needs_a_token(tmp_path):
    cmd = [sys.executable, "-m", "tsvis_live.cli", "--logdir", str(tmp_path), "--host", "0.0.0.0",
           "--port", "1", "--data-dir", str(tmp_path / "d")]
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "token" in r.stderr


def test_missing_tsvis_frontend_is_a_clear_startup_error(tmp_path):
    """--ui tsvis without the wheel: the process exits naming the fix (wheel hidden by -S/-I)."""
    code = ("import sys, importlib.util; sys.modules['tsvis'] = None;"
            "from tsvis_live.http.app import create_app, UIUnavailable;"
            "from tsvis_live.session import SessionManager;\n"
            "try:\n create_app(SessionManager(sys.argv[1]), ui='tsvis')\n"
            "except UIUnavailable as e:\n print('UIUnavailable:', e)")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=REPO, capture_output=True,
                       text=True, timeout=60)
    assert "UIUnavailable" in r.stdout and "pip install tsvis" in r.stdout, r.stdout + r.stderr


def test_dashboard_placeholder_or_build_is_served(tmp_path, start_server):
    server = start_server(tmp_path / "empty", None)
    r = httpx.get(server.url + "/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    built = (Path(__file__).resolve().parent.parent / "tsvis_live/http/static/dashboard/index.html").is_file()
    assert built or "not built" in r.text
