"""SQLite ingest A/B: git revisions and the Rust loader, interleaved, at several corpus sizes.

Each revision runs from its own worktree (`scaleout_bench.baseline_tree`: its own code, the
compiled decoder copied in) as `tsvis-live ingest --json` into an empty data dir; the Rust data
server (`bench.peers.measure_rust`, keep-all) loads the same logdir in the same round. Every
repeat is one round over every size and variant, the variant order rotated from round to round
so drift and other agents' load fall on all alike. Beside each run: the 1-minute load average
before it, the process tree's CPU seconds (wait4: the decoding workers included) and how many
cores the rest of the machine used meanwhile. A warm-up run per variant fills the bytecode cache
first (PYTHONDONTWRITEBYTECODE is cleared for the children).

    python -m bench.ingest_ab --rev 183b549 --rev 0592ed1 --rev HEAD [--repeats 3] [--steps 2500,10000,20000]
    python -m bench.ingest_ab --rev HEAD --rev HEAD:TSVIS_LIVE_DECODE_WORKERS=0   # a revision with settings

Writes bench/out/ingest-ab.json and prints medians and time = fixed + per-event fits.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench import genlogs
from bench.procs import PYTHON, dir_bytes, median, run_measured, wait_quiet, warm_cache

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def resolve(rev: str) -> str:
    return subprocess.run(["git", "rev-parse", "--short=7", rev], cwd=REPO, check=True, capture_output=True,
                          text=True).stdout.strip()


def tree_for(rev: str) -> Path:
    from bench.scaleout_bench import baseline_tree

    return baseline_tree(rev)


def ingest(logdir: Path, tree: Path, work: Path, settings: dict[str, str] | None = None) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="ab-", dir=work))
    try:
        cmd = [PYTHON, "-m", "tsvis_live.cli", "ingest", "--logdir", str(logdir), "--data-dir", str(data_dir),
               "--json"]
        env = {"TSVIS_LIVE_DATABASE": "", "TSVIS_LIVE_BROKER": "", "PYTHONPATH": str(tree),
               "PYTHONDONTWRITEBYTECODE": "", **(settings or {})}
        load = os.getloadavg()[0]
        r = run_measured(cmd, env=env, cwd=tree, timeout=1800)
        lines = r.json_lines()
        if r.returncode != 0 or not lines:
            raise RuntimeError(f"ingest in {tree} exited {r.returncode}: {r.stderr[-400:]}")
        s = json.loads(lines[-1])
        return {"wall_s": r.wall, "cpu_s": r.cpu, "own_s": s.get("seconds"), "events": int(s["events"]),
                "points": s.get("points"), "load1": round(load, 2), "others_cores": round(r.others_share, 2),
                "tree_peak_rss_mb": max(r.maxrss_mb, r.tree_peak_mb), "db_bytes": dir_bytes(data_dir)}
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def rust(logdir: Path, events: int) -> dict:
    from bench.peers import measure_rust

    load = os.getloadavg()[0]
    r = measure_rust(logdir, expected_events=events)
    return {"wall_s": r.wall_s, "load_s": r.load_s, "cpu_s": r.cpu_s, "events": events, "load1": round(load, 2),
            "others_cores": r.extra.get("others_cores"), "tree_peak_rss_mb": r.peak_rss_mb}


def empty_logdir() -> tuple[Path, dict]:
    logdir = OUT / "logdir-empty"
    logdir.mkdir(parents=True, exist_ok=True)
    return logdir, {"records": 0}


def fit(points: list[tuple[int, float]]) -> dict:
    """Least squares seconds = fixed + per_event * events."""
    n = len(points)
    mx, my = sum(e for e, _ in points) / n, sum(t for _, t in points) / n
    sxx = sum((e - mx) ** 2 for e, _ in points)
    b = sum((e - mx) * (t - my) for e, t in points) / sxx if sxx else 0.0
    a = my - b * mx
    return {"fixed_s": round(a, 3), "per_event_us": round(b * 1e6, 3),
            "max_residual_s": round(max(abs(t - (a + b * e)) for e, t in points), 3)}


MANY_RUNS = genlogs.GenParams(runs=1000, scalar_tags=50, steps=100, hist_tags=0, images_per_run=0)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", action="append", required=True,
                    help="a git revision to measure, optionally with environment settings: REV[:NAME=VALUE,...] "
                         "(repeatable)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", default="0,2500,10000,20000",
                    help="steps per tag of the FULL corpus, per size (0: an empty logdir, the fixed cost)")
    ap.add_argument("--many-runs", action="store_true",
                    help="also the 1,000-run corpus (1,000 runs x 50 tags x 100 steps, 5.0M events, 1,500 files)")
    ap.add_argument("--no-rust", action="store_true")
    ap.add_argument("--out", default=str(OUT / "ingest-ab.json"))
    args = ap.parse_args(argv)
    revs: dict[str, Path] = {}  # variant name -> its tree, in the order given
    settings: dict[str, dict[str, str]] = {}  # variant name -> its environment settings
    for spec in args.rev:
        rev, _, env = spec.partition(":")
        name = resolve(rev) + (f" {env}" if env else "")
        revs[name] = tree_for(rev)
        settings[name] = dict(kv.split("=", 1) for kv in env.split(",") if kv)
    variants = list(revs) + ([] if args.no_rust else ["rust"])
    steps = [int(s) for s in args.steps.split(",") if s]
    corpora = [genlogs.ensure_logdir(replace(genlogs.FULL, steps=n), verbose=False) if n else empty_logdir()
               for n in steps]
    if args.many_runs:
        corpora.append(genlogs.ensure_logdir(MANY_RUNS, verbose=False))
    for d, _ in corpora:
        warm_cache(d)
    work = OUT / "tmp"
    work.mkdir(parents=True, exist_ok=True)
    for rev, tree in revs.items():  # fill each tree's bytecode cache
        ingest(corpora[0][0], tree, work, settings[rev])
        log(f"[ab] warmed {rev} ({tree})")
    runs: dict[str, dict[str, list[dict]]] = {}
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    for rep in range(args.repeats):
        for logdir, manifest in corpora:
            order = variants[rep % len(variants):] + variants[:rep % len(variants)]
            for v in order:
                wait_quiet(0.3, 10.0)
                r = rust(logdir, manifest["records"]) if v == "rust" else ingest(logdir, revs[v], work, settings[v])
                runs.setdefault(str(manifest["records"]), {}).setdefault(v, []).append(r)
                log(f"[ab] #{rep + 1} {manifest['records']:,} {v}: {r['wall_s']:.2f} s wall, {r['cpu_s']:.2f} CPU-s, "
                    f"load {r['load1']}, others {r['others_cores']} cores")
    res: dict = {"started": started, "ended": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                 "revisions": list(revs), "repeats": args.repeats, "sizes": {}, "fit": {}}
    for events, by_variant in runs.items():
        res["sizes"][events] = {v: {"wall_s": median([r["wall_s"] for r in rs]),
                                    "cpu_s": median([r["cpu_s"] for r in rs]),
                                    "load1": median([r["load1"] for r in rs]),
                                    **({"load_s": median([r["load_s"] for r in rs])} if v == "rust" else {}),
                                    "raw": rs} for v, rs in by_variant.items()}
    for v in variants:
        for measure in ("wall_s", "cpu_s") + (("load_s",) if v == "rust" else ()):
            res["fit"][f"{v} {measure}"] = fit([(int(e), s[v][measure]) for e, s in res["sizes"].items()])
    Path(args.out).write_text(json.dumps(res, indent=1))
    print(render(res))


def render(res: dict) -> str:
    revs = res["revisions"]
    variants = revs + (["rust"] if any("rust" in s for s in res["sizes"].values()) else [])
    head = "| events | " + " | ".join(f"{v} wall / CPU s (load)" for v in variants) + " |"
    lines = [head, "|" + "---|" * (len(variants) + 1)]
    for events, s in res["sizes"].items():
        cells = [f"{s[v]['wall_s']:.2f} / {s[v]['cpu_s']:.2f} ({s[v]['load1']:.1f})" for v in variants]
        lines.append(f"| {int(events):,} | " + " | ".join(cells) + " |")
    lines.append("")
    for key, f in res["fit"].items():
        lines.append(f"- {key}: {f['fixed_s']:.2f} s + {f['per_event_us']:.3f} us/event "
                     f"(largest residual {f['max_residual_s']:.2f} s)")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
