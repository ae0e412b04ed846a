"""What the store knows about one log file: kept free of database imports, because the ingest
worker processes pass it around and should not pay for SQLAlchemy."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FileState:
    """What the store knows about one log file (a row of `files`)."""

    path: str  # relative to the logdir
    run: str
    format: str
    id: int | None = None
    inode: int = 0
    head: bytes = b""
    offset: int = 0
    size: int = 0
    mtime_ns: int = 0
    status: str = "ok"
    error: str | None = None
    events: int = 0
    skipped: int = 0
