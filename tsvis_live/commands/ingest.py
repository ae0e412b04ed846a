"""`tsvis-live ingest`: read a logdir into its session database once and print a summary."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import Counter
from pathlib import Path

from tsvis_live.commands.common import common_options, default_data_dir, resume_gc
from tsvis_live.ingest.progress import Progress


def _ingest_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tsvis-live ingest", description="Read a logdir into its session database once.")
    p.add_argument("--logdir", required=True, metavar="DIR_OR_URL", help="a path, or s3://bucket/prefix, gs://...")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    common_options(p)
    return p


class ProgressBar:
    """A one-line progress display on stderr (plain periodic lines when not a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self._last = 0.0

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        now = p.seconds
        if now - self._last < (0.1 if self.tty else 2.0) and p.files_done < p.files_total:
            return
        self._last = now
        frac = p.bytes_done / p.bytes_total if p.bytes_total else 1.0
        bar = "#" * int(frac * 30)
        rate = p.events / now if now > 0 else 0.0
        line = (f"[{bar:<30}] {frac:6.1%}  files {p.files_done}/{p.files_total}  "
                f"{p.bytes_done / 1e6:,.1f}/{p.bytes_total / 1e6:,.1f} MB  {rate:,.0f} events/s")
        sys.stderr.write(("\r" + line) if self.tty else line + "\n")
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled and self.tty:
            sys.stderr.write("\n")


def summarize(store) -> dict:  # type: ignore[no-untyped-def]
    runs, files = store.runs_sync(), store.files_sync()
    kinds = Counter(kind for _run, kind, _tag, _c in store.series_sync())
    return {
        "runs": len(runs),
        "tags": dict(sorted(kinds.items())),
        "files": len(files),
        "broken_files": [f["path"] for f in files if f["status"] == "broken"],
        "partial_files": {f["path"]: f["error"] for f in files if f["status"] == "partial"},
        "stored_events": sum(f["events"] for f in files),
        "stored_skipped": sum(f["skipped"] for f in files),
    }


def ingest_main(argv: list[str]) -> int:
    args = _ingest_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from tsvis_live.identity import database_path, session_id_for
    from tsvis_live.ingest.source import LogdirError, from_args
    from tsvis_live.store.database import Database, DatabaseUnusable, set_aside
    from tsvis_live.store.lock import IngestLock, ReadOnlyDataDir

    try:
        logdir = from_args([args.logdir], None).logdir  # a Path for a local directory, else a source
    except LogdirError as exc:
        print(f"tsvis-live: {exc}", file=sys.stderr)
        return 2
    if isinstance(logdir, Path) and not logdir.is_dir():
        print(f"tsvis-live: logdir {logdir} does not exist or is not a directory", file=sys.stderr)
        return 2
    data_dir = args.data_dir or default_data_dir()
    if args.database:
        return _ingest_postgres(args, logdir)
    path = database_path(data_dir, logdir)
    lock = IngestLock(path)
    try:
        if not lock.acquire():
            print(f"tsvis-live: {logdir} is being ingested by {lock.holder()} (a running tsvis-live); "
                  "it keeps the session up to date, so there is nothing to do", file=sys.stderr)
            return 3
    except ReadOnlyDataDir as exc:
        print(f"tsvis-live: cannot ingest: {exc}; give a writable --data-dir", file=sys.stderr)
        return 2
    try:
        if args.rebuild and (moved := set_aside(path)) is not None:
            print(f"tsvis-live: moved {path} aside to {moved.name}", file=sys.stderr)
        db = Database(path, session_id=session_id_for(logdir), logdir=str(logdir))
    except DatabaseUnusable as exc:
        lock.release()
        print(f"tsvis-live: {exc}", file=sys.stderr)
        return 2
    try:
        summary = _ingest_once(args, db, logdir)
    finally:
        db.close()
        lock.release()
    summary["database_bytes"] = Path(summary["database"]).stat().st_size
    return _print_summary(args, summary)


def _ingest_once(args: argparse.Namespace, db, logdir: Path) -> dict:  # type: ignore[no-untyped-def]
    from tsvis_live.ingest.ingester import Ingester
    from tsvis_live.store.provider import Store

    resume_gc()  # the imports are done (see `pause_gc`)
    store = Store(db)
    bar = ProgressBar(enabled=not args.quiet and not args.json)
    prog = Ingester(store, logdir).pass_once(progress=bar)
    bar.done()
    summary = {
        "logdir": str(logdir), "database": db.where, "seconds": round(prog.seconds, 3),
        "bytes": prog.bytes_done, "events": prog.events, "points": prog.points,
        "skipped": prog.skipped, **summarize(store),
    }
    summary["events_per_second"] = round(prog.events / prog.seconds) if prog.seconds > 0 else 0
    return summary


def _ingest_postgres(args: argparse.Namespace, logdir: Path) -> int:
    """`tsvis-live ingest --database postgresql://...`: the same one pass, elected and fenced
    like a serving ingester, so it never runs beside one."""
    from tsvis_live.identity import session_id_for
    from tsvis_live.store import backend
    from tsvis_live.store.database import Database, DatabaseUnusable
    from tsvis_live.store.election import PgIngestLock

    sid = session_id_for(logdir)
    try:
        target = backend.PostgresTarget(backend.normalize_url(args.database), backend.schema_for(sid))
    except backend.UnknownDatabase as exc:
        print(f"tsvis-live: {exc}", file=sys.stderr)
        return 2
    lock = PgIngestLock(target.url, sid)
    try:
        if not lock.acquire():
            print(f"tsvis-live: {logdir} is being ingested by {lock.holder()} (a running tsvis-live); "
                  "it keeps the session up to date, so there is nothing to do", file=sys.stderr)
            return 3
        if args.rebuild:
            backend.drop_schema(target.url, target.schema)
        db = Database(None, postgres=target, session_id=sid, logdir=str(logdir))
    except (DatabaseUnusable, OSError, RuntimeError) as exc:
        lock.release()
        print(f"tsvis-live: {exc}", file=sys.stderr)
        return 2
    try:
        from tsvis_live.store.provider import Store

        Store(db).claim_epoch_sync()
        summary = _ingest_once(args, db, logdir)
    finally:
        db.close()
        lock.release()
    summary["database_bytes"] = None
    return _print_summary(args, summary)


def _print_summary(args: argparse.Namespace, summary: dict) -> int:
    if args.json:
        print(json.dumps(summary))
    else:
        tags = ", ".join(f"{n} {k}" for k, n in summary["tags"].items()) or "none"
        print(f"ingested {summary['bytes'] / 1e6:,.1f} MB in {summary['seconds']:.2f} s: "
              f"{summary['events']:,} events ({summary['events_per_second']:,}/s), {summary['points']:,} points, "
              f"{summary['skipped']} records skipped")
        size = f" ({summary['database_bytes'] / 1e6:,.1f} MB)" if summary["database_bytes"] else ""
        print(f"session: {summary['runs']} runs, tags: {tags}; database {summary['database']}{size}")
        if summary["broken_files"]:
            print(f"files with broken framing (partly read): {', '.join(summary['broken_files'])}")
        for path, why in summary["partial_files"].items():
            print(f"partly read: {path}: {why}")
    return 0
