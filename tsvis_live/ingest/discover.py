"""Find the log files under a logdir without ever leaving it."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from tsvis_live.formats.detect import LogFile, detect

log = logging.getLogger(__name__)


def inside(path: Path, root: Path) -> bool:
    """True when `path`, with symlinks resolved, lies within `root`."""
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True


def discover(logdir: Path) -> list[LogFile]:
    """Every log file under `logdir`, sorted by path. A missing logdir yields nothing."""
    root = Path(logdir)
    found: list[LogFile] = []
    if not root.is_dir():
        return found

    def on_error(err: OSError) -> None:
        log.debug("cannot list %s: %s", err.filename, err.strerror)

    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error, followlinks=True):
        here = Path(dirpath)
        if here != root and not inside(here, root):
            dirnames[:] = []  # a symlink that leads out of the logdir
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = here / name
            if path.is_symlink() and not inside(path, root):
                continue
            logfile = detect(path, root)
            if logfile is not None:
                found.append(logfile)
    return found
