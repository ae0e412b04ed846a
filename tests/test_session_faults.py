"""Sessions under process and data-dir faults: a second process, a damaged or read-only database.

Real server processes on loopback, real SQLite files, a real read-only mount (tests run as root).
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np

from tests.eventfiles import scalar_records, write_scalars
from tests.serverproc import ServerProcess, running_server
from tests.test_store_faults import small_tmpfs, wait_for
from tsvis_live.session import database_path
from tsvis_live.store import reader
from tsvis_live.store.database import Database

NAME = "events.out.tfevents.1700000000.host"


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tsvis_live.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def status(server) -> dict:
    return httpx.get(server.url + "/api/live/status", timeout=10).json()["data"]


def stored_steps(data: Path, logdir: Path, run: str, tag: str) -> list[int]:
    db = Database(database_path(data, logdir))
    try:
        return db.read_sync(lambda c: reader.scalar_series(c, run, tag)).steps.tolist()
    finally:
        db.close()


def append_steps(path: Path, tag: str, steps) -> None:
    with open(path, "ab") as fh:
        fh.write(b"".join(scalar_records(tag, steps)))


# -- one ingester per session ------------------------------------------------------------
def test_second_server_follows_then_takes_over_without_doubling(tmp_path: Path) -> None:
    logdir, data = tmp_path / "logs", tmp_path / "data"
    write_scalars(logdir / "r" / NAME, "loss", range(1000))
    first = ServerProcess(logdir, data).wait_ready()
    second = None
    try:
        second = ServerProcess(logdir, data).wait_ready()
        st = status(second)
        assert st["role"] == "follower"
        assert any("ingested by pid" in p["message"] and str(first.proc.pid) in p["message"]
                   for p in st["problems"])
        assert status(first)["role"] == "ingest"
        append_steps(logdir / "r" / NAME, "loss", range(1000, 2000))

        def second_sees_all():
            poll = httpx.get(second.url + "/api/live/scalars", params={"run": "r", "tag": "loss"}, timeout=10)
            return poll.status_code == 200 and poll.json()["data"]["total"] == 2000

        wait_for(second_sees_all)  # a follower serves what the holder stores
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
        append_steps(logdir / "r" / NAME, "loss", range(2000, 2500))
        wait_for(lambda: status(second)["role"] == "ingest", timeout=20)

        def second_has_new_points():
            poll = httpx.get(second.url + "/api/live/scalars", params={"run": "r", "tag": "loss"}, timeout=10)
            return poll.json()["data"]["total"] >= 2500

        wait_for(second_has_new_points)
    finally:
        if second is not None:
            second.stop()
        if first.proc.poll() is None:
            first.stop()
    steps = stored_steps(data, logdir, "r", "loss")
    assert steps == list(range(2500))  # every point once: none lost, none doubled


def test_ingest_command_refuses_while_a_server_ingests(tmp_path: Path) -> None:
    logdir, data = tmp_path / "logs", tmp_path / "data"
    write_scalars(logdir / "r" / NAME, "loss", range(50))
    with running_server(logdir, data) as server:
        done = cli("ingest", "--logdir", str(logdir), "--data-dir", str(data), "--quiet")
        assert done.returncode == 3
        assert f"pid {server.proc.pid}" in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    assert stored_steps(data, logdir, "r", "loss") == list(range(50))


# -- damaged databases -------------------------------------------------------------------
def serve_once(logdir: Path, data: Path, *extra: str) -> subprocess.CompletedProcess:
    """Start a server that must refuse to start (it would otherwise serve until the timeout)."""
    return cli("--logdir", str(logdir), "--data-dir", str(data), "--port", "0", *extra, timeout=60)


def make_session(tmp_path: Path, steps: int = 20) -> tuple[Path, Path, Path]:
    logdir, data = tmp_path / "logs", tmp_path / "data"
    write_scalars(logdir / "r" / NAME, "loss", range(steps))
    done = cli("ingest", "--logdir", str(logdir), "--data-dir", str(data), "--quiet")
    assert done.returncode == 0, done.stderr
    return logdir, data, database_path(data, logdir)


def assert_one_line_naming(done: subprocess.CompletedProcess, path: Path, *words: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "serving" not in done.stderr, done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, done.stderr
    assert str(path) in lines[0] and "--rebuild" in lines[0], lines[0]
    for word in words:
        assert word in lines[0], lines[0]


def test_garbage_database_is_one_line_naming_the_file(tmp_path: Path) -> None:
    logdir, data, path = make_session(tmp_path)
    path.write_bytes(b"this is not a database" * 100)
    assert_one_line_naming(serve_once(logdir, data), path)
    done = cli("ingest", "--logdir", str(logdir), "--data-dir", str(data), "--quiet")
    assert_one_line_naming(done, path)


def test_truncated_database_is_one_line(tmp_path: Path) -> None:
    logdir, data, path = make_session(tmp_path, steps=20_000)
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2 + 100])
    assert_one_line_naming(serve_once(logdir, data), path)


def test_corrupt_middle_page_is_found_at_open(tmp_path: Path) -> None:
    logdir, data, path = make_session(tmp_path, steps=50_000)
    with sqlite3.connect(path) as conn:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    assert pages > 6
    blob = bytearray(path.read_bytes())
    middle = (pages // 2) * page
    blob[middle: middle + page] = np.random.default_rng(1).integers(0, 256, page, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(blob))
    assert_one_line_naming(serve_once(logdir, data), path, "damaged")


def test_future_schema_says_upgrade(tmp_path: Path) -> None:
    logdir, data, path = make_session(tmp_path)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
    done = serve_once(logdir, data)
    assert_one_line_naming(done, path, "newer", "0099")


def test_rebuild_moves_the_damaged_file_aside_and_rereads(tmp_path: Path) -> None:
    logdir, data, path = make_session(tmp_path, steps=30)
    path.write_bytes(b"garbage" * 1000)
    with running_server(logdir, data, "--rebuild") as server:
        data_points = httpx.get(server.url + "/api/live/scalars", params={"run": "r", "tag": "loss"},
                                timeout=10).json()["data"]
        assert data_points["steps"] == list(range(30))
    aside = list(data.glob(path.name + ".damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == b"garbage" * 1000


# -- a read-only data dir ----------------------------------------------------------------
def test_read_only_data_dir_serves_the_stored_session(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    write_scalars(logdir / "r" / NAME, "loss", range(100))
    with small_tmpfs(tmp_path / "data", size="16m") as data:
        done = cli("ingest", "--logdir", str(logdir), "--data-dir", str(data), "--quiet")
        assert done.returncode == 0, done.stderr
        subprocess.run(["mount", "-o", "remount,ro", str(data)], check=True)
        append_steps(logdir / "r" / NAME, "loss", range(100, 110))  # cannot be stored: fine
        server = ServerProcess(logdir, data, log_path=tmp_path / "server.log").wait_ready()
        try:
            st = status(server)
            assert st["role"] == "read-only" and st["ready"]
            points = httpx.get(server.url + "/api/live/scalars", params={"run": "r", "tag": "loss"},
                               timeout=10).json()["data"]
            assert points["steps"] == list(range(100))
            cat = httpx.get(server.url + "/api/getCategory", timeout=10)
            assert cat.status_code == 200 and "r" in cat.json()["data"]
        finally:
            server.stop()
