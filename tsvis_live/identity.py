"""Which session a logdir is, and where its SQLite file lives: one place for every command.

Apart from `session` so that `tsvis-live ingest` and the stored-session tools name a session's
database without importing the serving side (its hub, watcher and asyncio).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from tsvis_live.ingest.source import Source


def session_id_for(logdir: Path | Source) -> str:
    """A logdir's session id: its real path's digest (a remote or multi-root source has its own)."""
    if isinstance(logdir, Source):  # a remote root (its URL) or several roots (the whole spec)
        return logdir.id
    return hashlib.sha256(str(Path(logdir).resolve()).encode()).hexdigest()[:16]


def database_path(data_dir: Path, logdir: Path | Source) -> Path:
    """The session's SQLite file in `data_dir`: a readable slug of the logdir's name, then its id."""
    name = logdir.name if isinstance(logdir, Source) else Path(logdir).resolve().name
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:40] or "root"
    return Path(data_dir) / f"{slug}-{session_id_for(logdir)}.sqlite"
