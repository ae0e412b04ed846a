"""The two ingest lanes: a file the live lane asks for while the backlog reads it goes back to
the live lane once the backlog has read it to its end.

Before, the backlog kept such a file and read it again for as long as its trainer kept writing,
every read at the backlog's priority (and, in a big pass, through the worker pool): points of a
run that existed when the first pass listed its files waited seconds behind the backlog (seen in
CI on PostgreSQL: 16 points 9.4 s late). Real SQLite, real worker processes, real threads.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.eventfiles import scalar_records
from tsvis_live.formats.detect import detect
from tsvis_live.ingest.ingester import Ingester
from tsvis_live.ingest.progress import Progress
from tsvis_live.store import reader
from tsvis_live.store.database import Database

NAME = "events.out.tfevents.1700000000.host"
STEPS = 30_000  # ~1.3 MB a file: two windows, so the backlog reports progress while it holds one
MORE = 10  # steps a trainer appends while the backlog holds its file


@pytest.fixture
def db(tmp_path: Path):
    database = Database(tmp_path / "session.sqlite")
    yield database
    database.close()


def steps_of(db: Database, run: str) -> list[int]:
    return db.read_sync(lambda c: reader.scalar_series(c, run, "loss")).steps.tolist()


@pytest.mark.parametrize("decoding", ["in-thread", "workers"])
def test_a_file_asked_for_during_the_backlog_goes_back_to_the_live_lane(
    tmp_path: Path, db: Database, decoding: str, request: pytest.FixtureRequest,
) -> None:
    if decoding == "workers":
        request.getfixturevalue("parallel_pass")
    logdir = tmp_path / "logs"
    runs = ["r0", "r1", "r2"]
    blob = b"".join(scalar_records("loss", range(STEPS)))
    for run in runs:
        (logdir / run).mkdir(parents=True)
        (logdir / run / NAME).write_bytes(blob)
    total = STEPS
    more = b"".join(scalar_records("loss", range(total, total + MORE))[1:])
    files = [detect(logdir / run / NAME, logdir) for run in runs]

    handed: list = []
    ing = Ingester(db, logdir, handoff=handed.extend)
    asked: list[bool] = []

    def trainer_writes_during_the_backlog(_prog: Progress) -> None:
        """On the backlog's thread, between its windows (a file it read is still claimed): every
        run gets new steps and the live lane is told, as a file event would."""
        if asked:
            return
        asked.append(True)
        for run in runs:
            with open(logdir / run / NAME, "ab") as fh:
                fh.write(more)
        live = threading.Thread(target=ing.pass_once, args=(files,))
        live.start()
        live.join()

    ing.pass_once(progress=trainer_writes_during_the_backlog, backlog=True)
    assert asked, "the backlog reported no progress"
    handed_runs = sorted({lf.path.parent.name for lf in handed})
    assert handed_runs, "no file went back to the live lane"
    stored = {run: len(steps_of(db, run)) for run in runs}
    # the file whose window was just committed had its last window read before the append: the
    # backlog did not read it again; a file the live lane could take was read at once
    assert any(stored[run] == total for run in handed_runs), stored
    assert all(stored[run] == total + MORE for run in runs if run not in handed_runs), stored
    ing.pass_once(handed)  # the live lane reads what it was handed
    for run in runs:
        assert steps_of(db, run) == list(range(total + MORE)), run


def test_a_session_reads_what_its_backlog_hands_back_on_the_live_lane(tmp_path: Path) -> None:
    """The session's side of the handoff: files handed back from the backlog's thread are read
    on the live lane at once. Polling every hour, so no file event can read them instead."""
    import asyncio
    import time

    from tsvis_live.session import Session

    logdir = tmp_path / "logs"
    (logdir / "r0").mkdir(parents=True)
    head, *records = scalar_records("loss", range(3))
    path = logdir / "r0" / NAME
    path.write_bytes(head + records[0])

    async def scenario() -> list[int]:
        session = Session(logdir, tmp_path / "data", poll=3600)
        await session.start()
        try:
            await asyncio.wait_for(session.ready.wait(), 30)
            with open(path, "ab") as fh:
                fh.write(records[1] + records[2])
            files = [detect(path, logdir)]
            handing = threading.Thread(target=session._hand_to_live, args=(files,))  # as the backlog's thread
            handing.start()
            handing.join()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                series = await session.store.scalars("r0", "loss")
                if len(series.points.steps) == 3:
                    break
                await asyncio.sleep(0.02)
            return series.points.steps.tolist()
        finally:
            await session.stop()

    assert asyncio.run(scenario()) == [0, 1, 2]
