"""Shared fixtures: logdirs written by real writers, and real `tsvis-live` server processes.

- `api_logdir` (session): one run per writer (`torch`, `tbx`, `tb`, `tsvis` when the TS-VIS
  writer helper exists) plus `special`, which holds NaN/Inf scalars, a long series and a JSON
  model graph; `api_expected` maps each run to the `writers.Expected` of what was written.
- `start_server(logdir, data_dir=None, *args)` (function): spawns `python -m tsvis_live.cli`
  on 127.0.0.1 with a free port, waits until `/api/init` answers, returns a `ServerProcess`;
  every server it started is terminated at teardown.
- `server` (session): a server on `api_logdir`; yields its base URL.
- `backend` (session): "sqlite" or "postgresql". The API, live and dashboard suites
  (`BACKEND_SUITES`) run once per backend: for "postgresql" every server they spawn stores in a
  fresh PostgreSQL database made for this test run (through TSVIS_LIVE_DATABASE, which the CLI
  reads), with the Redis broker (TSVIS_LIVE_BROKER) for live push.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import writers

pytest_plugins = ["tests.browser_fixtures"]  # `browser` and `page` of the Chromium tests

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("TSVIS_TEST_PG", "postgresql://root@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TSVIS_TEST_REDIS", "redis://127.0.0.1:6379/0")
BACKEND_SUITES = {  # modules whose every test runs on both stores
    "test_api_core", "test_api_media", "test_api_series", "test_api_views", "test_live_ws",
    "test_live_rest", "test_live_backlog", "test_dashboard_browser", "test_dashboard_issue11",
    "test_dashboard_missing", "test_issue12_all_writes", "test_issue12_hparams", "test_xss_browser",
    "test_dashboard_beyond", "test_api_projector_bulk", "test_dashboard_projector", "test_meshes", "test_dashboard_meshes",
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.module.__name__.rsplit(".", 1)[-1] in BACKEND_SUITES:
        if "backend" not in metafunc.fixturenames:
            metafunc.fixturenames.append("backend")
        metafunc.parametrize("backend", ["sqlite", "postgresql"], indirect=True, scope="session")


def _pg_test_database() -> str:
    """A fresh PostgreSQL database for this test run (dropped at the end); returns its URL."""
    import psycopg

    name = f"tsvis_test_{os.getpid()}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def _drop_pg_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Any]:
    """A new SQLite session database under tmp_path/data (a module's own `db` fixture wins)."""
    from tsvis_live.store.database import Database

    database = Database(tmp_path / "data" / "session.sqlite")
    yield database
    database.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL database of this test run (the test command starts PostgreSQL)."""
    url = _pg_test_database()
    yield url
    _drop_pg_database(url)


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Which store the servers spawned by a test use; "sqlite" unless parametrised."""
    name = getattr(request, "param", "sqlite")
    if name != "postgresql":
        yield name
        return
    url = request.getfixturevalue("pg_url")
    before = {k: os.environ.get(k) for k in ("TSVIS_LIVE_DATABASE", "TSVIS_LIVE_BROKER")}
    os.environ["TSVIS_LIVE_DATABASE"], os.environ["TSVIS_LIVE_BROKER"] = url, REDIS_URL
    try:
        yield name
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(autouse=True, scope="session")
def _backend_env(backend: str) -> str:
    """Every test depends on `backend`, so servers are set up after its environment is."""
    return backend
WALL0 = writers.WALL0
LONG_STEPS = 30_000  # points of special/long (crosses the streaming threshold)
KERAS_MODEL = {
    "class_name": "Model", "backend": "oneflow",
    "config": {
        "name": "net",
        "layers": [
            {"name": "input", "class_name": "InputLayer", "config": {}, "inbound_nodes": []},
            {"name": "conv1", "class_name": "Conv2D", "config": {"filters": 8}, "inbound_nodes": ["input"]},
            {"name": "relu1", "class_name": "ReLU", "config": {}, "inbound_nodes": ["conv1"]},
            {"name": "fc", "class_name": "Dense", "config": {"units": 10}, "inbound_nodes": ["relu1"]},
        ],
        "input_layers": ["input"], "output_layers": ["fc"],
    },
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerProcess:
    """A running `tsvis-live` process on 127.0.0.1."""

    proc: subprocess.Popen
    url: str
    log_path: Path
    args: list[str] = field(default_factory=list)

    def get(self, path: str, **query: Any) -> httpx.Response:
        return httpx.get(self.url + path, params=query, timeout=60)

    def json(self, path: str, **query: Any) -> dict[str, Any]:
        r = self.get(path, **query)
        assert r.status_code == 200, (path, query, r.status_code, r.text[:500])
        return r.json()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode


def spawn_server(logdir: Path | None, data_dir: Path, *args: str, log_dir: Path | None = None,
                 wait: bool = True, timeout: float = 90, probe: str = "/api/init",
                 probe_query: dict[str, str] | None = None) -> ServerProcess:
    """Start the real CLI on a free port; with `wait`, return once `probe` answers 200."""
    port = free_port()
    cmd = [sys.executable, "-m", "tsvis_live.cli", "--port", str(port), "--data-dir", str(data_dir)]
    if logdir is not None:
        cmd += ["--logdir", str(logdir)]
    cmd += list(args)
    log_path = (log_dir or data_dir) / f"server-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=log_file, stderr=subprocess.STDOUT)
    server = ServerProcess(proc, f"http://127.0.0.1:{port}", log_path, cmd)
    if not wait:
        return server
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{server.log()[-3000:]}")
        try:
            query = {"id": "t", "trainJobName": "t"} if probe_query is None else probe_query
            if httpx.get(server.url + probe, params=query, timeout=40).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"server did not answer {probe} within {timeout} s:\n{server.log()[-3000:]}")
        time.sleep(0.1)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def start(logdir: Path | None, data_dir: Path | None = None, *args: str, **kw: Any) -> ServerProcess:
        server = spawn_server(logdir, data_dir or tmp_path / "data", *args, log_dir=tmp_path, **kw)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def write_special_logs(logdir: Path) -> writers.Expected:
    """NaN/Inf values, a long series and a JSON model graph (tensorboardX + a model file)."""
    import numpy as np
    from tensorboardX import SummaryWriter

    exp = writers.Expected()
    w = SummaryWriter(str(logdir), max_queue=100_000, flush_secs=3600)
    for step, value in enumerate([1.0, float("nan"), float("inf"), float("-inf"), 2.5]):
        w.add_scalar("odd/values", value, step, walltime=WALL0 + step)
        exp.scalars.append(("", "odd/values", step, WALL0 + step, value))
    values = np.sin(np.arange(LONG_STEPS) / 100.0)
    values[12_345] = 50.0  # a spike the downsampling must keep
    for step in range(LONG_STEPS):
        w.add_scalar("long", float(values[step]), step, walltime=WALL0 + step)
    w.add_text("t10", "layer10", 1, walltime=WALL0 + 1)
    w.add_text("t2", "layer2", 1, walltime=WALL0 + 1)
    w.close()
    (logdir / "model.json").write_text(json.dumps([KERAS_MODEL]))
    return exp


def _write_all(root: Path) -> dict[str, writers.Expected]:
    expected: dict[str, writers.Expected] = {}
    for run, name in (("torch", "write_torch_logs"), ("tbx", "write_tbx_logs"),
                      ("tb", "write_tensorboard_logs"), ("tsvis", "write_tsvis_logs")):
        fn = getattr(writers, name, None)
        if fn is not None:
            (root / run).mkdir(parents=True)
            expected[run] = fn(root / run)
    (root / "special").mkdir()
    expected["special"] = write_special_logs(root / "special")
    return expected


@pytest.fixture(scope="session")
def api_logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, writers.Expected]]:
    root = tmp_path_factory.mktemp("api") / "logs"
    root.mkdir()
    env_before = dict(os.environ)
    try:
        expected = _write_all(root)
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    return root, expected


@pytest.fixture(scope="session")
def api_logdir(api_logs) -> Path:
    return api_logs[0]


@pytest.fixture(scope="session")
def api_expected(api_logs) -> dict[str, writers.Expected]:
    return api_logs[1]


@pytest.fixture(scope="session")
def server_process(api_logdir: Path, tmp_path_factory: pytest.TempPathFactory, backend: str) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("server")
    server = spawn_server(api_logdir, base / "data", log_dir=base)
    yield server
    server.stop()


def open_stored(data_dir: Path, session_id: str):  # type: ignore[no-untyped-def]
    """The store a spawned server used for a session (a SQLite file in its data dir, or its
    schema in the PostgreSQL database of a parametrised run), opened as a `Database`."""
    from tsvis_live.store import backend
    from tsvis_live.store.database import Database

    url = os.environ.get("TSVIS_LIVE_DATABASE")
    if url:
        target = backend.PostgresTarget(backend.normalize_url(url), backend.schema_for(session_id))
        return Database(None, readers=1, postgres=target, session_id=session_id)
    return Database(next(Path(data_dir).glob(f"*-{session_id}.sqlite")), readers=1)


@pytest.fixture(scope="session")
def server(server_process: ServerProcess) -> str:
    """Base URL of a real server on `api_logdir`."""
    return server_process.url


def full_run(writer_run: str, sub: str) -> str:
    """The API's run name of an `Expected` entry (its run is relative to the writer's dir)."""
    return f"{writer_run}/{sub}" if sub else writer_run


@pytest.fixture(scope="session")
def api(server: str) -> Callable[..., Any]:
    """`api(path, **query)` -> the `data` of a 200 envelope (asserting both)."""

    def call(path: str, **query: Any) -> Any:
        r = httpx.get(server + path, params=query, timeout=120)
        assert r.status_code == 200, (path, query, r.status_code, r.text[:500])
        body = r.json()
        assert body["code"] == 200 and body["msg"] == "ok", body
        return body["data"]

    return call


@pytest.fixture
def parallel_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passes over more than 1 MiB of new data decode in worker processes, as a big backlog
    does (by default the compiled decoder reads up to 192 MB in the ingesting thread)."""
    from tsvis_live.ingest import ingester

    monkeypatch.setattr(ingester, "BULK_BYTES", 1 << 20)
    monkeypatch.setattr(ingester, "NATIVE_BULK_BYTES", 1 << 20)
    monkeypatch.setenv("TSVIS_LIVE_DECODE_WORKERS", "2")  # a pool even where the default has none
