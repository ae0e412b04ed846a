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

Several roots (`--logdir_spec`, several `--logdir`) are watched together, each root's
directories by the same rules. A remote root (`s3://...`) sends no events at all: a source
with one is polled (every `source.poll` seconds, 5 by default, or `--poll`), each poll a full
pass whose listing costs one request per 1000 objects and whose unchanged objects cost none.
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
from typing import Any

import watchfiles

from tsvis_live.formats.detect import LogFile, detect
from tsvis_live.ingest.discover import discover, inside, watch_dirs
from tsvis_live.ingest.source import Source, of_logdir

log = logging.getLogger(__name__)

DEBOUNCE_MS = 30  # watchfiles' default (1600 ms) would add that much latency to every point
FULL_PASS_EVERY = 30.0  # seconds between safety-net full passes in event mode
CHECK_EVERY = 1.0  # seconds between checks that the watched logdir is still the same directory
GONE_CHECK_EVERY = 0.5  # seconds between looks for a logdir that is not there
ARM_RETRY = 5.0  # seconds between full passes while no watch can be set (e.g. inotify limit)


def _roots(logdir: Path | list[Path]) -> list[Path]:
    return logdir if isinstance(logdir, list) else [logdir]


def files_for(paths: set[Path], logdir: Path | list[Path]) -> list[LogFile] | None:
    """The log files behind changed paths; None means 'do a full pass' (a directory appeared).

    With several roots, a path is detected under each root that holds it (a file of nested
    roots belongs to both)."""
    found: dict[tuple[Path, Path], LogFile] = {}
    roots = _roots(logdir)
    for path in paths:
        for root in roots:
            if not inside(path, root):
                continue
            if path.is_dir():
                return None
            lf = detect(path, root)
            if lf is not None:
                found[(root, lf.path)] = lf
    return sorted(found.values(), key=lambda lf: str(lf.path))


def _identity(logdir: Path) -> tuple[int, int] | None:
    """(device, inode) of the logdir, None when it is not a directory (gone, or not there yet)."""
    try:
        st = os.stat(logdir)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None


def _root_gone(batch: set[tuple[watchfiles.Change, str]], roots: list[Path]) -> bool:
    """True when a batch says a watched root itself was deleted (its watch is dead)."""
    return any(change == watchfiles.Change.deleted and Path(p) in roots for change, p in batch)


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less when `stop` is set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass


def _new_dirs(batch: set[tuple[watchfiles.Change, str]], roots: list[Path], watched: set[Path]) -> bool:
    """True when a batch shows a directory inside a root that is not watched (any more)."""
    watched.difference_update(Path(p) for change, p in batch if change == watchfiles.Change.deleted)
    for _change, p in batch:
        path = Path(p)
        if path not in watched and not path.name.startswith(".") and path.is_dir() and \
                any(inside(path, root) for root in roots):
            return True
    return False


def _watch_dirs(roots: list[Path], armed: list[Any]) -> list[Path]:
    return [d for root, ident in zip(roots, armed) if ident is not None for d in watch_dirs(root)]


async def changes(logdir: Path | Source, poll: float | None, stop: asyncio.Event) -> AsyncIterator[list[LogFile] | None]:
    """Yield batches of possibly-changed log files (None = rescan everything) until `stop`.

    Each directory discovery reads is watched on its own (not recursively). The watch is armed
    again when a directory appears (a new run) and when a root itself is deleted, replaced
    or recreated; every arming is followed by a full pass that catches what came in between.
    A source with a remote root is polled.
    """
    source = of_logdir(logdir)
    poll = poll or source.poll
    if poll:
        while not stop.is_set():
            await wait_or_stop(stop, poll)
            if not stop.is_set():
                yield None
        return
    roots = source.local_roots
    logdir = roots if len(roots) > 1 else roots[0]
    while not stop.is_set():
        armed = [_identity(root) for root in roots]
        if all(ident is None for ident in armed):  # gone (or not there yet): keep serving what is stored
            await wait_or_stop(stop, GONE_CHECK_EVERY)
            continue
        dirs = await asyncio.to_thread(_watch_dirs, roots, armed)
        watched = set(dirs)
        need_pass, last_pass = True, time.monotonic()  # the first wake-up after arming reads all
        try:
            async with aclosing(watchfiles.awatch(
                *dirs, stop_event=stop, debounce=DEBOUNCE_MS, step=10, rust_timeout=int(CHECK_EVERY * 1000),
                yield_on_timeout=True, recursive=False,
            )) as batches:
                async for batch in batches:
                    if _root_gone(batch, roots) or [_identity(root) for root in roots] != armed:
                        log.info("%s was removed, replaced or created; watching it again", source)
                        break  # what the store holds stays served; the re-armed watch reads anew
                    if _new_dirs(batch, roots, watched):
                        yield None  # read what is there now, then watch the new directory too
                        break
                    if need_pass or time.monotonic() - last_pass >= FULL_PASS_EVERY:
                        need_pass, last_pass = False, time.monotonic()
                        named = files_for({Path(p) for _change, p in batch}, logdir) if batch else None
                        if named:  # first the files this batch names: a rescan during the first
                            yield named  # pass leaves the files that pass will read to it
                        yield None  # safety-net pass (a dropped OS event cannot hide data for long)
                        continue
                    if batch:
                        yield files_for({Path(p) for _change, p in batch}, logdir)
        except (FileNotFoundError, RuntimeError, OSError) as exc:
            log.warning("cannot watch %s (%s); reading it every %.0f s until a watch can be set",
                        source, exc, ARM_RETRY)
            await wait_or_stop(stop, ARM_RETRY)
            if not stop.is_set():
                yield None


__all__ = ["changes", "discover", "files_for"]
