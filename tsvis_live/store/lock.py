"""One ingesting process per session: an OS file lock beside the database.

Two processes tailing the same logdir into the same database would each store every point
(offsets are read before either commits). The lock is `flock` on `<database>.lock`, so the
kernel releases it when its holder exits in any way, SIGKILL included, and a waiting process
can take over at once. The holder writes its pid and host into the file so that the others can
say who holds it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from pathlib import Path

READ_ONLY_ERRORS = (errno.EROFS, errno.EACCES, errno.EPERM)


class ReadOnlyDataDir(OSError):
    """The lock file cannot be created: the data dir is read-only (serve, never write)."""


class IngestLock:
    """A non-blocking exclusive lock on a session; `acquire()` may be retried."""

    def __init__(self, database: Path) -> None:
        self.path = Path(str(database) + ".lock")
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock if it is free; False when another process holds it.

        Raises ReadOnlyDataDir when the lock file cannot even be opened for writing.
        """
        if self._fd is not None:
            return True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            if exc.errno in READ_ONLY_ERRORS:
                raise ReadOnlyDataDir(exc.errno, f"cannot write {self.path}: {exc.strerror}") from exc
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return False
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        self._fd = fd
        return True

    def holder(self) -> str:
        """Who holds the lock, as 'pid N on HOST' (best effort, for messages)."""
        try:
            pid, _, host = self.path.read_text().strip().partition(" ")
        except OSError:
            return "another process"
        if not pid.isdigit():
            return "another process"
        return f"pid {pid}" + (f" on {host}" if host and host != socket.gethostname() else "")

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
