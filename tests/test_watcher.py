"""The watcher names the files an event batch touched, even in the batch that also asks for a
full pass: during a first pass, a rescan leaves every file that pass has yet to read to it, so a
batch turned into a rescan alone would leave a trainer's append to such a file waiting for the
first pass to reach it (or for the trainer's next write). Real inotify, real files."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.eventfiles import scalar_records
from tsvis_live.stream import watcher

NAME = "events.out.tfevents.1700000000.host"


def test_the_first_batch_after_arming_names_its_files_before_the_rescan(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    path = logdir / "run" / NAME
    path.parent.mkdir(parents=True)
    head, *records = scalar_records("loss", range(2))
    path.write_bytes(head)

    async def first_yields() -> list:
        stop = asyncio.Event()
        got: list = []
        batches = watcher.changes(logdir, None, stop)

        async def append_once_armed() -> None:
            await asyncio.sleep(0.3)  # armed by now; the watch's first idle wake-up is at 1 s
            with open(path, "ab") as fh:
                fh.write(records[0])

        writer = asyncio.create_task(append_once_armed())
        deadline = time.monotonic() + 3.0  # the append is seen within ~0.3 s + the debounce
        while len(got) < 2:
            try:
                files = await asyncio.wait_for(batches.__anext__(), max(0.01, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                break  # nothing more came
            got.append(None if files is None else [lf.path.name for lf in files])
        await writer
        stop.set()
        return got

    got = asyncio.run(asyncio.wait_for(first_yields(), 30))
    assert got == [[NAME], None]
