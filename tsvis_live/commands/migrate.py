"""`tsvis-live migrate`: copy stored sessions between SQLite files and PostgreSQL, verified."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def _migrate_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tsvis-live migrate",
        description="Copy stored sessions between backends and verify the copy (row counts and a "
                    "SHA-256 per table). SRC and DST are each a PostgreSQL URL, a SQLite session "
                    "file or a directory of them (a --data-dir). Stop servers ingesting SRC first.")
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--session", action="append", default=[], metavar="ID", help="only this session id; repeatable")
    p.add_argument("--replace", action="store_true", help="overwrite a session DST already holds")
    return p


def migrate_main(argv: list[str]) -> int:
    args = _migrate_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from tsvis_live.store.backend import UnknownDatabase
    from tsvis_live.store.database import DatabaseUnusable
    from tsvis_live.store.transfer import TransferError, migrate_session, sources

    try:
        refs = sources(args.src, set(args.session) or None)
        if not refs:
            print(f"tsvis-live: {args.src} holds no stored session{' with that id' if args.session else ''}",
                  file=sys.stderr)
            return 2
        if "://" not in args.dst:
            Path(args.dst).mkdir(parents=True, exist_ok=True)
        for ref in refs:
            digests = migrate_session(ref, args.dst, replace=args.replace)
            rows = sum(n for n, _h in digests.values())
            print(f"session {ref.session_id}: {rows:,} rows in {len(digests)} tables copied from {ref.shown} "
                  "and verified", file=sys.stderr)
    except (TransferError, UnknownDatabase, DatabaseUnusable, OSError) as exc:
        print(f"tsvis-live: {exc}", file=sys.stderr)
        return 2
    return 0
