"""Where a session's log files live: one local directory, an object store, or several roots.

Why a module of its own: the ingester, tailer and watcher handle a file the same way wherever
it is (byte offsets, identity from size and head bytes); only listing, stat and byte-range
reads differ. A `Source` is the logdir as the user gave it:

- `--logdir DIR`: one local root, unnamed. The local code path of before, unchanged: an
  `os.scandir` walk (`discover`), reads through `open_contained`, file events.
- `--logdir s3://bucket/prefix` (any fsspec protocol installed): one remote root
  (`remote.FsspecRoot`): listed, read by byte range from the stored offsets, polled.
- `--logdir_spec name1:path1,name2:path2` (TensorBoard's syntax, `parse_spec`) or several
  `--logdir` values (`from_logdirs`): several roots, each walked with its own no-escape
  rules; a named root's runs are prefixed `name/` (its own top directory is the run `name`).

A session's id comes from the whole source: the real path for one local directory (as before),
the normalized URL for one remote root, the canonical spec for several roots.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from tsvis_live.formats import tfrecord
from tsvis_live.formats.detect import LogFile
from tsvis_live.formats.paths import open_contained
from tsvis_live.health import Health
from tsvis_live.ingest import discover as walk
from tsvis_live.records import Batch
from tsvis_live.store.filestate import FileState

HEAD_SIZE = 64  # bytes compared to tell a replaced file from a grown one
REMOTE_POLL = 5.0  # seconds between listings of a remote root (object stores send no events)
URI = re.compile(r"[a-zA-Z][0-9a-zA-Z.]*://")  # what TensorBoard (and TensorFlow) take for a URL
_NAME_SEGMENTS = re.compile(r"(^|/)(\.{0,2})(/|$)")  # an empty, '.' or '..' segment


class LogdirError(ValueError):
    """A logdir that cannot be used as given; its message is the CLI's one line."""


class OpenedFile(Protocol):
    """One file as one read sees it: its identity and its bytes from the same version."""

    def identity(self, state: FileState) -> tuple[Any, bytes] | None: ...
    def read(self, offset: int, window: int) -> bytes: ...


class FileIO(Protocol):
    """How the tailer reads one root's files (`LocalIO`, or `remote.FsspecRoot`)."""

    def opened(self, logfile: LogFile) -> AbstractContextManager[OpenedFile]: ...
    def replaced(self, state: FileState, st: Any, head: bytes) -> bool: ...
    def read_whole(self, logfile: LogFile) -> Batch: ...
    def stamp(self, logfile: LogFile, st: Any) -> int: ...


class _LocalFile:
    """A local file opened once (through `open_contained`) for its stat, head and new bytes:
    one containment check per read instead of one per call, and every answer from one inode."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd

    def identity(self, state: FileState) -> tuple[os.stat_result, bytes] | None:
        if self.fd is None:
            return None  # gone meanwhile, or refused: nothing to read
        try:
            return os.fstat(self.fd), os.pread(self.fd, HEAD_SIZE, 0)
        except OSError:
            return None

    def read(self, offset: int, window: int) -> bytes:
        """Bytes from `offset`: at least one whole record when the file holds it."""
        if self.fd is None:
            raise FileNotFoundError("the file could not be opened")
        data = os.pread(self.fd, window, offset)
        need = tfrecord.pending_length(data)
        if need is not None and need > len(data) and need <= tfrecord.MAX_RECORD_SIZE + 16:
            data += os.pread(self.fd, need - len(data), offset + len(data))
        return data


class LocalIO:
    """A local file: opened through `open_contained` (nothing outside its root), stat'ed by fd."""

    @contextmanager
    def opened(self, logfile: LogFile) -> Iterator[_LocalFile]:
        try:
            fh = open_contained(logfile.path, logfile.logdir)
        except OSError:
            yield _LocalFile(None)
            return
        with fh:
            yield _LocalFile(fh.fileno())

    def replaced(self, state: FileState, st: os.stat_result, head: bytes) -> bool:
        if state.id is None:
            return False
        if st.st_ino != state.inode or st.st_size < state.offset:
            return True
        return head[: len(state.head)] != state.head

    def read_whole(self, logfile: LogFile) -> Batch:
        from tsvis_live.formats.wholefile import read_whole_file  # protobuf's text format: on use

        return read_whole_file(logfile)

    def stamp(self, logfile: LogFile, st: os.stat_result) -> int:
        from tsvis_live.formats.wholefile import whole_file_stamp

        return whole_file_stamp(logfile, st)


LOCAL = LocalIO()


def join(prefix: str, rel: str) -> str:
    """A run or file name under a root's prefix ('.' is the root itself)."""
    if not prefix:
        return rel
    return prefix if rel == "." else f"{prefix}/{rel}"


class LocalRoot:
    """A local directory, walked by `discover` (never leaving it)."""

    local = True
    io: FileIO = LOCAL

    def __init__(self, path: Path, prefix: str = "") -> None:
        self.path, self.prefix = path, prefix

    @property
    def location(self) -> str:
        return str(self.path)

    def discover(self, health: Health | None, stop: threading.Event | None) -> list[LogFile]:
        return walk.discover(self.path, health=health, stop=stop, scope=self.prefix)

    def size(self, logfile: LogFile) -> int:
        return logfile.path.stat().st_size

    def exists(self) -> bool:
        return self.path.is_dir()


class Source:
    """The roots of one session and the names their files and runs get in the store."""

    def __init__(self, roots: list[Any], spec: str | None = None) -> None:
        self.roots = roots
        self.spec = spec  # None: one unnamed root (its location is the whole identity)
        self.local = all(r.local for r in roots)
        self.parallel = self.local  # worker processes re-open files by path: local ones only
        self.poll = None if self.local else REMOTE_POLL
        self._by_path = {r.path: r for r in roots}

    # -- identity -------------------------------------------------------------------------
    @property
    def logdir(self) -> Any:
        """What `Session.logdir` shows: the directory for one local root (as before), else
        this source (its `str` is the URL or spec, its `name` has no path)."""
        one = self.roots[0]
        return one.path if self.spec is None and one.local else self

    @property
    def id(self) -> str:
        key = self.spec if self.spec is not None else self.roots[0].location
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    @property
    def name(self) -> str:
        """A short name without any path (shown to remote clients, used in file names)."""
        if self.spec is None:
            return last_segment(self.roots[0].location)
        return "+".join(r.prefix or last_segment(r.location) for r in self.roots)

    def __str__(self) -> str:
        return self.spec if self.spec is not None else self.roots[0].location

    def exists(self) -> bool:
        return any(r.exists() for r in self.roots)

    @property
    def locations(self) -> tuple[str, ...]:
        """Every root's path or URL: what the status endpoint hides from remote clients."""
        return tuple(r.location for r in self.roots)

    @property
    def local_roots(self) -> list[Path]:
        return [r.path for r in self.roots if r.local]

    # -- files ----------------------------------------------------------------------------
    def root_of(self, logfile: LogFile) -> Any:
        if len(self.roots) == 1:
            return self.roots[0]
        return self._by_path.get(logfile.root) or self.roots[0]

    def io(self, logfile: LogFile) -> FileIO:
        return LOCAL if self.local else self.root_of(logfile).io

    def key(self, logfile: LogFile) -> str:
        """The file's name in the store: its path in its root, under the root's prefix."""
        root = self.root_of(logfile)
        return join(root.prefix, _relative(logfile.path, root.path))

    def run(self, logfile: LogFile) -> str:
        root = self.root_of(logfile)
        return join(root.prefix, _relative(logfile.run_dir, root.path) or ".")

    def size(self, logfile: LogFile) -> int:
        return self.root_of(logfile).size(logfile)

    def discover(self, health: Health | None = None, stop: threading.Event | None = None) -> list[LogFile]:
        """Every log file of every root; a name two roots share is read from the first."""
        if len(self.roots) == 1:
            return self.roots[0].discover(health, stop)
        found: dict[str, LogFile] = {}
        clashes: dict[str, str] = {}
        for root in self.roots:
            for lf in root.discover(health, stop):
                key = self.key(lf)
                if key in found:
                    first = self.root_of(found[key])
                    clashes[key] = (f"is in {_shown(first)} and in {_shown(root)}: two roots give the same "
                                    "name; the first root's file is read (name the roots in --logdir_spec)")
                else:
                    found[key] = lf
        if health is not None:
            walk.publish(health, clashes, scope="\0roots")
        return list(found.values())


def last_segment(location: str) -> str:
    """The last path segment of a local path or URL ('bucket' for `s3://bucket`)."""
    rest = URI.sub("", location, count=1).rstrip("/")
    return rest.rsplit("/", 1)[-1] or "root"


def _shown(root: Any) -> str:
    return repr(root.prefix) if root.prefix else "an unnamed root"


def _relative(path: Any, root: Any) -> str:
    rel = path.relative_to(root).as_posix()
    return "." if rel in ("", ".") else rel


# -- what the user gave -----------------------------------------------------------------------

def is_url(text: str) -> bool:
    return URI.match(text) is not None


def _location(text: str) -> str:
    """A spec entry's path as TensorBoard takes it: URLs as they are, paths made real."""
    if text.lower().startswith("file://"):
        text = text[len("file://"):]
    return text if is_url(text) else os.path.realpath(os.path.expanduser(text))


def parse_spec(spec: str) -> list[tuple[str, str]]:
    """`--logdir_spec` entries as (name, location); name '' for an unnamed path.

    TensorBoard's rules: entries are separated by commas; `name:path` names a path unless the
    entry is a URL (`s3://...`), starts with '/', or has a Windows drive; only the first colon
    splits, so `name:/path:with/colon` works. Stricter than TensorBoard (which would read the
    current directory, or let the last of two entries win): no empty entry, no path twice.
    """
    entries: list[tuple[str, str]] = []
    for item in spec.split(","):
        if not item.strip():
            raise LogdirError(f"--logdir_spec {spec!r} has an empty entry")
        if not is_url(item) and ":" in item and not item.startswith("/") and not os.path.splitdrive(item)[0]:
            name, _, path = item.partition(":")
        else:
            name, path = "", item
        if not path:
            raise LogdirError(f"--logdir_spec entry {item!r} names no path")
        entries.append((_check_name(name), _location(path)))
    seen = [loc for _n, loc in entries]
    for loc in seen:
        if seen.count(loc) > 1:
            raise LogdirError(f"--logdir_spec gives {loc} twice")
    return entries


def _check_name(name: str) -> str:
    if name and (_NAME_SEGMENTS.search(name) or "\\" in name or "\x00" in name):
        raise LogdirError(f"--logdir_spec name {name!r} must be a run name: no empty, '.' or '..' segments")
    return name


def from_logdirs(values: list[str]) -> list[tuple[str, str]]:
    """Several `--logdir` values: each root named by its last path segment (TensorBoard takes
    only one --logdir; this is `--logdir_spec basename1:path1,basename2:path2`)."""
    entries = [(last_segment(_location(v)), _location(v)) for v in values]
    names = [n for n, _loc in entries]
    for name in names:
        if names.count(name) > 1:
            raise LogdirError(f"two --logdir values are both named {name!r}; name them with "
                              "--logdir_spec a:PATH1,b:PATH2")
    return entries


def _root(name: str, location: str) -> Any:
    if is_url(location):
        from tsvis_live.ingest.remote import FsspecRoot

        return FsspecRoot(location, name)
    return LocalRoot(Path(location), name)


def build(entries: list[tuple[str, str]]) -> Source:
    """A source of several (or named) roots; its identity is the canonical spec."""
    roots = [_root(name, loc) for name, loc in entries]
    spec = ",".join(f"{r.prefix}:{r.location}" if r.prefix else r.location for r in roots)
    return Source(roots, spec)


def as_source(logdir: Any) -> Source:
    """The source of a logdir value: a `Source` as it is, a URL string, or a local path.

    A local path keeps its meaning of before (resolved, one unnamed root); a URL opens its
    fsspec file system (LogdirError for an unknown scheme or a missing package).
    """
    if isinstance(logdir, Source):
        return logdir
    text = os.fspath(logdir)
    if isinstance(text, str) and is_url(text) and not text.lower().startswith("file://"):
        from tsvis_live.ingest.remote import FsspecRoot

        return Source([FsspecRoot(text, "")])
    if isinstance(text, str) and text.lower().startswith("file://"):
        text = text[len("file://"):]
    return Source([LocalRoot(Path(text).resolve())])  # the session id of before: the real path


def of_logdir(logdir: Any) -> Source:
    """The ingester's source: a `Source` as it is, a path as given (not resolved: its files
    keep the names they had before there were sources)."""
    return logdir if isinstance(logdir, Source) else Source([LocalRoot(Path(logdir))])


def from_args(logdirs: list[str] | None, spec: str | None) -> Source | None:
    """The serve command's `--logdir` (repeatable) / `--logdir_spec`; None when neither."""
    if logdirs and spec:
        raise LogdirError("give --logdir or --logdir_spec, not both")
    if spec is not None:
        entries = parse_spec(spec)
        if len(entries) == 1 and not entries[0][0]:
            return as_source(entries[0][1])
        return build(entries)
    if not logdirs:
        return None
    if len(logdirs) == 1:
        return as_source(logdirs[0])
    return build(from_logdirs(logdirs))
