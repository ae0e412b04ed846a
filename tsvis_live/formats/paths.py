"""The one way the server opens a file named by logdir content: resolved, contained, regular.

Why: a logdir is written by other people's programs, and anything in it can be a symlink (to
`/etc`, to another user's data, to itself) or a FIFO that blocks `open` forever. Checking the
spelled path (`normpath`) is not enough; what counts is the file actually opened. So every
open goes through `open_contained`, which opens without blocking, refuses anything but a
regular file, and checks that the *opened* file (its `/proc/self/fd` link on Linux, else its
resolved path with the same device and inode) lies inside the logdir's real path. A symlink
swapped between the check and the open cannot slip through: the check is on the open file.
"""

from __future__ import annotations

import errno
import functools
import os
import stat
from pathlib import Path
from typing import BinaryIO

_PROC_FD = "/proc/self/fd"


class OutsideLogdir(OSError):
    """A path resolves (symlinks followed) to a place outside the logdir; it is not opened."""

    def __init__(self, path: Path | str, root: Path | str) -> None:
        super().__init__(errno.EACCES, "resolves to a place outside the logdir; not read", str(path))
        self.root = str(root)

    def __str__(self) -> str:  # no absolute paths: this sentence reaches the status endpoint
        return f"{Path(self.filename).name} resolves (symlinks followed) outside the logdir; not read"


@functools.lru_cache(maxsize=256)
def _real_root(root: str) -> str:
    return os.path.realpath(root)


def real_root(root: Path | str) -> str:
    """The logdir's real path (symlinks resolved), against which containment is checked.

    Remembered per process (a third of the cost of an open): sessions pin their logdir's real
    path at start anyway, and a stale answer can only refuse a file, never admit one.
    """
    return _real_root(os.fspath(root))


def is_within(real: str, root_real: str) -> bool:
    """True when the resolved path `real` is `root_real` or lies below it."""
    return real == root_real or real.startswith(root_real.rstrip(os.sep) + os.sep)


def contained(path: Path | str, root: Path | str) -> Path:
    """`path` resolved (every symlink followed); raises `OutsideLogdir` when it leaves `root`."""
    real = os.path.realpath(path)
    if not is_within(real, real_root(root)):
        raise OutsideLogdir(path, root)
    return Path(real)


def _opened_path(fd: int, real: str, st: os.stat_result) -> str:
    """Where the open file `fd` really is: the kernel's answer on Linux; elsewhere `real`
    when that path still names the same file (device and inode), else '' (not contained)."""
    try:
        return os.readlink(f"{_PROC_FD}/{fd}")
    except OSError:
        pass
    try:
        now = os.stat(real)
    except OSError:
        return ""
    return real if (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino) else ""


def open_contained(path: Path | str, root: Path | str) -> BinaryIO:
    """Open `path` for binary reading if it is a regular file whose real place is inside `root`.

    Raises `OutsideLogdir` (an `OSError`) for files outside, `OSError` (EINVAL) for FIFOs,
    devices and directories, and the usual `OSError` when the file cannot be opened.
    """
    root_real = real_root(root)
    real = os.path.realpath(path)
    if not is_within(real, root_real):
        raise OutsideLogdir(path, root)
    fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a pipe, socket or device); not read",
                          Path(path).name)
        if not is_within(_opened_path(fd, real, st), root_real):
            raise OutsideLogdir(path, root)
        os.set_blocking(fd, True)
        return open(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise


def read_contained(path: Path | str, root: Path | str) -> tuple[bytes, os.stat_result]:
    """The whole content of a contained regular file and its stat, read from one open."""
    with open_contained(path, root) as fh:
        st = os.fstat(fh.fileno())
        return fh.read(), st
