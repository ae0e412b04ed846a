"""What every subcommand shares: the data directory and the options about the store."""

from __future__ import annotations

import argparse
import gc
import os
from pathlib import Path

from tsvis_live import __version__

_gc_paused = False


def pause_gc() -> None:
    """Pause the cyclic garbage collector while a command imports its libraries.

    Why: importing SQLAlchemy, numpy and protobuf builds a few hundred thousand long-lived
    objects, and the collector ran full passes over them as they piled up: ~30 ms of the 0.33 s
    an empty logdir takes. Imports make next to no cyclic garbage; `resume_gc` moves what they
    built out of the collector's sight (`gc.freeze`: else its first pass, right after, scans it
    all again) and turns it back on before any data is read. A server's full passes then skip
    those objects too.
    """
    global _gc_paused
    if gc.isenabled():
        gc.disable()
        _gc_paused = True


def resume_gc() -> None:
    """Undo `pause_gc` (nothing if it paused nothing, or was undone already)."""
    global _gc_paused
    if _gc_paused:
        gc.freeze()
        gc.enable()
        _gc_paused = False


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("tsvis-live"))


def common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, default=None,
                   help="where session databases live (default: the user's data dir)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--rebuild", action="store_true",
                   help="move the session's database aside (kept as *.damaged-TIME) and re-read the logdir")
    p.add_argument("--database", metavar="URL", default=os.environ.get("TSVIS_LIVE_DATABASE") or None,
                   help="store sessions in PostgreSQL (postgresql://user@host:5432/db; one database holds "
                        "every session) instead of SQLite files in --data-dir; also TSVIS_LIVE_DATABASE")
    p.add_argument("--version", action="version", version=f"tsvis-live {__version__}")
