"""The HTTP 500s the fuzzer found: each is now a 4xx with a sentence (or a 200 for the export).

One real server on logs written by tensorboardX (a run and a tag outside Latin-1), real httpx
and http.client clients.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import time
from pathlib import Path
from urllib.parse import quote, unquote

import httpx
import numpy as np
import pytest

RUN, TAG = "ré/σ", "损失/lôss"  # tensorboardX keeps these characters as they are
BIG = [str(2**63), str(-(2**63) - 1), str(10**30), "1e300", "-1e300", "9" * 5000]
# every integer parameter of every route (with the other parameters it needs)
INT_PARAMS = [
    ("/api/scalar", {"run": RUN, "tag": TAG}, ["start_step", "end_step", "max_points"]),
    ("/api/histogram", {"run": RUN, "tag": "h"}, ["start_step", "end_step"]),
    ("/api/distribution", {"run": RUN, "tag": "h"}, ["samples"]),
    ("/api/image", {"run": RUN, "tag": "img"}, ["offset", "limit"]),
    ("/api/text", {"run": RUN, "tag": "txt"}, ["offset", "limit"]),
    ("/api/image_raw", {"run": RUN, "tag": "img", "step": "0"}, ["step", "index"]),
    ("/api/blob", {"run": RUN, "tag": "img", "step": "0", "kind": "image"}, ["step", "index"]),
    ("/api/exception_data", {"run": RUN, "tag": "e", "step": "0"}, ["step"]),
    ("/api/exception_hist", {"run": RUN, "tag": "e", "step": "0"}, ["step", "buckets"]),
    ("/api/projector_data", {"run": RUN, "tag": "emb", "step": "0", "method": "pca"}, ["step"]),
    ("/api/projector_sample", {"run": RUN, "tag": "emb", "index": "0"}, ["index"]),
    ("/api/live/scalars", {"run": RUN, "tag": TAG}, ["max_points", "start_step", "end_step"]),
    ("/api/live/poll", {}, ["since"]),
]


def wait_ingested(server, timeout: float = 90) -> None:
    """Until the server has stored what was on disk at start (status `ready`)."""
    deadline = time.monotonic() + timeout
    while not httpx.get(server.url + "/api/live/status", timeout=30).json()["data"]["ready"]:
        assert time.monotonic() < deadline, "the server never became ready"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def http_server(tmp_path_factory):
    from tensorboardX import SummaryWriter

    from tests.conftest import spawn_server

    base = tmp_path_factory.mktemp("httpsec")
    logdir = base / "logs"
    w = SummaryWriter(str(logdir / RUN), flush_secs=3600)
    for step in range(20):
        w.add_scalar(TAG, step * 0.5, step, walltime=1_700_000_000 + step)
        w.add_histogram("h", np.arange(10.0) + step, step, walltime=1_700_000_000 + step)
    w.add_image("img", np.zeros((3, 4, 4), dtype=np.uint8), 0, walltime=1_700_000_000)
    w.add_text("txt", "hello", 0, walltime=1_700_000_000)
    w.close()
    server = spawn_server(logdir, base / "data", log_dir=base, probe="/api/live/status", probe_query={})
    server.data_dir = base / "data"
    wait_ingested(server)
    yield server
    server.stop()


def test_out_of_range_integers_are_a_400_with_a_sentence(http_server) -> None:
    tried, wrong = 0, []
    with httpx.Client(base_url=http_server.url, timeout=60) as client:
        for path, base, names in INT_PARAMS:
            for name in names:
                for value in BIG:
                    r = client.get(path, params={**base, name: value})
                    tried += 1
                    body = r.json()
                    if r.status_code != 400 or name not in body["msg"]:
                        wrong.append((path, name, value[:20], r.status_code, body.get("msg", "")[:120]))
                # the int64 edge itself is a legal value: anything but a 5xx
                for edge in (str(2**63 - 1), str(-(2**63))):
                    r = client.get(path, params={**base, name: edge})
                    tried += 1
                    if r.status_code >= 500:
                        wrong.append((path, name, edge, r.status_code, r.text[:120]))
    assert tried > 100
    assert not wrong, wrong


def test_export_of_names_outside_latin1(http_server) -> None:
    for fmt in ("csv", "json"):
        r = httpx.get(http_server.url + "/api/live/export", params={"run": RUN, "tag": TAG, "format": fmt},
                      timeout=30)
        assert r.status_code == 200, r.text
        disposition = r.headers["content-disposition"]
        assert disposition.isascii()
        star = disposition.split("filename*=UTF-8''")[1].split(";")[0]
        assert unquote(star) == f"{RUN}_{TAG}.{fmt}".replace("/", "_")
        assert 'filename="' in disposition  # an ASCII fallback for old clients
    assert r.json()[3] == {"wall_time": 1_700_000_003, "step": 3, "value": 1.5}


@pytest.mark.parametrize("subs", [
    "[" * 3000 + "]" * 3000,
    json.dumps([{"kind": "scalar", "run": RUN, "tag": "x"}])[:-2] + ', "deep": ' + "[" * 3000 + "]" * 3000 + "}]",
    '{"kind": "scalar"}',
    '[{"kind": "scalar", "run": "a"}]',
    '[{"kind": "scalar", "run": "a", "tag": ["x"]}]',
    '[1, 2]',
    '[{"kind": "scalar", "run": "a", "tag": "' + "t" * 5000 + '"}]',
    "not json",
])
def test_bad_subs_are_a_400(http_server, subs: str) -> None:
    r = httpx.get(http_server.url + "/api/live/poll", params={"since": "0", "subs": subs}, timeout=30)
    assert r.status_code in (400, 413, 414), (r.status_code, r.text[:200])
    assert "subs" in r.json()["msg"] or r.status_code == 414


def test_poll_with_an_odd_tag_works(http_server) -> None:
    subs = json.dumps([{"kind": "scalar", "run": RUN, "tag": TAG}])
    r = httpx.get(http_server.url + "/api/live/poll", params={"since": "0", "subs": subs}, timeout=30)
    assert r.status_code == 200
    points = [p for m in r.json()["data"]["messages"] if m["type"] == "points" for p in m["points"]]
    assert [p[1] for p in points] == list(range(20))


def test_a_500_does_not_reset_the_keep_alive_connection(http_server) -> None:
    """A real fault (a table gone under the server) answers 500 and the connection lives on."""
    port = int(http_server.url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/api/live/status")
    assert conn.getresponse().read() and conn.sock is not None
    first_sock = conn.sock
    db = next(Path(http_server.data_dir).glob("*.sqlite"))
    with sqlite3.connect(db, timeout=30) as raw:
        tables = [r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        victim = "hparams" if "hparams" in tables else tables[-1]
        raw.execute(f'ALTER TABLE "{victim}" RENAME TO "{victim}_gone"')
    try:
        conn.request("GET", "/api/getCategory")
        failed = conn.getresponse()
        body = json.loads(failed.read())
        assert failed.status >= 500 and body["code"] == failed.status and "Traceback" not in body["msg"]
        assert (failed.getheader("connection") or "").lower() != "close"
        conn.request("GET", "/api/live/status?" + quote("x") + "=1")
        again = conn.getresponse()
        assert again.status == 200 and again.read()
        assert conn.sock is first_sock  # the same TCP connection served all three
    finally:
        conn.close()
        with sqlite3.connect(db, timeout=30) as raw:
            raw.execute(f'ALTER TABLE "{victim}_gone" RENAME TO "{victim}"')


def test_overlong_ui_paths_are_a_404_on_the_same_connection(http_server) -> None:
    """A path component longer than the file system allows (ENAMETOOLONG) is just not there."""
    port = int(http_server.url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for path in ("/" + "A" * 5000, "/" + quote("é" * 3000), "/assets/" + "b" * 300 + ".js"):
            conn.request("GET", path)
            r = conn.getresponse()
            body = json.loads(r.read())
            assert r.status == 404 and body["code"] == 404, (path[:20], r.status, body)
        conn.request("GET", "/api/live/status")
        assert conn.getresponse().status == 200
    finally:
        conn.close()
