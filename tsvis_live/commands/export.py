"""`tsvis-live export`: a stored session's scalars as CSV or Parquet, without re-reading logs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tsvis_live.commands.common import common_options


def _export_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tsvis-live export",
                                description="Write a stored session's scalars as a table (no log re-read).")
    p.add_argument("--logdir", type=Path, required=True, help="the logdir (or a session .sqlite file)")
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p.add_argument("--out", default="-", help="output file (default: standard output; csv only)")
    p.add_argument("--run", help="only this run")
    p.add_argument("--tag", help="only this tag")
    p.add_argument("--all-writes", action="store_true", help="every stored write of a repeated step")
    common_options(p)
    return p


def export_main(argv: list[str]) -> int:
    args = _export_parser().parse_args(argv)
    from tsvis_live.store.database import DatabaseUnusable
    from tsvis_live.stored import StoredSession

    try:
        session = StoredSession(args.logdir, args.data_dir)
    except (FileNotFoundError, DatabaseUnusable) as exc:
        print(f"tsvis-live: {exc}", file=sys.stderr)
        return 2
    with session:
        if args.format == "csv":
            if args.out == "-":
                rows = session.write_csv(sys.stdout, args.run, args.tag, args.all_writes)
            else:
                with open(args.out, "w", newline="") as fh:
                    rows = session.write_csv(fh, args.run, args.tag, args.all_writes)
        else:
            if args.out == "-":
                print("tsvis-live: --format parquet needs --out FILE", file=sys.stderr)
                return 2
            try:
                frame = session.scalars(args.run, args.tag, args.all_writes)
                frame.to_parquet(args.out, index=False)
            except ImportError as exc:
                print(f"tsvis-live: parquet needs pandas and pyarrow (pip install pandas pyarrow): {exc}",
                      file=sys.stderr)
                return 2
            rows = len(frame)
    print(f"tsvis-live: exported {rows:,} scalar points", file=sys.stderr)
    return 0
