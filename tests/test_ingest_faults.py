"""Incremental ingest under bad input: every fault loses only what it must and nothing else."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.eventfiles import scalar_event, scalar_records, write_scalars
from tests.pool_workers import pool_workers
from tsvis_live.formats.tfrecord import encode_record
from tsvis_live.ingest.ingester import Ingester
from tsvis_live.store import reader
from tsvis_live.store.database import Database

NAME = "events.out.tfevents.1700000000.host"


@pytest.fixture
def db(tmp_path: Path):
    database = Database(tmp_path / "session.sqlite")
    yield database
    database.close()


def steps_of(db: Database, run: str = ".", tag: str = "loss") -> list[int]:
    return db.read_sync(lambda c: reader.scalar_series(c, run, tag)).steps.tolist()


def file_row(db: Database, path: str) -> dict:
    return next(f for f in db.read_sync(reader.files) if f["path"] == path)


def test_truncated_tail_waits_then_completes(tmp_path: Path, db: Database) -> None:
    logdir = tmp_path / "logs"
    logdir.mkdir()
    records = scalar_records("loss", range(10))
    blob = b"".join(records)
    cut = len(blob) - len(records[-1]) // 2  # half of the last record
    (logdir / NAME).write_bytes(blob[:cut])
    ing = Ingester(db, logdir)
    ing.pass_once()
    assert steps_of(db) == list(range(9))
    assert file_row(db, NAME)["offset"] == len(blob) - len(records[-1])
    with open(logdir / NAME, "ab") as fh:
        fh.write(blob[cut:])
    ing.pass_once()
    assert steps_of(db) == list(range(10))
    assert file_row(db, NAME)["skipped"] == 0


def test_corrupt_data_crc_skips_one_record(tmp_path: Path, db: Database) -> None:
    logdir = tmp_path / "logs"
    records = write_scalars(logdir / NAME, "loss", range(10))
    blob = bytearray((logdir / NAME).read_bytes())
    start = sum(len(r) for r in records[:5])  # record of step 4
    blob[start + len(records[5]) - 1] ^= 0xFF  # its data CRC
    (logdir / NAME).write_bytes(bytes(blob))
    Ingester(db, logdir).pass_once()
    assert steps_of(db) == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    assert file_row(db, NAME)["skipped"] == 1
    assert file_row(db, NAME)["status"] == "ok"


def test_corrupt_length_marks_file_and_keeps_the_rest(tmp_path: Path, db: Database) -> None:
    logdir = tmp_path / "logs"
    records = write_scalars(logdir / NAME, "loss", range(10))
    write_scalars(logdir / "other" / NAME, "loss", range(3))
    blob = bytearray((logdir / NAME).read_bytes())
    start = sum(len(r) for r in records[:7])  # record of step 6
    blob[start] ^= 0x01  # its length
    (logdir / NAME).write_bytes(bytes(blob))
    Ingester(db, logdir).pass_once()
    assert steps_of(db) == list(range(6))
    row = file_row(db, NAME)
    assert row["status"] == "broken" and "length checksum" in row["error"]
    assert steps_of(db, "other") == [0, 1, 2]


def test_garbage_and_empty_files_never_crash(tmp_path: Path, db: Database) -> None:
    logdir = tmp_path / "logs"
    write_scalars(logdir / "good" / NAME, "loss", range(4))
    (logdir / "junk").mkdir()
    (logdir / "junk" / NAME).write_bytes(np.random.default_rng(0).bytes(100_000))
    (logdir / "empty").mkdir()
    (logdir / "empty" / NAME).write_bytes(b"")
    # a garbage record with valid framing: the CRCs pass, the payload is not an Event
    (logdir / "framed").mkdir()
    (logdir / "framed" / NAME).write_bytes(encode_record(b"\xff" * 50) + encode_record(scalar_event("loss", 7, 1.0)))
    Ingester(db, logdir).pass_once()
    assert steps_of(db, "good") == [0, 1, 2, 3]
    assert steps_of(db, "framed") == [7]
    assert file_row(db, "framed/" + NAME)["skipped"] == 1
    assert file_row(db, "junk/" + NAME)["status"] == "broken"


def test_replaced_by_shorter_file_replaces_its_points(tmp_path: Path, db: Database) -> None:
    logdir = tmp_path / "logs"
    write_scalars(logdir / NAME, "loss", range(100))
    ing = Ingester(db, logdir)
    ing.pass_once()
    assert len(steps_of(db)) == 100
    tmp = logdir / (NAME + ".tmp")
    write_scalars(tmp, "loss", range(5), value=lambda s: -float(s))
    os.replace(tmp, logdir / NAME)
    ing.pass_once()
    series = db.read_sync(lambda c: reader.scalar_series(c, ".", "loss"))
    assert series.steps.tolist() == [0, 1, 2, 3, 4]
    assert series.values.tolist() == [-0.0, -1.0, -2.0, -3.0, -4.0]


def test_truncated_in_place_is_detected(tmp_path: Path, db: Database) -> None:
    logdir = tmp_path / "logs"
    records = write_scalars(logdir / NAME, "loss", range(50))
    ing = Ingester(db, logdir)
    ing.pass_once()
    with open(logdir / NAME, "r+b") as fh:  # same inode, fewer bytes
        fh.truncate(sum(len(r) for r in records[:11]))
    ing.pass_once()
    assert steps_of(db) == list(range(10))


def test_logdir_that_disappears_keeps_the_session(tmp_path: Path, db: Database) -> None:
    logdir = tmp_path / "logs"
    write_scalars(logdir / NAME, "loss", range(20))
    ing = Ingester(db, logdir)
    ing.pass_once()
    shutil.rmtree(logdir)
    progress = ing.pass_once()
    assert progress.files_total == 0
    assert steps_of(db) == list(range(20))


def test_second_pass_reads_nothing(tmp_path: Path, db: Database) -> None:
    logdir = tmp_path / "logs"
    write_scalars(logdir / NAME, "loss", range(1000))
    first = Ingester(db, logdir).pass_once()
    assert first.events == 1001 and first.bytes_done == (logdir / NAME).stat().st_size
    again = Ingester(db, logdir).pass_once()  # a new ingester, as after a restart
    assert again.bytes_done == 0 and again.events == 0
    assert len(steps_of(db)) == 1000


def test_steps_that_go_back_show_the_resumed_run(tmp_path: Path, db: Database) -> None:
    logdir = tmp_path / "logs"
    path = logdir / NAME
    records = scalar_records("loss", range(10))
    resumed = [encode_record(scalar_event("loss", s, 100.0 + s)) for s in range(5, 8)]
    path.parent.mkdir(parents=True)
    path.write_bytes(b"".join(records + resumed))
    Ingester(db, logdir).pass_once()
    raw = db.read_sync(lambda c: reader.scalar_series(c, ".", "loss"))
    assert len(raw) == 13  # every point is kept
    vis = raw.visible()
    assert vis.steps.tolist() == [0, 1, 2, 3, 4, 5, 6, 7]
    assert vis.values.tolist()[5:] == [105.0, 106.0, 107.0]


def six_big_runs(tmp_path: Path) -> Path:
    """Six runs of 150,000 steps (6 x 6.6 MB): a pass over them uses the pool (`parallel_pass`)."""
    logdir = tmp_path / "logs"
    blob = b"".join(scalar_records("loss", range(150_000)))
    for i in range(6):
        (logdir / f"r{i}").mkdir(parents=True)
        (logdir / f"r{i}" / NAME).write_bytes(blob)
    return logdir


def assert_every_step_once(db: Database) -> None:
    for i in range(6):
        assert steps_of(db, f"r{i}") == list(range(150_000)), f"r{i}"


def test_a_killed_decoding_worker_loses_and_doubles_nothing(tmp_path: Path, db: Database, parallel_pass: None) -> None:
    """The OOM killer takes a worker process mid-pass: the pass goes on in-process, exactly."""
    import signal
    import threading
    import time

    from tsvis_live.health import Health

    logdir = six_big_runs(tmp_path)
    health = Health()
    ing = Ingester(db, logdir, health=health)
    killed: list[int] = []

    def kill_a_worker() -> None:
        deadline = time.monotonic() + 60
        while not killed and time.monotonic() < deadline:
            for pid in pool_workers(os.getpid()):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                break
            time.sleep(0.005)

    killer = threading.Thread(target=kill_a_worker)
    killer.start()
    ing.pass_once(backlog=True)
    killer.join()
    assert killed, "no worker process was seen"
    assert health.get("ingest", "workers") is not None
    assert_every_step_once(db)


def test_a_worker_that_ignores_sigterm_cannot_hang_a_broken_pool(
    tmp_path: Path, db: Database, parallel_pass: None,
) -> None:
    """One worker dies while the other cannot take SIGTERM (stopped here; in CI, one spawned
    as the pool broke and blocked writing its result): CPython's pool joins it forever, so the
    pass hung for 300 s. The pass must kill what is left and read on in-process."""
    import signal
    import threading
    import time

    from tsvis_live.health import Health

    logdir = six_big_runs(tmp_path)
    health = Health()
    ing = Ingester(db, logdir, health=health)
    stopped: list[int] = []

    def stop_one_kill_the_other() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            kids = pool_workers(os.getpid())
            if len(kids) >= 2:
                os.kill(kids[1], signal.SIGSTOP)
                stopped.append(kids[1])
                os.kill(kids[0], signal.SIGKILL)
                return
            time.sleep(0.005)

    killer = threading.Thread(target=stop_one_kill_the_other)
    killer.start()
    passing = threading.Thread(target=ing.pass_once, kwargs={"backlog": True}, daemon=True)
    passing.start()
    passing.join(timeout=60)
    killer.join()
    hung = passing.is_alive()
    for pid in stopped:  # let a hung pass end (SIGKILL reaches a stopped process)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    passing.join(timeout=60)
    assert stopped, "the pool never had two workers"
    assert not hung, "the pass waited for a worker that cannot exit"
    assert health.get("ingest", "workers") is not None
    assert_every_step_once(db)


def test_a_pool_that_breaks_at_submit_falls_back_in_process(
    tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch, parallel_pass: None,
) -> None:
    """A worker killed between two submits can make submit() fail with OSError("handle is
    closed") (seen in CI: the replacement's spawn pickles a closed queue): same fallback."""
    from concurrent.futures import ProcessPoolExecutor

    from tsvis_live.health import Health
    from tsvis_live.ingest import pool as pool_module

    class KilledBetweenSubmits(ProcessPoolExecutor):
        submits = 0

        def submit(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            KilledBetweenSubmits.submits += 1
            if KilledBetweenSubmits.submits == 3:
                raise OSError("handle is closed")
            return super().submit(*args, **kwargs)

    monkeypatch.setattr(pool_module, "ProcessPoolExecutor", KilledBetweenSubmits)
    logdir = six_big_runs(tmp_path)
    health = Health()
    ing = Ingester(db, logdir, health=health)
    ing.pass_once(backlog=True)
    assert KilledBetweenSubmits.submits >= 3
    assert "handle is closed" in str(health.get("ingest", "workers"))
    assert_every_step_once(db)


def test_a_worker_killed_while_writing_its_result_cannot_hang_the_pool() -> None:
    """The pool's reader can be inside `recv`, half a result read, when the workers are killed
    (a large window's result is written in pieces): the write end this process also holds must
    be closed, or the reader never sees the end of the pipe and the pool's join waits forever
    (seen in CI: `test_a_pool_that_breaks_at_submit_falls_back_in_process` timed out)."""
    import threading
    import time
    from concurrent.futures.process import BrokenProcessPool

    from tests.pool_workers import write_half_a_result
    from tsvis_live.ingest.pool import decoding_pool

    outcome: list[BaseException] = []

    def run() -> None:
        try:
            with decoding_pool(1) as pool:
                pool.submit(write_half_a_result)
                time.sleep(2.0)  # the worker has written its half message; the reader waits in recv
                raise BrokenProcessPool("the pool broke")  # as the ingester raises it
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            outcome.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout=60)
    assert not t.is_alive(), "the pool's shutdown hung on a worker killed mid-result"
    assert len(outcome) == 1 and isinstance(outcome[0], BrokenProcessPool)
