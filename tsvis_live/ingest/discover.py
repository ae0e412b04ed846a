"""Find the log files under a logdir without ever leaving it, looping, or hanging.

The rules (also in docs/reliability.md, "Files and symlinks"):
- Every directory is read once, identified by (device, inode): a symlink cycle, a bind mount
  of an ancestor or a second link to the same run adds nothing.
- Real directories are walked first, symlinked ones afterwards, so a run keeps its real name
  and a link to it (`latest -> run_5`) is an alias that is not read twice.
- A symlink (to a directory or a file) whose resolved target lies outside the logdir is not
  followed. A skipped directory is reported, as is a skipped file whose name is a log file's.
- Paths that cannot be listed or stat'ed (too long for the OS, symlink loops, no permission)
  and log-named entries that are not regular files (a FIFO would block `open` forever) are
  reported, one problem per path, at most `MAX_REPORTED` of them plus one summary.
- The walk looks at `max_entries` entries and `max_depth` levels at most, and says so when it
  stops early; `stop` (the session's shutdown signal) ends it at the next directory.
Problems go to the session's `Health` (area "discovery", subject = the path relative to the
logdir) and are cleared there once a later walk no longer meets them.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
import weakref
from collections import deque
from pathlib import Path

from tsvis_live.formats.detect import LogFile, detect, is_event_file
from tsvis_live.formats.paths import is_within, real_root
from tsvis_live.health import Health

log = logging.getLogger(__name__)

AREA = "discovery"
MAX_ENTRIES = 1_000_000  # directory entries per walk (a few seconds of listing)
MAX_DEPTH = 64  # directory levels below the logdir
MAX_REPORTED = 20  # path problems per walk; the rest are counted in one summary
SUMMARY = "(more paths)"
_SUBJECT_CHARS = 160  # a path longer than this is shown by its start and end
_LOG_NAMES = ("projector_config.pbtxt", "structure_graph.json", "model.json")
_REPORTED: weakref.WeakKeyDictionary[Health, dict[str, set[str]]] = weakref.WeakKeyDictionary()


def inside(path: Path, root: Path) -> bool:
    """True when `path`, with symlinks resolved, lies within `root`."""
    try:
        return is_within(os.path.realpath(path), real_root(root))
    except (OSError, ValueError):
        return False


def _why(err: OSError) -> str:
    if err.errno == errno.ENAMETOOLONG:
        return "its path is too long for the operating system (PATH_MAX); not read"
    if err.errno == errno.ELOOP:
        return "it is a loop of symbolic links; not read"
    if err.errno in (errno.EACCES, errno.EPERM):
        return "permission denied; not read"
    return f"cannot be read ({err.strerror or err}); not read"


def _subject(rel: str) -> str:
    if len(rel) <= _SUBJECT_CHARS:
        return rel
    half = _SUBJECT_CHARS // 2
    return f"{rel[:half]}…{rel[-half:]} ({len(rel)} characters)"


def _looks_like_log(name: str) -> bool:
    return is_event_file(name) or name in _LOG_NAMES or name.startswith("projector")


class _Walk:
    """One bounded walk; `found` and `problems` are its results."""

    def __init__(self, root: Path, stop: threading.Event | None, max_entries: int, max_depth: int,
                 detect_files: bool = True) -> None:
        self.root, self.stop, self.detect_files = root, stop, detect_files
        self.dirs: list[Path] = []  # every directory listed, each once
        self.root_real = real_root(root)
        self.max_entries, self.max_depth = max_entries, max_depth
        self.entries = 0
        self.visited: set[tuple[int, int]] = set()
        self.found: list[LogFile] = []
        self.problems: dict[str, str] = {}
        self.unreported = 0
        self.links: list[tuple[Path, int]] = []  # symlinked directories, followed after real ones

    def problem(self, path: Path, message: str) -> None:
        rel = path.relative_to(self.root).as_posix() if path != self.root else "."
        if len(self.problems) < MAX_REPORTED:
            self.problems[_subject(rel)] = message
        else:
            self.unreported += 1

    def run(self) -> None:
        try:
            st = os.stat(self.root)
        except OSError as err:
            if err.errno != errno.ENOENT:
                self.problem(self.root, f"the logdir {_why(err)}")
            return
        self.visited.add((st.st_dev, st.st_ino))
        queue: deque[tuple[Path, int]] = deque([(self.root, 0)])
        while queue or self.links:
            if not queue:  # real directories done: now the symlinked ones met so far
                links, self.links = sorted(self.links, key=lambda item: str(item[0])), []
                queue.extend(item for path, depth in links if (item := self._follow(path, depth)))
                continue
            if self.stop is not None and self.stop.is_set():
                return
            here, depth = queue.popleft()
            if not self._list(here, depth, queue):
                self.problem(self.root, f"discovery stopped after {self.max_entries} entries; "
                             "runs beyond them are missing (is the logdir too large, or a cycle?)")
                return

    def _follow(self, path: Path, depth: int) -> tuple[Path, int] | None:
        """A symlinked directory to walk, or None (outside, already read, unreadable)."""
        real = os.path.realpath(path)
        if not is_within(real, self.root_real):
            self.problem(path, "is a symbolic link to a directory outside the logdir; not followed "
                               "(copy or bind-mount the run into the logdir to see it)")
            return None
        try:
            st = os.stat(path)
        except OSError as err:
            self.problem(path, _why(err))
            return None
        key = (st.st_dev, st.st_ino)
        if key in self.visited:  # a cycle, or an alias of a directory read already
            log.debug("%s leads to a directory already read; not read again", path)
            return None
        self.visited.add(key)
        return path, depth

    def _list(self, here: Path, depth: int, queue: deque) -> bool:
        """Read one directory; False when the entry cap was reached."""
        try:
            with os.scandir(here) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as err:
            self.problem(here, _why(err))
            return True
        self.entries += len(entries)
        if self.entries > self.max_entries:
            return False
        self.dirs.append(here)
        for entry in entries:
            if not entry.name.startswith("."):
                self._entry(entry, Path(entry.path), depth, queue)
        return True

    def _entry(self, entry: os.DirEntry, path: Path, depth: int, queue: deque) -> None:
        try:
            link = entry.is_symlink()
            if link:
                mode = os.stat(path).st_mode  # the target's: ELOOP, EACCES... are reported
            else:  # the type comes with the listing: no system call per file
                mode = stat.S_IFDIR if entry.is_dir(follow_symlinks=False) else (
                    stat.S_IFREG if entry.is_file(follow_symlinks=False) else 0)
            if stat.S_ISDIR(mode) and not link:
                st = entry.stat(follow_symlinks=False)
        except OSError as err:
            if err.errno != errno.ENOENT:  # a dangling link, or gone meanwhile: nothing to read
                self.problem(path, _why(err))
            return
        if stat.S_ISDIR(mode):
            if depth + 1 > self.max_depth:
                self.problem(path, f"lies more than {self.max_depth} directories below the logdir; not read")
            elif link:
                self.links.append((path, depth + 1))
            elif (st.st_dev, st.st_ino) not in self.visited:  # a bind mount can loop, too
                self.visited.add((st.st_dev, st.st_ino))
                queue.append((path, depth + 1))
            return
        if link and not is_within(os.path.realpath(path), self.root_real):
            if _looks_like_log(entry.name):
                self.problem(path, "is a symbolic link to a file outside the logdir; not read")
            return
        if not stat.S_ISREG(mode):
            if _looks_like_log(entry.name):
                self.problem(path, "is not a regular file (a pipe, socket or device); not read")
            return
        logfile = detect(path, self.root) if self.detect_files else None
        if logfile is not None and logfile.path == path:  # else it stands for another file
            self.found.append(logfile)


def publish(health: Health, problems: dict[str, str], scope: str = "") -> None:
    """Report one walk's problems and clear those the previous walk of the same `scope` (a
    root of a session with several) reported but this one did not."""
    for subject, message in problems.items():
        health.report(AREA, subject, message)
    reported = _REPORTED.setdefault(health, {})
    for subject in reported.get(scope, set()) - problems.keys():
        health.clear(AREA, subject)
    reported[scope] = set(problems)


def _publish(health: Health, walk: _Walk, scope: str) -> None:
    now = {join_subject(scope, subject): message for subject, message in walk.problems.items()}
    if walk.unreported:
        now[join_subject(scope, SUMMARY)] = (f"{walk.unreported} more paths cannot be read (only the "
                                             f"first {MAX_REPORTED} are listed)")
    publish(health, now, scope)


def join_subject(scope: str, subject: str) -> str:
    """A problem's subject under a named root: `name/path` (`name` for the root itself)."""
    if not scope:
        return subject
    return scope if subject == "." else f"{scope}/{subject}"


def discover(logdir: Path | str, health: Health | None = None, stop: threading.Event | None = None,
             max_entries: int = MAX_ENTRIES, max_depth: int = MAX_DEPTH, scope: str = "") -> list[LogFile]:
    """Every log file under `logdir`, sorted by path. A missing logdir yields nothing.

    Problems met on the way (see the module docstring) go to `health` when given, else the log;
    `scope` is the root's run-name prefix in a session of several roots (`--logdir_spec`).
    """
    walk = _Walk(Path(logdir), stop, max_entries, max_depth)
    walk.run()
    if health is not None:
        _publish(health, walk, scope)
    elif walk.problems:
        log.debug("discovery problems under %s: %s", logdir, walk.problems)
    return sorted(walk.found, key=lambda lf: str(lf.path))


def watch_dirs(logdir: Path | str, max_entries: int = MAX_ENTRIES, max_depth: int = MAX_DEPTH) -> list[Path]:
    """The directories discovery reads (inside the logdir, each once): what the watcher watches.

    Why not a recursive watch: it follows symlinks out of the logdir (a link to `/usr` costs
    thousands of inotify watches) and around cycles; this list has the discovery rules.
    """
    walk = _Walk(Path(logdir), None, max_entries, max_depth, detect_files=False)
    walk.run()
    return walk.dirs
