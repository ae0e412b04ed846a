"""A logdir on an object store or any fsspec file system (`--logdir s3://bucket/prefix`).

Why it looks like this:
- **Listing, not walking.** One discovery is one recursive listing (S3: ListObjectsV2 pages of
  1000 keys). An object whose size and version (ETag, generation, md5...) equal what the store
  holds costs no further request, so a quiet logdir costs one listing per poll.
- **Byte ranges from the stored offset.** A changed object costs a 64-byte range for its head
  (the replacement check) and a range from the stored offset for the new bytes; a new
  object's head comes with its first window. Whole objects are read only for whole-file
  formats (JSON graphs, OneFlow projector files).
- **Identity without inodes.** The version token, hashed to 56 bits, stands in the inode's
  place in the file's stored state. An object is read again from zero when it is shorter than
  the stored offset, its head differs, or it has a new version of the same size.
- **Credentials and endpoint** are the file system's own: for s3fs, botocore's environment
  (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, AWS_ENDPOINT_URL,
  AWS_DEFAULT_REGION); for gcsfs, GOOGLE_APPLICATION_CREDENTIALS. A listing that fails (bad
  credentials, no bucket, no network) is a problem in the session's health, retried at the
  next poll; nothing stored is dropped.
- **Nothing outside the prefix.** Only keys under `prefix/` are listed; a key with an empty,
  '.' or '..' segment is not read (reported when it is named like a log file).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from tsvis_live.formats import tfrecord
from tsvis_live.formats.detect import LogFile, is_event_file
from tsvis_live.formats.wholefile import decode_whole_file
from tsvis_live.health import Health
from tsvis_live.ingest import discover as walk
from tsvis_live.ingest.source import HEAD_SIZE, LogdirError
from tsvis_live.ingest.tailer import WINDOW
from tsvis_live.records import Batch
from tsvis_live.store.filestate import FileState

FIRST_WINDOW = WINDOW  # a new object's first range: its head and its first window at once
JSON_PEEK = 64 << 10
_EXTRAS = {"s3": ("s3fs", "s3"), "s3a": ("s3fs", "s3"), "gs": ("gcsfs", "gcs"), "gcs": ("gcsfs", "gcs")}
_VERSION_KEYS = ("ETag", "etag", "generation", "md5Hash", "crc32c", "version_id", "VersionId")
_MTIME_KEYS = ("LastModified", "mtime", "updated", "last_modified", "modified", "created")
_JUNK = (".tmp", ".temp", ".swp", ".swx", ".part", ".partial", ".lock", ".crc", "~")
_MODEL_MARKERS = (b'"class_name"', b'"layers"')


class RemoteError(RuntimeError):
    """A request to the store failed for another reason than the object being gone."""


def _missing(scheme: str, detail: str = "") -> str:
    package, extra = _EXTRAS.get(scheme, (None, None))
    if package:
        return f"reading {scheme}:// logdirs needs {package}: pip install 'tsvis-live[{extra}]'"
    return f"reading {scheme}:// logdirs needs a package fsspec names: {detail}".rstrip(": ")


def open_filesystem(url: str) -> tuple[str, Any]:
    """(protocol, file system) for a logdir URL, or a LogdirError saying what to install."""
    scheme = url.split("://", 1)[0].lower()
    try:
        import fsspec
    except ImportError:
        if scheme in _EXTRAS:
            raise LogdirError(_missing(scheme)) from None
        raise LogdirError(f"unknown logdir scheme '{scheme}://' (remote logdirs are read through "
                          "fsspec: pip install fsspec and the package for this scheme)") from None
    try:
        cls = fsspec.get_filesystem_class(scheme)
    except ValueError:
        raise LogdirError(f"unknown logdir scheme '{scheme}://' (install the fsspec package that reads "
                          "it; s3:// and gs:// come with pip install 'tsvis-live[s3]' / '[gcs]')") from None
    except ImportError as exc:
        raise LogdirError(_missing(scheme, str(exc).splitlines()[0] if str(exc) else "")) from None
    protocol = cls.protocol[0] if isinstance(cls.protocol, (tuple, list)) else cls.protocol
    options: dict[str, Any] = {}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if protocol == "s3" and endpoint:  # botocore reads it too, but only from version 1.31 on
        options["endpoint_url"] = endpoint
    try:
        fs = cls(skip_instance_cache=True, **options)
    except Exception as exc:  # a file system that needs options or credentials at construction
        raise LogdirError(f"cannot open {scheme}:// ({type(exc).__name__}: {exc})") from None
    return protocol, fs


@dataclass(frozen=True)
class ObjectStat:
    """What the tailer needs of a stat result, for an object."""

    st_size: int
    st_ino: int  # the version token as a number: an object store has no inode
    st_mtime_ns: int

    @property
    def st_mtime(self) -> float:
        return self.st_mtime_ns / 1e9


def _stat(info: dict[str, Any]) -> ObjectStat:
    size = int(info.get("size") or info.get("Size") or 0)
    token = next((info[k] for k in _VERSION_KEYS if info.get(k) not in (None, "")), None)
    when = next((info[k] for k in _MTIME_KEYS if info.get(k) not in (None, "")), 0)
    if isinstance(when, datetime):
        mtime_ns = int(when.timestamp() * 1e9)
    elif isinstance(when, str):
        try:
            mtime_ns = int(datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp() * 1e9)
        except ValueError:
            mtime_ns = 0
    else:
        mtime_ns = int(float(when) * 1e9)
    version = int.from_bytes(hashlib.sha256(f"{size}:{token}:{mtime_ns if token is None else ''}"
                                            .encode()).digest()[:7], "big")
    return ObjectStat(size, version, mtime_ns)


def _line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


class FsspecRoot:
    """One remote root: listed for discovery, read by byte range (it is its own `FileIO`)."""

    local = False

    def __init__(self, url: str, prefix: str = "") -> None:
        self.protocol, self.fs = open_filesystem(url)
        path = str(self.fs._strip_protocol(url)).strip("/")
        if not path:
            raise LogdirError(f"logdir {url!r} names no bucket or directory")
        self.path = PurePosixPath(path)
        self.location = f"{self.protocol}://{path}"
        self.prefix = prefix
        self.io = self
        self.requests = 0  # GET requests and bytes they returned (listings apart), for figures
        self.bytes = 0
        self.listings = 0
        self._listed: dict[str, ObjectStat] = {}
        self._heads: dict[str, tuple[int, bytes]] = {}
        self._first: dict[str, tuple[int, bytes]] = {}  # prefetched first windows
        self._models: dict[str, tuple[int, bool]] = {}
        self._seen: bool | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FsspecRoot({self.location!r}, prefix={self.prefix!r})"

    # -- requests --------------------------------------------------------------------------
    def _get(self, key: str, start: int | None = None, end: int | None = None) -> bytes:
        try:
            data = self.fs.cat_file(key, start=start, end=end)
        except FileNotFoundError:
            raise
        except Exception as exc:
            raise RemoteError(f"reading {self.protocol}://{key} failed ({_line(exc)})") from exc
        with self._lock:
            self.requests += 1
            self.bytes += len(data)
        return data

    # -- discovery -------------------------------------------------------------------------
    def exists(self) -> bool:
        """False only once a listing found nothing under the prefix (it is gone, or not yet)."""
        return self._seen is not False

    def discover(self, health: Health | None, stop: threading.Event | None) -> list[LogFile]:
        problems: dict[str, str] = {}
        found: list[LogFile] = []
        try:
            self.fs.invalidate_cache()
            listing = self.fs.find(str(self.path), detail=True)
            self.listings += 1
        except FileNotFoundError:
            problems["."] = f"{self.location}: no such bucket (or directory); waiting for it"
        except PermissionError as exc:
            problems["."] = (f"listing {self.location} was refused ({_line(exc)}); check the credentials "
                             "in the environment (for S3: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
                             "AWS_PROFILE); retrying at every poll")
        except Exception as exc:  # no network, endpoint down, throttled: the next poll retries
            problems["."] = f"listing {self.location} failed ({_line(exc)}); retrying at every poll"
        else:
            found = self._files(listing, problems)
        if health is not None:
            subjects = {walk.join_subject(self.prefix, s): m for s, m in list(problems.items())[:walk.MAX_REPORTED]}
            walk.publish(health, subjects, scope=self.prefix)
        return found

    def _files(self, listing: dict[str, dict[str, Any]], problems: dict[str, str]) -> list[LogFile]:
        root = str(self.path) + "/"
        stats: dict[str, ObjectStat] = {}
        rels: list[str] = []
        for key, info in sorted(listing.items()):
            if not key.startswith(root) or info.get("type") == "directory":
                continue
            rel = key[len(root):]
            parts = rel.split("/")
            if any(p in ("", ".", "..") for p in parts):
                if _looks_like_log(parts[-1]):
                    problems[rel] = "its name has an empty, '.' or '..' segment; not read"
                continue
            if any(p.startswith(".") for p in parts):
                continue  # hidden, as in a local walk
            if len(parts) - 1 > walk.MAX_DEPTH:
                problems[rel] = f"lies more than {walk.MAX_DEPTH} directories below the logdir; not read"
                continue
            if len(rels) >= walk.MAX_ENTRIES:
                problems["."] = (f"discovery stopped after {walk.MAX_ENTRIES} objects; runs beyond "
                                 "them are missing")
                break
            stats[key] = _stat(info)
            rels.append(rel)
        self._listed = stats
        self._seen = bool(listing)
        event_dirs = {PurePosixPath(r).parent for r in rels if is_event_file(PurePosixPath(r).name)}
        found = [lf for r in rels if (lf := self._detect(PurePosixPath(r), event_dirs, problems))]
        return sorted(found, key=lambda lf: str(lf.path))

    def _up(self, directory: PurePosixPath) -> PurePosixPath:
        return directory if directory == self.path else directory.parent

    def _detect(self, rel: PurePosixPath, event_dirs: set[PurePosixPath],
                problems: dict[str, str]) -> LogFile | None:
        """`formats.detect`'s rules, by name (plus a peek at JSON), for an object."""
        name, path, run_dir = rel.name, self.path / rel, self.path / rel.parent
        if name.lower().endswith(_JUNK):
            return None
        if is_event_file(name):
            return LogFile(path, "events", run_dir, self.path)
        if name == "projector_config.pbtxt":
            problems[rel.as_posix()] = ("TensorBoard projector configs are read from local logdirs only "
                                        "(they name other files and checkpoints); not read")
            return None
        if name.startswith("projector") and name.endswith(".log") and rel.parent.name == "projector":
            return LogFile(path, "oneflow_projector", self._up(run_dir), self.path)
        if name == "structure_graph.json":
            run = self._up(run_dir) if rel.parent.name == "graph" else run_dir
            return LogFile(path, "oneflow_graph", run, self.path)
        if name.endswith(".json") and len(name) > len(".json"):
            if (name == "model.json" or rel.parent in event_dirs) and self._looks_like_model(str(path)):
                return LogFile(path, "json_model", run_dir, self.path)
        return None

    def _looks_like_model(self, key: str) -> bool:
        st = self._listed[key]
        known = self._models.get(key)
        if known is not None and known[0] == st.st_ino:
            return known[1]
        try:
            head = self._get(key, 0, min(st.st_size, JSON_PEEK)) if st.st_size else b""
        except (OSError, RemoteError):
            return True  # cannot tell; reading will say what is wrong
        verdict = not head.strip() or any(m in head for m in _MODEL_MARKERS)
        self._models[key] = (st.st_ino, verdict)
        if verdict and len(head) == st.st_size:  # the peek was the whole object: read it from here
            self._heads[key] = (st.st_ino, head[:HEAD_SIZE])
            self._first[key] = (st.st_ino, head)
        return verdict

    # -- FileIO ----------------------------------------------------------------------------
    def size(self, logfile: LogFile) -> int:
        st = self._listed.get(str(logfile.path))
        return st.st_size if st is not None else 0

    def _current(self, key: str) -> ObjectStat | None:
        st = self._listed.get(key)
        if st is not None:
            return st
        try:
            return _stat(self.fs.info(key))
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise RemoteError(f"{self.protocol}://{key}: {_line(exc)}") from exc

    @contextmanager
    def opened(self, logfile: LogFile) -> Iterator[_RemoteObject]:
        yield _RemoteObject(self, logfile)  # nothing stays open between requests

    def identity(self, logfile: LogFile, state: FileState) -> tuple[ObjectStat, bytes] | None:
        key = str(logfile.path)
        st = self._current(key)
        if st is None:
            return None
        if state.id is not None and (st.st_size, st.st_ino) == (state.size, state.inode):
            return st, state.head  # unchanged since it was read: no request at all
        known = self._heads.get(key)
        if known is not None and known[0] == st.st_ino:
            return st, known[1]
        try:
            if st.st_size == 0:
                head = b""
            elif state.offset == 0:  # a new (or emptied) object: fetch the first window now
                data = self._get(key, 0, min(st.st_size, FIRST_WINDOW))
                self._first[key] = (st.st_ino, data)
                head = data[:HEAD_SIZE]
            else:
                head = self._get(key, 0, min(st.st_size, HEAD_SIZE))
        except FileNotFoundError:
            return None  # deleted since the listing
        self._heads[key] = (st.st_ino, head)
        return st, head

    def replaced(self, state: FileState, st: ObjectStat, head: bytes) -> bool:
        if state.id is None:
            return False
        if st.st_size < state.offset or head[: len(state.head)] != state.head:
            return True
        return st.st_size == state.size and st.st_ino != state.inode and state.inode != 0

    def read(self, logfile: LogFile, offset: int, window: int) -> bytes:
        """Bytes from `offset` (at least one whole record when the object holds it)."""
        key = str(logfile.path)
        st = self._listed.get(key) or self._current(key)
        size = st.st_size if st is not None else offset + window
        end = min(size, offset + window)
        if offset >= end:
            return b""
        first = self._first.pop(key, None)
        if offset == 0 and first is not None and st is not None and first[0] == st.st_ino:
            data = first[1][:end]
            if len(data) < end:  # a window longer than the prefetch: only the rest is fetched
                data += self._get(key, len(data), end)
        else:
            data = self._get(key, offset, end)
        need = tfrecord.pending_length(data)
        if need is not None and len(data) < need <= tfrecord.MAX_RECORD_SIZE + 16 and offset + len(data) < size:
            data += self._get(key, offset + len(data), min(size, offset + need))
        return data

    def read_whole(self, logfile: LogFile) -> Batch:
        key = str(logfile.path)
        st = self._listed.get(key)
        first = self._first.pop(key, None)
        if first is not None and st is not None and first[0] == st.st_ino and len(first[1]) == st.st_size:
            data = first[1]
        else:
            data = self._get(key)
        return decode_whole_file(data, logfile)

    def stamp(self, logfile: LogFile, st: ObjectStat) -> int:
        return st.st_ino  # a new version, even of the same size and second, is read again


class _RemoteObject:
    """An object of a remote root as the tailer's `OpenedFile` (each call its own request)."""

    def __init__(self, root: FsspecRoot, logfile: LogFile) -> None:
        self.root, self.logfile = root, logfile

    def identity(self, state: FileState) -> tuple[ObjectStat, bytes] | None:
        return self.root.identity(self.logfile, state)

    def read(self, offset: int, window: int) -> bytes:
        return self.root.read(self.logfile, offset, window)


def _looks_like_log(name: str) -> bool:
    return is_event_file(name) or name.endswith((".json", ".pbtxt", ".log"))
