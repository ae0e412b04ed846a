"""`tsvis-live`: serve a logdir live (the default), or `tsvis-live ingest` it once."""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import re
import sys
from collections import Counter
from pathlib import Path

from tsvis_live import __version__
from tsvis_live.ingest.progress import Progress

# Heavy modules (SQLAlchemy, the web stack) are imported inside the commands: ingest worker
# processes are spawned and re-import this module, and should stay small.

log = logging.getLogger("tsvis_live")


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("tsvis-live"))


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, default=None,
                   help="where session databases live (default: the user's data dir)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--rebuild", action="store_true",
                   help="move the session's database aside (kept as *.damaged-TIME) and re-read the logdir")
    p.add_argument("--database", metavar="URL", default=os.environ.get("TSVIS_LIVE_DATABASE") or None,
                   help="store sessions in PostgreSQL (postgresql://user@host:5432/db; one database holds "
                        "every session) instead of SQLite files in --data-dir; also TSVIS_LIVE_DATABASE")
    p.add_argument("--version", action="version", version=f"tsvis-live {__version__}")


SUBCOMMANDS = """subcommands:
  serve (default)   watch a logdir and serve it live: `tsvis-live [serve] --logdir DIR`
  ingest            read a logdir into its session database once and print a summary:
                    `tsvis-live ingest --logdir DIR` (see `tsvis-live ingest --help`)
  export            write a stored session's scalars as CSV or Parquet, without re-reading logs:
                    `tsvis-live export --logdir DIR [--out FILE]` (see `tsvis-live export --help`)
  migrate           copy stored sessions between SQLite files and PostgreSQL, verified:
                    `tsvis-live migrate DATA_DIR postgresql://host/db` (see `tsvis-live migrate --help`)"""


def _serve_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tsvis-live", description="Live training-visualization server.",
                                epilog=SUBCOMMANDS, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--logdir", action="append", metavar="DIR_OR_URL",
                     help="the log directory to watch and serve: a path, or s3://bucket/prefix, gs://... "
                          "(any fsspec protocol installed; polled every 5 s); repeat it to serve several "
                          "(each one's runs prefixed by its directory name)")
    src.add_argument("--logdir_spec", "--logdir-spec", metavar="SPEC",
                     help="several roots as TensorBoard has it: name1:path1,name2:path2 (runs prefixed "
                          "name1/...; a path without 'name:' is unnamed)")
    src.add_argument("--logroot", type=Path, help="multi-user mode: serve ROOT/<id>/<trainJobName>")
    src.add_argument("--demo", action="store_true", help="serve a generated demo logdir that keeps growing")
    p.add_argument("--host", default=None, help="interface to listen on (default: 127.0.0.1)")
    p.add_argument("--bind_all", "--bind-all", action="store_true",
                   help="listen on every interface (--host 0.0.0.0), as TensorBoard's flag; needs a token")
    p.add_argument("--path_prefix", "--path-prefix", default="", metavar="PREFIX",
                   help="serve everything under PREFIX (e.g. /tsvis) behind a reverse proxy; dashboard UI only")
    p.add_argument("--port", type=int, default=6006)
    p.add_argument("--token", help="required access token (mandatory when --host is not loopback); "
                   "visible to other local users in the process list: prefer --token-file or TSVIS_LIVE_TOKEN")
    p.add_argument("--token-file", type=Path, metavar="PATH", default=os.environ.get("TSVIS_LIVE_TOKEN_FILE") or None,
                   help="read the access token from this file (also TSVIS_LIVE_TOKEN_FILE)")
    p.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="also answer requests for this host name (a reverse proxy's or a DNS name); repeatable")
    p.add_argument("--poll", type=float, default=None, metavar="SECONDS",
                   help="poll the logdir every SECONDS instead of waiting for file events (network file systems)")
    p.add_argument("--client-buffer", type=int, default=100_000, metavar="POINTS",
                   help="live points buffered per WebSocket client; a client further behind is told to resync")
    p.add_argument("--broker", metavar="URL", default=os.environ.get("TSVIS_LIVE_BROKER") or None,
                   help="fan live points out through Redis (redis://host:6379/0) so that every replica "
                        "serving a session pushes them; also TSVIS_LIVE_BROKER")
    p.add_argument("--no-ingest", dest="ingest", action="store_false",
                   help="never ingest: serve what another process stores (a replica on a shared --database)")
    p.add_argument("--ui", choices=["dashboard", "tsvis"], default="dashboard",
                   help="which web UI to serve at / (tsvis needs `pip install tsvis --no-deps`)")
    _common(p)
    return p


def _ingest_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tsvis-live ingest", description="Read a logdir into its session database once.")
    p.add_argument("--logdir", required=True, metavar="DIR_OR_URL", help="a path, or s3://bucket/prefix, gs://...")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _common(p)
    return p


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    from tsvis_live.ingest.source import LogdirError, from_args
    from tsvis_live.session import database_path, session_id_for
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
    from tsvis_live.session import session_id_for
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


def open_session(data_dir: Path, logdir, poll: float | None, rebuild: bool, **backends):  # type: ignore[no-untyped-def]
    """Open the --logdir session before serving; a sentence instead when it cannot be used.

    A damaged file must stop the start with one line naming it, not with a traceback after
    "serving at". With `rebuild`, the old file is moved aside first (unless another process
    is ingesting it: that one's database is in use and not ours to move).
    """
    from tsvis_live.session import Session

    try:
        return Session(logdir, data_dir, poll, rebuild=rebuild, **backends)
    except Exception as exc:  # DatabaseUnusable, or an OSError on the data dir
        return str(exc)


class _UvicornLines(logging.Filter):
    """uvicorn's request lines: never a `token=` value (they print the query string), and the
    per-WebSocket lines (accepted/rejected, like an access log) only at debug."""

    def __init__(self, debug: bool) -> None:
        super().__init__()
        self.debug = debug

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.debug and isinstance(record.msg, str) and '"WebSocket %s"' in record.msg:
            return False
        if isinstance(record.args, tuple):
            record.args = tuple(re.sub(r"(?i)([?&]token=)[^&#\s]*", r"\1***", a) if isinstance(a, str) else a
                                for a in record.args)
        return True


def _url(host: str, port: int, prefix: str = "") -> str:
    """What to open in a browser: this machine's name for the all-interfaces addresses."""
    if host in ("0.0.0.0", "::"):
        import socket

        host = socket.gethostname()
    return (f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}") + prefix + "/"


def serve_main(argv: list[str]) -> int:
    args = _serve_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "watchfiles"):  # one line per migration step / file event is noise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from tsvis_live.http.prefix import PathPrefix, path_prefix
    from tsvis_live.http.security import TokenUnavailable, load_token

    if args.bind_all and args.host is not None:
        print("tsvis-live: give --bind_all or --host, not both", file=sys.stderr)
        return 2
    args.host = "0.0.0.0" if args.bind_all else (args.host or "127.0.0.1")
    try:
        prefix = path_prefix(args.path_prefix)
    except ValueError as exc:
        print(f"tsvis-live: {exc}", file=sys.stderr)
        return 2
    if prefix and args.ui == "tsvis":
        print("tsvis-live: --path_prefix works with the dashboard UI only (the TS-VIS frontend "
              "requests absolute /api/ paths)", file=sys.stderr)
        return 2
    try:
        args.token = load_token(args.token, args.token_file)
    except TokenUnavailable as exc:
        print(f"tsvis-live: {exc}", file=sys.stderr)
        return 2
    if not _is_loopback(args.host) and not args.token:
        print(f"tsvis-live: refusing to listen on {args.host} without a token (--token-file, "
              "TSVIS_LIVE_TOKEN or --token): anyone on the network could read your logs", file=sys.stderr)
        return 2
    import uvicorn

    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(_UvicornLines(debug=args.log_level == "debug"))
    from tsvis_live.http.app import UIUnavailable, create_app
    from tsvis_live.session import SessionManager

    data_dir = args.data_dir or default_data_dir()
    from tsvis_live.ingest.source import LogdirError, from_args

    try:  # an unknown scheme or a missing package (s3fs...) is one line, before anything starts
        source = from_args(args.logdir, args.logdir_spec)
    except LogdirError as exc:
        print(f"tsvis-live: {exc}", file=sys.stderr)
        return 2
    logdir = source.logdir if source is not None else None  # a Path for one local directory
    if args.demo:
        from tsvis_live.demo import start_demo

        logdir = start_demo(data_dir / "demo-logdir")
    if logdir is None and args.logroot is None:
        print("tsvis-live: give --logdir DIR (or --logroot ROOT, or --demo)", file=sys.stderr)
        return 2
    for root in source.local_roots if source is not None else []:
        if not root.exists():
            log.warning("logdir %s does not exist (yet); serving what is stored and waiting for it", root)
    backends = {"database": args.database, "broker": args.broker, "ingest": args.ingest}
    if args.database:
        from tsvis_live.store.backend import UnknownDatabase, normalize_url

        try:
            normalize_url(args.database)
        except UnknownDatabase as exc:
            print(f"tsvis-live: {exc}", file=sys.stderr)
            return 2
    if args.broker and not args.broker.startswith(("redis://", "rediss://", "unix://")):
        print(f"tsvis-live: --broker {args.broker!r} is not supported: use redis://host:6379/0", file=sys.stderr)
        return 2
    manager = SessionManager(data_dir, logdir=logdir, logroot=args.logroot, poll=args.poll, **backends)
    if logdir is not None:
        session = open_session(data_dir, logdir, args.poll, args.rebuild, **backends)
        if isinstance(session, str):
            print(f"tsvis-live: {session}", file=sys.stderr)
            return 2
        manager.adopt(session)
    try:
        app = create_app(manager, ui=args.ui, token=args.token, host=args.host, allowed_hosts=args.allowed_host)
    except UIUnavailable as exc:
        print(f"tsvis-live: {exc}", file=sys.stderr)
        return 2
    app.state.client_buffer = max(1, args.client_buffer)
    served = PathPrefix(app, prefix) if prefix else app
    print(f"tsvis-live: serving {logdir or args.logroot} at {_url(args.host, args.port, prefix)} "
          "(Ctrl-C to quit)", file=sys.stderr)
    from tsvis_live.http.ws import MAX_FRAME

    # uvicorn logs at the chosen level through our handler and format (log_config=None);
    # its per-request access log only at debug (noise otherwise)
    uvicorn.run(served, host=args.host, port=args.port, log_level=args.log_level, log_config=None,
                access_log=args.log_level == "debug", ws="websockets-sansio",
                ws_max_size=MAX_FRAME,  # the protocol layer's cut-off, above /ws's own message limit
                timeout_graceful_shutdown=3)
    return 0


def _export_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tsvis-live export",
                                description="Write a stored session's scalars as a table (no log re-read).")
    p.add_argument("--logdir", type=Path, required=True, help="the logdir (or a session .sqlite file)")
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p.add_argument("--out", default="-", help="output file (default: standard output; csv only)")
    p.add_argument("--run", help="only this run")
    p.add_argument("--tag", help="only this tag")
    p.add_argument("--all-writes", action="store_true", help="every stored write of a repeated step")
    _common(p)
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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "ingest":
        return ingest_main(argv[1:])
    if argv and argv[0] == "export":
        return export_main(argv[1:])
    if argv and argv[0] == "migrate":
        return migrate_main(argv[1:])
    if argv and argv[0] == "serve":
        argv = argv[1:]
    return serve_main(argv)


if __name__ == "__main__":
    sys.exit(main())
