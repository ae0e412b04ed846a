"""Notice changes under a logdir: file-system events (watchfiles) or plain polling.

File events arrive within tens of milliseconds; polling (`--poll SECONDS`) is for network file
systems that never deliver them. Either way the watcher only says *which* files may have
changed; reading stays incremental by offset in the ingester. A slow full pass also runs now
and then, so an event the OS dropped cannot hide data for long.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import watchfiles

from tsvis_live.formats.detect import LogFile, detect
from tsvis_live.ingest.discover import discover, inside

log = logging.getLogger(__name__)

DEBOUNCE_MS = 30  # watchfiles' default (1600 ms) would add that much latency to every point
FULL_PASS_EVERY = 30.0  # seconds between safety-net full passes in event mode


def files_for(paths: set[Path], logdir: Path) -> list[LogFile] | None:
    """The log files behind changed paths; None means 'do a full pass' (a directory appeared)."""
    found: dict[Path, LogFile] = {}
    for path in paths:
        if not inside(path, logdir):
            continue
        if path.is_dir():
            return None
        lf = detect(path, logdir)
        if lf is not None:
            found[lf.path] = lf
    return sorted(found.values(), key=lambda lf: str(lf.path))


async def changes(logdir: Path, poll: float | None, stop: asyncio.Event) -> AsyncIterator[list[LogFile] | None]:
    """Yield batches of possibly-changed log files (None = rescan everything) until `stop`."""
    if poll:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=poll)
            except asyncio.TimeoutError:
                yield None
        return
    while not stop.is_set():
        if not logdir.is_dir():  # gone (or not there yet): keep serving what is stored
            try:
                await asyncio.wait_for(stop.wait(), timeout=2.0)
            except asyncio.TimeoutError:
                pass
            if logdir.is_dir():
                yield None
            continue
        try:
            async for batch in watchfiles.awatch(
                logdir, stop_event=stop, debounce=DEBOUNCE_MS, step=10, rust_timeout=int(FULL_PASS_EVERY * 1000),
                yield_on_timeout=True, recursive=True,
            ):
                if not batch:
                    yield None  # timeout: safety-net pass
                    continue
                paths = {Path(p) for _change, p in batch}
                yield files_for(paths, logdir)
        except (FileNotFoundError, RuntimeError, OSError) as exc:
            log.info("watching %s stopped (%s); retrying", logdir, exc)
            await asyncio.sleep(0.5)


__all__ = ["changes", "discover", "files_for"]
