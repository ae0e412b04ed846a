"""The PostgreSQL store against a real server: exact values, crafted names, restarts, the
election and its fence, and `tsvis-live migrate` between SQLite and PostgreSQL and back."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from tensorboardX import SummaryWriter

from tests.eventfiles import write_scalars
from tsvis_live.ingest.ingester import Ingester
from tsvis_live.session import session_id_for
from tsvis_live.store import backend, reader
from tsvis_live.store.database import Database
from tsvis_live.store.election import LostIngestLock, PgIngestLock, claim_epoch, epoch_fence


def open_pg(pg_url: str, logdir: Path) -> Database:
    sid = session_id_for(logdir)
    target = backend.PostgresTarget(backend.normalize_url(pg_url), backend.schema_for(sid))
    return Database(None, postgres=target, session_id=sid, logdir=str(logdir))


def ingest(db: Database, logdir: Path) -> None:
    Ingester(db, logdir, stopping=threading.Event()).pass_once(None)


def test_values_names_and_json_round_trip_exactly(tmp_path: Path, pg_url: str) -> None:
    logdir = tmp_path / "logs"
    steps = [0, 1, 2**40, 2**62]
    write_scalars(logdir / "r" / "events.out.tfevents.1.h", "a\x00b", steps, value=lambda s: float(s % 7))
    w = SummaryWriter(str(logdir / "nan"))
    for i, v in enumerate([1.0, float("nan"), float("inf"), float("-inf")]):
        w.add_scalar("odd", v, i)
    w.add_hparams({"lr": 0.1, "name": "x\x00y"}, {"m": float("nan")})
    w.close()
    db = open_pg(pg_url, logdir)
    try:
        ingest(db, logdir)
        tags = {(run, tag) for run, kind, tag, _c in db.read_sync(reader.list_series) if kind == "scalar"}
        assert ("r", "a\ufffdb") in tags  # PostgreSQL text holds no NUL: documented replacement
        s = db.read_sync(lambda c: reader.scalar_series(c, "r", "a\x00b"))  # found by its real name
        assert s.steps.tolist() == steps and s.steps.dtype == np.int64
        odd = db.read_sync(lambda c: reader.scalar_series(c, "nan", "odd")).values
        assert np.isnan(odd[1]) and odd[2] == np.inf and odd[3] == -np.inf
        hp = [h for h in db.read_sync(reader.hparams) if h["hparams"]]
        assert hp[0]["hparams"]["name"] == "x\x00y"  # JSON documents keep every character
    finally:
        db.close()
    again = open_pg(pg_url, logdir)  # a restarted writer reloads the names as stored
    try:
        write_scalars(logdir / "r" / "events.out.tfevents.2.h", "a\x00b", [2**62 + 1])
        ingest(again, logdir)
        tags = [tag for run, kind, tag, _c in again.read_sync(reader.list_series) if run == "r" and kind == "scalar"]
        assert tags == ["a\ufffdb"]  # no second series
        assert len(again.read_sync(lambda c: reader.scalar_series(c, "r", "a\x00b"))) == 5
    finally:
        again.close()


def test_the_epoch_fence_refuses_a_write_of_a_deposed_ingester(tmp_path: Path, pg_url: str) -> None:
    logdir = tmp_path / "logs"
    write_scalars(logdir / "r" / "events.out.tfevents.1.h", "loss", range(10))
    sid = session_id_for(logdir)
    url = backend.normalize_url(pg_url)
    first, second = PgIngestLock(url, sid), PgIngestLock(url, sid)
    old, new = open_pg(pg_url, logdir), open_pg(pg_url, logdir)
    try:
        assert first.acquire() and not second.acquire()
        assert "pid" in second.holder()
        old.fence = epoch_fence(old.write_sync(claim_epoch))
        first.release()  # as if its connection broke
        assert second.acquire()
        new.fence = epoch_fence(new.write_sync(claim_epoch))
        ingest(old, logdir)  # its commits are refused (a store-wide fault: it pauses)...
        with pytest.raises(LostIngestLock):
            old.write_sync(lambda conn: None)  # ...as is any write job
        assert old.read_sync(reader.max_cursor) == 0  # nothing of it landed
        ingest(new, logdir)
        assert len(new.read_sync(lambda c: reader.scalar_series(c, "r", "loss"))) == 10
    finally:
        second.release()
        old.close()
        new.close()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tsvis_live.cli", *args], capture_output=True, text=True, timeout=300)


def test_migrate_sqlite_to_postgresql_and_back_verifies_every_table(tmp_path: Path, pg_url: str) -> None:
    logdir = tmp_path / "logs"
    w = SummaryWriter(str(logdir / "run"))
    for i in range(2000):
        w.add_scalar("loss", float("nan") if i == 3 else 1 / (i + 1), i)
    w.add_histogram("h", np.arange(100.0), 1)
    w.add_image("img", np.zeros((3, 4, 4)), 1)
    w.add_text("t", "<b>hi</b>", 1)
    w.close()
    assert _cli("ingest", "--logdir", str(logdir), "--data-dir", str(tmp_path / "a"), "--quiet").returncode == 0
    up = _cli("migrate", str(tmp_path / "a"), pg_url)
    assert up.returncode == 0, up.stderr
    assert "verified" in up.stderr
    down = _cli("migrate", pg_url, str(tmp_path / "b"), "--session", session_id_for(logdir))
    assert down.returncode == 0, down.stderr
    again = _cli("migrate", str(tmp_path / "a"), pg_url)  # the destination already holds it
    assert again.returncode == 2 and "--replace" in again.stderr
    copies = [Database(next((tmp_path / d).glob("*.sqlite")), readers=1) for d in ("a", "b")]
    try:
        a, b = (db.read_sync(lambda c: reader.scalar_series(c, "run", "loss")) for db in copies)
        np.testing.assert_array_equal(a.values, b.values)
        assert a.cursors.tolist() == b.cursors.tolist()
        assert copies[1].read_sync(reader.max_cursor) == copies[0].read_sync(reader.max_cursor)
    finally:
        for db in copies:
            db.close()


def test_migrate_refuses_a_session_being_ingested(tmp_path: Path, pg_url: str) -> None:
    logdir = tmp_path / "logs"
    write_scalars(logdir / "r" / "events.out.tfevents.1.h", "loss", range(10))
    assert _cli("ingest", "--logdir", str(logdir), "--data-dir", str(tmp_path / "a"), "--quiet").returncode == 0
    from tsvis_live.store.lock import IngestLock

    lock = IngestLock(next((tmp_path / "a").glob("*.sqlite")))
    assert lock.acquire()
    try:
        out = _cli("migrate", str(tmp_path / "a"), pg_url)
        assert out.returncode == 2 and "being ingested by pid" in out.stderr, out.stderr
    finally:
        lock.release()


def test_an_unknown_database_scheme_is_one_line(tmp_path: Path) -> None:
    out = _cli("--logdir", str(tmp_path), "--database", "mysql://x@y/z", "--port", "1")
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "postgresql://" in out.stderr


def test_an_ingester_elected_again_claims_a_new_epoch_past_its_old_fence(tmp_path: Path, pg_url: str) -> None:
    """Lost the election, won it back: the claim must not be refused by its own stale fence."""
    from tsvis_live.store.provider import Store

    logdir = tmp_path / "logs"
    write_scalars(logdir / "r" / "events.out.tfevents.1.h", "loss", range(10))
    a, b = Store(open_pg(pg_url, logdir)), Store(open_pg(pg_url, logdir))
    try:
        first = a.claim_epoch_sync()
        assert b.claim_epoch_sync() == first + 1  # b took over
        assert a.claim_epoch_sync() == first + 2  # a is elected again
        ingest(a.db, logdir)
        assert len(a.db.read_sync(lambda c: reader.scalar_series(c, "r", "loss"))) == 10
    finally:
        a.db.close()
        b.db.close()
