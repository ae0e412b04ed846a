"""What every subcommand shares: the data directory and the options about the store."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from tsvis_live import __version__


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
