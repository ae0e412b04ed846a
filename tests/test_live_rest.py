"""The dashboard's REST additions against a real server: columnar series, export, polling errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.eventfiles import write_scalars
from tests.serverproc import running_server
from tsvis_live.compute.downsample import ema_smooth

NAME = "events.out.tfevents.1700000000.host"
N = 5000


def value(step: int) -> float:
    return float(np.float32(np.sin(step / 50.0) + step / 1000.0))


@pytest.fixture(scope="module")
def server(tmp_path_factory, backend):
    root = tmp_path_factory.mktemp("live_rest")
    write_scalars(root / "logs" / "r" / NAME, "loss", range(N), value=value)
    with running_server(root / "logs", root / "data") as srv:
        yield srv.url


def get(server: str, path: str, **params) -> httpx.Response:
    return httpx.get(server + path, params=params, timeout=30)


def test_smoothing_is_computed_on_the_whole_series_before_slicing(server) -> None:
    full = np.array([value(s) for s in range(N)])
    expected = ema_smooth(full, 0.9)
    data = get(server, "/api/live/scalars", run="r", tag="loss", smoothing=0.9, start_step=1000,
               end_step=1999, max_points=100000).json()["data"]
    assert data["steps"] == list(range(1000, 2000))
    np.testing.assert_allclose(data["smoothed"], expected[1000:2000], rtol=0, atol=1e-12)
    assert data["downsampled"] is False and data["total"] == 1000


def test_downsampled_view_keeps_extremes_and_gives_a_band(server) -> None:
    data = get(server, "/api/live/scalars", run="r", tag="loss", max_points=200).json()["data"]
    assert data["downsampled"] is True and len(data["steps"]) <= 200 and data["total"] == N
    full = np.array([value(s) for s in range(N)])
    assert max(data["values"]) == full.max() and min(data["values"]) == full.min()
    assert data["steps"][-1] == N - 1
    band = data["band"]
    assert all(lo <= hi for lo, hi in zip(band["min"], band["max"]))
    assert band["step_start"][0] == 0 and band["step_end"][-1] == N - 1


def test_csv_and_json_export_equal_the_stored_series(server) -> None:
    r = get(server, "/api/live/export", run="r", tag="loss", format="csv")
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["wall_time", "step", "value"]
    assert [int(row[1]) for row in rows[1:]] == list(range(N))
    assert [float(row[2]) for row in rows[1:]] == [value(s) for s in range(N)]
    points = json.loads(get(server, "/api/live/export", run="r", tag="loss", format="json").text)
    assert [p["step"] for p in points] == list(range(N)) and points[7]["value"] == value(7)


@pytest.mark.parametrize("params, fragment", [
    ({"subs": "not json"}, "'subs'"),
    ({"subs": json.dumps([{"kind": "image", "run": "r", "tag": "t"}])}, "kind"),
    ({"since": "-1"}, "'since'"),
])
def test_poll_rejects_bad_requests_with_a_sentence(server, params, fragment) -> None:
    r = get(server, "/api/live/poll", **params)
    assert r.status_code == 400 and fragment in r.json()["msg"] and r.json()["data"] is None


def test_unknown_series_is_404(server) -> None:
    r = get(server, "/api/live/scalars", run="r", tag="nope")
    assert r.status_code == 404 and "nope" in r.json()["msg"]


def test_status_reports_files_and_cursor(server) -> None:
    data = get(server, "/api/live/status").json()["data"]
    assert data["ready"] is True and data["read_only"] is False
    assert data["cursor"] >= N and data["files"][0]["path"] == f"r/{NAME}"
    assert data["files"][0]["status"] == "ok" and data["files"][0]["events"] == N + 1


def test_missing_logdir_is_served_read_only(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    write_scalars(logs / NAME, "loss", range(10))
    with running_server(logs, tmp_path / "data") as srv:
        assert len(get(srv.url, "/api/live/scalars", run=".", tag="loss").json()["data"]["steps"]) == 10
    for p in logs.iterdir():
        p.unlink()
    logs.rmdir()
    with running_server(logs, tmp_path / "data") as srv:
        assert get(srv.url, "/api/live/status").json()["data"]["read_only"] is True
        assert len(get(srv.url, "/api/live/scalars", run=".", tag="loss").json()["data"]["steps"]) == 10


def test_status_names_the_store_and_broker_of_the_parametrised_backend(server, backend) -> None:
    """The suite really runs on each backend: a PostgreSQL run stores in PostgreSQL and pushes
    through Redis, the default run in SQLite with the in-process hub."""
    data = get(server, "/api/live/status").json()["data"]
    assert (data["store"], data["broker"]) == (
        ("postgresql", "redis") if backend == "postgresql" else ("sqlite", "local"))
