"""Run every benchmark, print the tables, write bench/out/results.json and docs/benchmarks.md.

    python -m bench.run [--quick] [--repeats N] [--tb-repeats N] [--skip-peers] [--skip-scaleout] [--no-docs]

`--quick` uses a small logdir, writes bench/out/results-quick.json and leaves the docs alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench import genlogs, report
from bench.ingest_bench import IngestUnavailable, measure_ingest
from bench.machine import machine_info
from bench.peers import measure_peers
from bench.procs import warm_cache

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
DOC = REPO / "docs" / "benchmarks.md"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="tsvis-live benchmarks")
    ap.add_argument("--quick", action="store_true", help="small logdir, smoke test")
    ap.add_argument("--repeats", type=int, default=None, help="repeats per measure (default 3, quick 2)")
    ap.add_argument("--tb-repeats", type=int, default=None, help="repeats of the slow TensorBoard Python loader")
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--skip-api", action="store_true")
    ap.add_argument("--skip-live", action="store_true")
    ap.add_argument("--skip-scaleout", action="store_true", help="skip bench.scaleout_bench (PostgreSQL + Redis)")
    ap.add_argument("--no-docs", action="store_true")
    ap.add_argument("--report-only", action="store_true", help="re-render the tables from the last results.json")
    args = ap.parse_args(argv)
    if args.report_only:
        res = json.loads((OUT / ("results-quick.json" if args.quick else "results.json")).read_text())
        body = report.render(res)
        print(body)
        if not args.quick and not args.no_docs:
            report.write_doc(DOC, body)
        return
    repeats = args.repeats or (2 if args.quick else 3)
    params = genlogs.QUICK if args.quick else genlogs.FULL

    res: dict = {"quick": args.quick, "repeats": repeats, "machine": machine_info(REPO)}
    logdir, manifest = genlogs.ensure_logdir(params)
    res["logdir"] = {**manifest, "path": str(logdir)}
    events = manifest["scalars"] + manifest["histograms"] + manifest["images"]
    log(f"[run] warming page cache: {warm_cache(logdir) / 1e6:.1f} MB")

    try:
        res["ingest"] = measure_ingest(logdir, repeats, log=log)
    except IngestUnavailable as e:
        log(f"[run] ingest not measurable: {str(e).splitlines()[0]}")
        res["ingest"] = {"error": str(e).splitlines()[0][:200]}

    if not args.skip_peers:
        res["peers"] = measure_peers(logdir, repeats, events, tb_repeats=args.tb_repeats, log=log)

    res["api"] = {"error": "skipped (--skip-api)"}
    if not args.skip_api:
        try:
            from bench import api_bench
        except ImportError:
            res["api"] = {"error": "bench/api_bench.py missing"}
        else:
            res["api"] = api_bench.measure_api(logdir, quick=args.quick, repeats=repeats,
                                               peers=res.get("peers", {}), log=log)

    res["live"] = {"error": "skipped (--skip-live)"}
    if not args.skip_live:
        from bench import api_bench, live_bench

        if api_bench.server_available():
            res["live"] = live_bench.measure_live(args.quick, log=log)
        else:
            res["live"] = {"error": "the server (tsvis_live.http.app) does not exist yet"}

    if not args.skip_scaleout:  # its own tables and file: bench/out/scaleout-results*.json
        from bench import scaleout_bench

        res["scaleout"] = scaleout_bench.main(["--quick"] * args.quick + ["--repeats", str(repeats)])

    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / ("results-quick.json" if args.quick else "results.json")
    out.write_text(json.dumps(res, indent=1, default=str))
    body = report.render(res)
    print(body)
    log(f"[run] wrote {out}")
    if not args.quick and not args.no_docs:
        report.write_doc(DOC, body)
        log(f"[run] updated {DOC}")


if __name__ == "__main__":
    main()
