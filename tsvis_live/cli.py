"""`tsvis-live`: serve a logdir live (the default), or `tsvis-live ingest` it once."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import re
import sys
from pathlib import Path

from tsvis_live.commands.common import common_options, default_data_dir, pause_gc, resume_gc
from tsvis_live.deferred import defer

# Heavy modules (SQLAlchemy, the web stack) are imported inside the commands: ingest worker
# processes are spawned and re-import this module, and should stay small.

log = logging.getLogger("tsvis_live")


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
    common_options(p)
    return p


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    resume_gc()  # the imports are done; sessions start reading below
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


def main(argv: list[str] | None = None) -> int:
    pause_gc()  # each command resumes it once its imports are done
    try:
        return _run(sys.argv[1:] if argv is None else argv)
    finally:
        resume_gc()


def _run(argv: list[str]) -> int:
    if argv and argv[0] == "ingest":
        defer("numpy")  # a logdir with nothing new to read never loads it (see `deferred`)
        from tsvis_live.commands.ingest import ingest_main

        return ingest_main(argv[1:])
    if argv and argv[0] == "export":
        from tsvis_live.commands.export import export_main

        return export_main(argv[1:])
    if argv and argv[0] == "migrate":
        from tsvis_live.commands.migrate import migrate_main

        return migrate_main(argv[1:])
    if argv and argv[0] == "serve":
        argv = argv[1:]
    return serve_main(argv)


def entry() -> None:
    """The `tsvis-live` command: `main`, then exit. After `ingest` the process ends without
    tearing the interpreter down: its store is closed, its lock released and its output
    written by then, and freeing every module and array one by one took 60-110 ms of a run
    (an empty logdir: 0.32 -> 0.26 s)."""
    argv = sys.argv[1:]
    code = main(argv)
    if argv[:1] != ["ingest"]:
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    entry()
