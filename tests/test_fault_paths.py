"""Files outside the logdir, symlink cycles, impossible records, unreadable paths (issue 8, 5-8).

Everything here runs on real files written by real writers (tensorboardX, framed records) and
the real ingester/discovery; a step that could hang runs in a subprocess with a timeout, so a
regression fails instead of freezing the suite.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.eventfiles import scalar_records, write_scalars
from tsvis_live.formats import tfrecord
from tsvis_live.formats.detect import detect
from tsvis_live.formats.paths import OutsideLogdir, open_contained
from tsvis_live.formats.wholefile import read_whole_file
from tsvis_live.health import Health
from tsvis_live.ingest.discover import discover
from tsvis_live.ingest.ingester import Ingester
from tsvis_live.store import reader
from tsvis_live.store.database import Database

NAME = "events.out.tfevents.1700000000.host"
REPO = Path(__file__).resolve().parent.parent
LABELS = list("uvwxyz")
SECRETS = [f"secret{i}" for i in range(6)]


@pytest.fixture
def db(tmp_path: Path):
    database = Database(tmp_path / "session.sqlite")
    yield database
    database.close()


def file_row(db: Database, path: str) -> dict:
    return next(f for f in db.read_sync(reader.files) if f["path"] == path)


def steps_of(db: Database, run: str = ".", tag: str = "loss") -> list[int]:
    return db.read_sync(lambda c: reader.scalar_series(c, run, tag)).steps.tolist()


def runs_of(found) -> set[str]:
    return {lf.run_dir.name for lf in found}


def in_subprocess(code: str, timeout: float = 20) -> dict:
    """Run `code` (which prints one JSON line last) in a fresh interpreter; a hang fails the test."""
    try:
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"did not finish within {timeout} s (hang)")
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- 5: symlinks leaking files


def write_projector(logdir: Path) -> Path:
    """A tensorboardX embedding with labels and a sprite; returns the embedding's directory."""
    from tensorboardX import SummaryWriter

    rng = np.random.default_rng(3)
    w = SummaryWriter(str(logdir))
    w.add_embedding(rng.standard_normal((6, 4)).astype(np.float32), metadata=LABELS,
                    label_img=rng.random((6, 3, 4, 4)).astype(np.float32), global_step=1, tag="emb")
    w.close()
    (emb_dir,) = [p.parent for p in logdir.rglob("tensors.tsv")]
    return emb_dir


def projector_batch(logdir: Path):
    lf = detect(logdir / "projector_config.pbtxt", logdir)
    assert lf is not None
    return read_whole_file(lf)


def all_labels(batch) -> list[str]:
    return [str(x) for rec in batch.tensors for x in rec.extras.get("labels", [])]


def test_projector_reads_its_own_files(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    write_projector(logdir)
    batch = projector_batch(logdir)
    assert all_labels(batch) == LABELS and batch.skipped == 0


@pytest.mark.parametrize("what", ["metadata.tsv", "tensors.tsv", "sprite.png", "directory"])
def test_projector_file_symlinked_outside_is_not_read(tmp_path: Path, what: str) -> None:
    logdir = tmp_path / "logs"
    emb_dir = write_projector(logdir)
    outside = tmp_path / "outside"
    shutil.copytree(emb_dir, outside)
    (outside / "metadata.tsv").write_text("\n".join(SECRETS) + "\n")
    (outside / "tensors.tsv").write_text("\n".join("7\t7\t7\t7" for _ in SECRETS) + "\n")
    if what == "directory":
        shutil.rmtree(emb_dir)
        emb_dir.symlink_to(outside, target_is_directory=True)
    else:
        (emb_dir / what).unlink()
        (emb_dir / what).symlink_to(outside / what)
    batch = projector_batch(logdir)
    assert not set(all_labels(batch)) & set(SECRETS)
    assert not any((rec.value == 7).all() for rec in batch.tensors)
    assert batch.skipped == 1  # the embedding is skipped and counted, not served half-read


def test_projector_symlink_inside_the_logdir_is_followed(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    emb_dir = write_projector(logdir)
    shared = logdir / "shared"
    shared.mkdir()
    (shared / "labels.tsv").write_text("\n".join(SECRETS) + "\n")
    (emb_dir / "metadata.tsv").unlink()
    (emb_dir / "metadata.tsv").symlink_to(os.path.relpath(shared / "labels.tsv", emb_dir))
    assert all_labels(projector_batch(logdir)) == SECRETS


def test_projector_config_symlinked_outside_is_refused(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    write_projector(logdir)
    outside = tmp_path / "outside"
    outside.mkdir()
    config = logdir / "projector_config.pbtxt"
    shutil.move(config, outside / config.name)
    config.symlink_to(outside / config.name)
    with pytest.raises(OutsideLogdir):
        projector_batch(logdir)
    assert "projector_config.pbtxt" not in {lf.path.name for lf in discover(logdir)}


def test_event_file_symlinked_outside_is_not_read(tmp_path: Path, db: Database) -> None:
    logdir, outside = tmp_path / "logs", tmp_path / "outside"
    write_scalars(outside / NAME, "loss", range(4))
    (logdir / "run").mkdir(parents=True)
    (logdir / "run" / NAME).symlink_to(outside / NAME)
    lf = detect(logdir / "run" / NAME, logdir)
    assert lf is not None
    Ingester(db, logdir).pass_once([lf])  # even when a caller names it directly
    assert db.read_sync(reader.files) == [] or file_row(db, f"run/{NAME}")["events"] == 0
    with pytest.raises(OutsideLogdir):
        open_contained(logdir / "run" / NAME, logdir)


def test_run_dir_symlinked_outside_is_skipped_and_reported(tmp_path: Path) -> None:
    logdir, outside = tmp_path / "logs", tmp_path / "outside"
    write_scalars(logdir / "real" / NAME, "loss", range(3))
    write_scalars(outside / "theirs" / NAME, "loss", range(3))
    write_scalars(logdir / ".store" / "kept" / NAME, "loss", range(3))
    (logdir / "ext").symlink_to(outside / "theirs", target_is_directory=True)
    (logdir / "linked").symlink_to(Path(".store") / "kept", target_is_directory=True)  # stays inside
    (logdir / "latest").symlink_to("real", target_is_directory=True)  # an alias of a real run
    health = Health()
    found = discover(logdir, health=health)
    assert sorted(lf.path.relative_to(logdir).as_posix() for lf in found) == [f"linked/{NAME}", f"real/{NAME}"]
    (problem,) = health.problems("discovery")
    assert problem.subject == "ext" and "outside the logdir" in problem.message
    discover(logdir, health=health)
    assert health.get("discovery", "ext").attempts == 2  # one open problem, not one per pass
    (logdir / "ext").unlink()
    discover(logdir, health=health)
    assert health.problems("discovery") == []  # gone with its cause


def test_ingester_reports_discovery_problems_to_its_health(tmp_path: Path, db: Database) -> None:
    logdir, outside = tmp_path / "logs", tmp_path / "outside"
    write_scalars(logdir / "real" / NAME, "loss", range(3))
    outside.mkdir()
    (logdir / "ext").symlink_to(outside, target_is_directory=True)
    ing = Ingester(db, logdir)
    ing.health = Health()  # what the session hands its ingester
    ing.pass_once()
    assert [p.subject for p in ing.health.problems("discovery")] == ["ext"]
    assert steps_of(db, "real") == [0, 1, 2]


# ---------------------------------------------------------------- 6: symlink cycles

DISCOVER_RUNS = """
import json, sys
from tsvis_live.health import Health
from tsvis_live.ingest.discover import discover
h = Health()
found = discover(sys.argv[1] if len(sys.argv) > 1 else {logdir!r}, health=h)
print(json.dumps({{"files": sorted(str(f.path) for f in found), "problems": [p.subject for p in h.problems()]}}))
"""


def two_cycles(logdir: Path) -> None:
    for run in ("r1", "r2"):
        write_scalars(logdir / run / NAME, "loss", range(3))
    (logdir / "r1" / "up").symlink_to("..", target_is_directory=True)
    (logdir / "r2" / "side").symlink_to("../r1", target_is_directory=True)
    (logdir / "r2" / "self").symlink_to(".", target_is_directory=True)


def test_symlink_cycles_give_exactly_the_real_runs(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    two_cycles(logdir)
    got = in_subprocess(DISCOVER_RUNS.format(logdir=str(logdir)))
    assert got["files"] == [str(logdir / "r1" / NAME), str(logdir / "r2" / NAME)]
    assert got["problems"] == []  # a loop back into the logdir is not an error, just not re-read


def test_discovery_stops_at_its_entry_cap_and_says_so(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    for i in range(30):
        (logdir / f"d{i:02d}").mkdir(parents=True)
    health = Health()
    discover(logdir, health=health, max_entries=10)
    (problem,) = health.problems("discovery")
    assert "10" in problem.message and "stopped" in problem.message


def test_discovery_depth_cap_is_reported(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    deep = logdir.joinpath(*["d"] * 6)
    write_scalars(deep / NAME, "loss", range(2))
    write_scalars(logdir / "d" / NAME, "loss", range(2))
    health = Health()
    found = discover(logdir, health=health, max_depth=3)
    assert [lf.path for lf in found] == [logdir / "d" / NAME]
    assert [p.subject for p in health.problems("discovery")] == ["d/d/d/d"]


# ---------------------------------------------------------------- 8: impossible records


def length_header(length: int) -> bytes:
    header = struct.pack("<Q", length)
    return header + struct.pack("<I", tfrecord.masked_crc32c(header))


@pytest.mark.parametrize("length", [1 << 31, (1 << 31) + 5, 1 << 40, (1 << 64) - 1])
def test_record_longer_than_any_message_marks_the_file_broken(tmp_path: Path, db: Database,
                                                              length: int) -> None:
    logdir = tmp_path / "logs"
    blob = b"".join(scalar_records("loss", range(3)))
    (logdir).mkdir()
    (logdir / NAME).write_bytes(blob + length_header(length) + b"x" * 100)
    Ingester(db, logdir).pass_once()
    assert steps_of(db) == [0, 1, 2]
    row = file_row(db, NAME)
    assert row["status"] == "broken" and str(length) in row["error"], row
    assert row["offset"] == len(blob)


def test_incomplete_record_waits_while_fresh_and_breaks_once_stale(tmp_path: Path, db: Database) -> None:
    logdir = tmp_path / "logs"
    logdir.mkdir()
    records = scalar_records("loss", range(4))
    blob = b"".join(records[:-1])
    tail = records[-1][:20]  # a header claiming more than the file holds
    (logdir / NAME).write_bytes(blob + tail)
    ing = Ingester(db, logdir)
    ing.pass_once()
    assert file_row(db, NAME)["status"] == "ok"  # the writer may still be writing it
    old = time.time() - 3600
    os.utime(logdir / NAME, (old, old))  # an hour without growth: the writer is gone
    ing.pass_once()
    row = file_row(db, NAME)
    assert row["status"] == "broken" and "ends inside a record" in row["error"], row
    assert row["offset"] == len(blob) and steps_of(db) == [0, 1, 2]
    with open(logdir / NAME, "ab") as fh:  # ...unless it comes back: nothing is lost
        fh.write(records[-1][20:])
    ing.pass_once()
    assert file_row(db, NAME)["status"] == "ok" and steps_of(db) == [0, 1, 2, 3]


def test_stale_file_ending_inside_a_header_is_broken(tmp_path: Path, db: Database) -> None:
    logdir = tmp_path / "logs"
    logdir.mkdir()
    blob = b"".join(scalar_records("loss", range(2)))
    (logdir / NAME).write_bytes(blob + b"\x05\x00\x00")
    old = time.time() - 3600
    os.utime(logdir / NAME, (old, old))
    Ingester(db, logdir).pass_once()
    row = file_row(db, NAME)
    assert row["status"] == "broken" and "ends inside a record" in row["error"]
    assert steps_of(db) == [0, 1]


# ---------------------------------------------------------------- 8: paths that cannot be read


def make_deep_file(logdir: Path) -> str:
    """An event file whose path is longer than PATH_MAX (built with dir fds); its relative path."""
    name = "n" * 200
    fd = os.open(logdir, os.O_RDONLY)
    parts = []
    try:
        for _ in range(22):  # 22 * 201 bytes > 4096
            os.mkdir(name, dir_fd=fd)
            nxt = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nxt
            parts.append(name)
        out = os.open(NAME, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(out, b"".join(scalar_records("loss", range(2))))
        os.close(out)
    finally:
        os.close(fd)
    return "/".join(parts)


def test_paths_beyond_path_max_and_symlink_loops_are_reported(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    write_scalars(logdir / "ok" / NAME, "loss", range(2))
    make_deep_file(logdir)
    (logdir / "ok" / "events.out.tfevents.2.loop").symlink_to("events.out.tfevents.2.loop")
    health = Health()
    found = discover(logdir, health=health)
    assert [lf.path for lf in found] == [logdir / "ok" / NAME]
    problems = {p.subject: p.message for p in health.problems("discovery")}
    assert len(problems) == 2, problems
    assert "symbolic links" in problems["ok/events.out.tfevents.2.loop"]
    (deep,) = [s for s in problems if s.startswith("nnn")]
    assert "too long" in problems[deep] and len(deep) < 300  # a readable subject, not 4 KB


def test_unreadable_path_reports_are_bounded(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    logdir.mkdir()
    for i in range(40):
        (logdir / f"events.out.tfevents.{i}.loop").symlink_to(f"events.out.tfevents.{i}.loop")
    health = Health()
    discover(logdir, health=health)
    problems = health.problems("discovery")
    assert 1 < len(problems) <= 25
    assert any("more" in p.message for p in problems)


def test_fifo_named_like_a_log_never_blocks_ingest(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    write_scalars(logdir / "ok" / NAME, "loss", range(2))
    os.mkfifo(logdir / "ok" / "events.out.tfevents.9.fifo")
    os.mkfifo(logdir / "ok" / "model.json")
    got = in_subprocess(f"""
import json
from tsvis_live.health import Health
from tsvis_live.ingest.ingester import Ingester
from tsvis_live.store import reader
from tsvis_live.store.database import Database
db = Database({str(tmp_path / 'db.sqlite')!r})
ing = Ingester(db, {str(logdir)!r})
ing.health = Health()
ing.pass_once()
steps = db.read_sync(lambda c: reader.scalar_series(c, "ok", "loss")).steps.tolist()
print(json.dumps({{"steps": steps, "problems": [p.subject for p in ing.health.problems()]}}))
""")
    assert got["steps"] == [0, 1]
    assert got["problems"] == ["ok/events.out.tfevents.9.fifo", "ok/model.json"]


def test_open_contained_refuses_fifos_and_reads_regular_files(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "f").write_bytes(b"abc")
    with pytest.raises(OSError):
        open_contained(tmp_path / "pipe", tmp_path)
    with open_contained(tmp_path / "f", tmp_path) as fh:
        assert fh.read() == b"abc"


# ---------------------------------------------------------------- 7: a file made again


def test_file_recreated_short_is_replaced_once_not_on_every_read(tmp_path: Path) -> None:
    """A run deleted and written again: the new file starts shorter than the old one's head."""
    from tsvis_live.formats.detect import detect as detect_file
    from tsvis_live.ingest.tailer import Tailer
    from tsvis_live.store.filestate import FileState

    logdir = tmp_path / "logs"
    path = logdir / "run" / NAME
    write_scalars(path, "loss", range(5))
    lf = detect_file(path, logdir)
    tailer = Tailer()
    span = tailer.read(lf, FileState(path=f"run/{NAME}", run="run", format="events"))
    state = span.state
    state.id = 1  # as stored
    shutil.rmtree(logdir / "run")
    records = scalar_records("loss", range(10, 13))
    path.parent.mkdir(parents=True)
    path.write_bytes(records[0])  # the writer has written its header only (shorter than 64 bytes)
    span = tailer.read(lf, state)
    assert span.replace and span.batch.events == 1
    state = span.state
    with open(path, "ab") as fh:
        fh.write(b"".join(records[1:]))
    span = tailer.read(lf, state)
    assert not span.replace, "read as replaced a second time: its points would be sent twice"
    assert list(span.batch.scalars["loss"].steps) == [10, 11, 12]
