"""Notice changes under a logdir: file-system events (watchfiles) or plain polling.

File events arrive within tens of milliseconds; polling (`--poll SECONDS`) is for network file
systems that never deliver them. Either way the watcher only says *which* files may have
changed; reading stays incremental by offset in the ingester. A slow full pass also runs now
and then, so an event the OS dropped cannot hide data for long.

A watch belongs to a directory, not to a name: once the logdir is deleted its watch never
reports again, even when a new directory of the same name appears. So the watcher checks every
`CHECK_EVERY` seconds (and on every batch) that the logdir is still the directory it armed,
and re-arms on the new one. Symlinks: a recursive watch would follow links out of the logdir
(a link to `/usr` cost 16,000 inotify watches and 6 s) and around cycles, so the watcher
watches exactly the directories discovery reads (`discover.watch_dirs`), each without
recursion, and re-arms when a new directory shows up.
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
from tsvis_live.ingest.discover import discover, inside, watch_dirs

log = logging.getLogger(__name__)

DEBOUNCE_MS = 30  # watchfiles' default (1600 ms) would add that much latency to every point
FULL_PASS_EVERY = 30.0  # seconds between safety-net full passes in event mode
CHECK_EVERY = 1.0  # seconds between checks that the watched logdir is still the same directory
GONE_CHECK_EVERY = 0.5  # seconds between looks for a logdir that is not there
ARM_RETRY = 5.0  # seconds between full passes while no watch can be set (e.g. inotify limit)


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


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less when `stop` is set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass


def _new_dirs(batch: set[tuple[watchfiles.Change, str]], logdir: Path, watched: set[Path]) -> bool:
    """True when a batch shows a directory inside the logdir that is not watched (any more)."""
    watched.difference_update(Path(p) for change, p in batch if change == watchfiles.Change.deleted)
    for _change, p in batch:
        path = Path(p)
        if path not in watched and not path.name.startswith(".") and path.is_dir() and inside(path, logdir):
            return True
    return False


async def changes(logdir: Path, poll: float | None, stop: asyncio.Event) -> AsyncIterator[list[LogFile] | None]:
    """Yield batches of possibly-changed log files (None = rescan everything) until `stop`.

    Each directory discovery reads is watched on its own (not recursively). The watch is armed
    again when a directory appears (a new run) and when the logdir itself is deleted, replaced
    or recreated; every arming is followed by a full pass that catches what came in between.
    """
    if poll:
        while not stop.is_set():
            await wait_or_stop(stop, poll)
            if not stop.is_set():
                yield None
        return
    while not stop.is_set():
        armed = _identity(logdir)
        if armed is None:  # gone (or not there yet): keep serving what is stored
            await wait_or_stop(stop, GONE_CHECK_EVERY)
            continue
        dirs = await asyncio.to_thread(watch_dirs, logdir)
        watched = set(dirs)
        need_pass, last_pass = True, time.monotonic()  # the first wake-up after arming reads all
        try:
            async with aclosing(watchfiles.awatch(
                *dirs, stop_event=stop, debounce=DEBOUNCE_MS, step=10, rust_timeout=int(CHECK_EVERY * 1000),
                yield_on_timeout=True, recursive=False,
            )) as batches:
                async for batch in batches:
                    if _root_gone(batch, logdir) or _identity(logdir) != armed:
                        log.info("%s was removed or replaced; watching it again once it is there", logdir)
                        break  # what the store holds stays served; the re-armed watch reads anew
                    if _new_dirs(batch, logdir, watched):
                        yield None  # read what is there now, then watch the new directory too
                        break
                    if need_pass or time.monotonic() - last_pass >= FULL_PASS_EVERY:
                        need_pass, last_pass = False, time.monotonic()
                        yield None  # safety-net pass (a dropped OS event cannot hide data for long)
                        continue
                    if batch:
                        yield files_for({Path(p) for _change, p in batch}, logdir)
        except (FileNotFoundError, RuntimeError, OSError) as exc:
            log.warning("cannot watch %s (%s); reading it every %.0f s until a watch can be set",
                        logdir, exc, ARM_RETRY)
            await wait_or_stop(stop, ARM_RETRY)
            if not stop.is_set():
                yield None


__all__ = ["changes", "discover", "files_for"]
