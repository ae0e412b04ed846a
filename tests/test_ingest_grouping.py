"""Small files committed together (`ingest.grouping`): fewer transactions, the same guarantees.

Real SQLite files and a real PostgreSQL, real event files; COMMITs are counted with
SQLAlchemy's own event.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event

from tests.eventfiles import scalar_records, write_scalars
from tests.test_store_faults import FailingCommits
from tests.test_store_postgres import open_pg
from tsvis_live.health import Health
from tsvis_live.ingest import grouping
from tsvis_live.ingest.ingester import Ingester
from tsvis_live.store import reader
from tsvis_live.store.database import Database

NAME = "events.out.tfevents.1700000000.host"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        database = Database(tmp_path / "data" / "session.sqlite")
    else:
        database = open_pg(request.getfixturevalue("pg_url"), tmp_path / "logs")
    yield database
    database.close()


def count_commits(db: Database) -> list[int]:
    seen = [0]

    def on_commit(_conn) -> None:
        seen[0] += 1

    event.listen(db.engine, "commit", on_commit)
    return seen


def steps(db: Database, run: str) -> list[int]:
    return db.read_sync(lambda c: reader.scalar_series(c, run, "loss")).steps.tolist()


def test_many_small_files_are_committed_in_few_transactions(tmp_path: Path, db: Database) -> None:
    logdir = tmp_path / "logs"
    runs = [f"run{i:02d}" for i in range(40)]
    for run in runs:
        write_scalars(logdir / run / NAME, "loss", range(5))
    commits = count_commits(db)
    prog = Ingester(db, logdir).pass_once()
    assert prog.files_done == 40 and prog.events == 40 * 6  # 5 scalars and a file_version each
    assert commits[0] <= 2, f"{commits[0]} transactions for 40 small files"  # before: 40
    assert all(steps(db, run) == list(range(5)) for run in runs)
    assert {f["path"] for f in db.read_sync(reader.files)} == {f"{run}/{NAME}" for run in runs}


def test_a_group_is_bounded_by_bytes_and_files(tmp_path: Path, db: Database,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    logdir = tmp_path / "logs"
    for i in range(10):
        write_scalars(logdir / f"r{i}" / NAME, "loss", range(5))
    monkeypatch.setattr(grouping, "GROUP_FILES", 3)
    commits = count_commits(db)
    Ingester(db, logdir).pass_once()
    assert commits[0] == 4  # 3 + 3 + 3 + 1
    assert all(steps(db, f"r{i}") == list(range(5)) for i in range(10))


def test_a_file_that_fails_its_group_fails_alone_and_nothing_is_stored_twice(tmp_path: Path, db: Database) -> None:
    """The group is committed again file by file: the other files are stored with their file
    rows (the ids the failed group gave them were rolled back), and a restart reads none again."""
    logdir = tmp_path / "logs"
    for run in ("a", "b", "c", "d"):
        write_scalars(logdir / run / NAME, "loss", range(4))
    health = Health()
    ing = Ingester(db, logdir, health=health)
    real_commit = ing.writer.commit

    def commit(conn, state, batch, replace=False):
        if state.path == "c/" + NAME:
            raise ValueError("a record this writer cannot store")
        return real_commit(conn, state, batch, replace)

    ing.writer.commit = commit
    ing.pass_once()
    assert health.get("file", "c/" + NAME) is not None
    assert {f["path"] for f in db.read_sync(reader.files)} == {f"{r}/{NAME}" for r in ("a", "b", "d")}

    again = Ingester(db, logdir, health=Health())  # a restart: resumes from the stored offsets
    prog = again.pass_once()
    assert prog.events == 5  # only c: its 4 scalars and its file_version
    assert [steps(db, run) for run in ("a", "b", "c", "d")] == [list(range(4))] * 4


def test_a_file_that_grows_while_its_group_waits_is_read_again(tmp_path: Path, db: Database) -> None:
    """The live lane asks for a file the group still holds (its claim is refused, so it cannot
    read it): once the group is stored, the pass reads the new bytes itself."""
    logdir = tmp_path / "logs"
    for run in ("a", "b", "c"):
        write_scalars(logdir / run / NAME, "loss", range(3))
    ing = Ingester(db, logdir)
    refused: list[str] = []

    def progress(prog) -> None:
        path = "a/" + NAME
        if prog.files_done == 1 and not refused:  # a is read and waits in the group
            if not ing.claims.claim(path):  # the live lane's attempt: refused, marked to read again
                refused.append(path)
                with open(logdir / path, "ab") as fh:
                    fh.write(b"".join(scalar_records("loss", range(3, 6))[1:]))

    ing.pass_once(progress=progress)
    assert refused == ["a/" + NAME]
    assert steps(db, "a") == list(range(6)) and steps(db, "b") == steps(db, "c") == list(range(3))


def test_a_group_whose_commit_fails_stores_nothing_and_all_of_it_later(tmp_path: Path, db: Database) -> None:
    """A COMMIT that fails as a full disk does: the whole group is rolled back, the store is
    reported once, and the next pass stores every file exactly once under its own run."""
    logdir = tmp_path / "logs"
    runs = [f"r{i}" for i in range(6)]
    for i, run in enumerate(runs):
        write_scalars(logdir / run / NAME, "loss", range(3), value=lambda s, i=i: 10.0 * i + s)
    health = Health()
    ing = Ingester(db, logdir, health=health)
    faults = FailingCommits(db)
    faults.remaining = 1
    ing.pass_once()
    assert health.get("store", "database") is not None
    assert db.read_sync(reader.list_runs) == [] and db.read_sync(reader.files) == []

    ing.retry_now()
    ing.pass_once()
    assert health.get("store", "database") is None
    for i, run in enumerate(runs):
        series = db.read_sync(lambda c, r=run: reader.scalar_series(c, r, "loss"))
        assert series.values.tolist() == [10.0 * i, 10.0 * i + 1, 10.0 * i + 2], run
    assert sorted(f["path"] for f in db.read_sync(reader.files)) == [f"{run}/{NAME}" for run in runs]
