"""Notice changes under a logdir: file-system events (watchfiles) or plain polling.

File events arrive within tens of milliseconds; polling (`--poll SECONDS`) is for network file
systems that never deliver them. Either way the watcher only says *which* files may have
changed; reading stays incremental by offset in the ingester. A slow full pass also runs now
and then, so an event the OS dropped cannot hide data for long.

A watch belongs to a directory, not to a name: once the logdir is deleted its watch never
reports again, even when a new directory of the same name appears. So the watcher checks every
`CHECK_EVERY` seconds (and on every batch) that the logdir is still the directory it armed,
and re-arms on the new one. Symlinks: the recursive watch (notify) may follow links, including
cycles (it stops at a loop) and links out of the logdir; `files_for` drops every path that
does not resolve inside the logdir, so those events only cost a wake-up.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path

import watchfiles

from tsvis_live.formats.detect import LogFile, detect
from tsvis_live.ingest.discover import discover, inside

log = logging.getLogger(__name__)

DEBOUNCE_MS = 30  # watchfiles' default (1600 ms) would add that much latency to every point
FULL_PASS_EVERY = 30.0  # seconds between safety-net full passes in event mode
CHECK_EVERY = 1.0  # seconds between checks that the watched logdir is still the same directory
GONE_CHECK_EVERY = 0.5  # seconds between looks for a logdir that is not there


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


def _identity(logdir: Path) -> tuple[int, int] | None:
    """(device, inode) of the logdir, None when it is not a directory (gone, or not there yet)."""
    try:
        st = os.stat(logdir)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None


def _root_gone(batch: set[tuple[watchfiles.Change, str]], logdir: Path) -> bool:
    """True when a batch says the watched directory itself was deleted (its watch is dead)."""
    return any(change == watchfiles.Change.deleted and Path(p) == logdir for change, p in batch)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass


async def changes(logdir: Path, poll: float | None, stop: asyncio.Event) -> AsyncIterator[list[LogFile] | None]:
    """Yield batches of possibly-changed log files (None = rescan everything) until `stop`.

    The watch is (re)armed on the logdir as it is now: when the directory is deleted, replaced
    or recreated, the old watch (which would never report again) is dropped and a new one set
    on the new directory, followed by a full pass that catches what was written in between.
    """
    if poll:
        while not stop.is_set():
            await _wait(stop, poll)
            if not stop.is_set():
                yield None
        return
    while not stop.is_set():
        armed = _identity(logdir)
        if armed is None:  # gone (or not there yet): keep serving what is stored
            await _wait(stop, GONE_CHECK_EVERY)
            continue
        need_pass = True  # the first wake-up after arming reads everything once
        last_pass = time.monotonic()
        try:
            async with aclosing(watchfiles.awatch(
                logdir, stop_event=stop, debounce=DEBOUNCE_MS, step=10, rust_timeout=int(CHECK_EVERY * 1000),
                yield_on_timeout=True, recursive=True,
            )) as batches:
                async for batch in batches:
                    if _root_gone(batch, logdir) or _identity(logdir) != armed:
                        log.info("%s was removed or replaced; watching it again once it is there", logdir)
                        break  # what the store holds stays served; the re-armed watch reads anew
                    if need_pass or time.monotonic() - last_pass >= FULL_PASS_EVERY:
                        need_pass, last_pass = False, time.monotonic()
                        yield None  # safety-net pass (a dropped OS event cannot hide data for long)
                        continue
                    if batch:
                        yield files_for({Path(p) for _change, p in batch}, logdir)
        except (FileNotFoundError, RuntimeError, OSError) as exc:
            log.info("watching %s stopped (%s); retrying", logdir, exc)
            await _wait(stop, 0.5)


__all__ = ["changes", "discover", "files_for"]
