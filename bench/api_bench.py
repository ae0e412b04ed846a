"""API benchmarks of a real `tsvis-live` server process (issue 3).

- Restart-to-ready: on the ingest benchmark's logdir, already ingested into a data directory,
  the time from spawning the server to a complete `/api/scalar` answer (every point of one
  series). The peers have no store, so their comparison is their time to (re)load everything,
  from process start (TensorBoard Python: interpreter + `Reload()`; RustBoard: process start to
  `Finished load cycle`), taken from the peer measurements of the same run.
- `/api/scalar` on one 1M-point series: downsampled to <= 2000 points (`/api/live/scalars?
  max_points=2000`, and `/api/scalar?max_points=2000` if the server honours it), p50/p90 over
  many requests; plus the full series once (time, bytes, server RSS growth).
- `/api/init` + `/api/getCategory` on 1000 runs x 50 tags, p50/p90.
- `--only pyramid` (issue 9 part 4, store.summaries): one series of 100k, 1M and 5M points,
  `/api/scalar` and `/api/live/scalars` downsampled to 2000 points, the dashboard's zoom (a step
  range, 2400 points: 10% of the series, and a narrow one that fits unsampled) and a smoothed
  request (which reads everything), p50/p90 and the server's peak RSS growth per request;
  `--baseline REV` (default: the revision before summaries) is measured in the same run from a
  worktree on PYTHONPATH, with its own ingest, requests interleaved with the current tree's.

    python -m bench.api_bench [--quick] [--only pyramid [--baseline REV]]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import genlogs
from bench.procs import PYTHON, Noise, dir_bytes, run_measured, wait_quiet
from bench.server import REPO, Server

OUT = Path(__file__).resolve().parent / "out"
SERIES_1M = genlogs.GenParams(runs=1, scalar_tags=1, steps=1_000_000, hist_tags=0, images_per_run=0)
SERIES_1M_QUICK = genlogs.GenParams(runs=1, scalar_tags=1, steps=100_000, hist_tags=0, images_per_run=0)
CATS = genlogs.GenParams(runs=1000, scalar_tags=50, steps=5, hist_tags=0, images_per_run=0)
CATS_QUICK = genlogs.GenParams(runs=100, scalar_tags=50, steps=5, hist_tags=0, images_per_run=0)


class ServerUnavailable(RuntimeError):
    pass


def server_available() -> bool:
    return importlib.util.find_spec("tsvis_live.http.app") is not None


def ingest(logdir: Path, data_dir: Path, tree: str | None = None) -> dict:
    """`tsvis-live ingest`; `tree`: a worktree to run instead (`-m` puts the cwd first on sys.path)."""
    cmd = [PYTHON, "-m", "tsvis_live.cli", "ingest", "--logdir", str(logdir), "--data-dir",
           str(data_dir), "--json", "--quiet"]
    r = run_measured(cmd, cwd=tree or REPO, timeout=3600, env={"PYTHONPATH": tree} if tree else None)
    lines = r.json_lines()
    if r.returncode != 0 or not lines:
        raise ServerUnavailable(f"ingest failed ({r.returncode}): {r.stderr[-300:]}")
    return json.loads(lines[-1])


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def _series(payload: dict, tag: str) -> list:
    data = payload.get("data") or {}
    return data.get(tag) or [] if isinstance(data, dict) else []


def _ready_check(run: str, tag: str, expected: int):
    state = {"init": False}

    def check(s: Server) -> bool:
        if not state["init"]:
            status, _ = s.get("/api/init", id="bench", trainJobName="bench")
            state["init"] = status == 200
            if not state["init"]:
                return False
        status, body = s.get_json("/api/scalar", run=run, tag=tag)
        return status == 200 and len(_series(body, tag)) == expected

    return check


def restart_to_ready(logdir: Path, params: genlogs.GenParams, repeats: int, peers: dict, log) -> dict:
    work = Path(tempfile.mkdtemp(prefix="api-restart-", dir=OUT / "tmp"))
    try:
        ingest(logdir, work)
        run, tag = genlogs.run_name(params.runs - 1), genlogs.scalar_tag(0)
        times, rss = [], []
        noise = []
        for i in range(repeats):
            wait_quiet()
            n = Noise()
            with Server(logdir, work) as s:
                t = s.wait_until(_ready_check(run, tag, params.steps), timeout=300)
                noise.append(max(0.0, n.others_cores() - _server_share(s, n)))
                times.append(t)
                rss.append(s.rss_mb("VmHWM"))
            log(f"[api] restart-to-ready #{i + 1}: {t:.3f} s, server peak RSS {rss[-1]:.0f} MB "
                f"(others used {noise[-1]:.2f} cores meanwhile)")
        peer_times = {name: p["wall_s"] for name, p in peers.items()}
        return {"ours_s": statistics.median(times), "all_s": [round(t, 3) for t in times],
                "server_peak_rss_mb": statistics.median(rss), "run": run, "tag": tag,
                "points": params.steps, "peers": peer_times, "others_cores": [round(x, 2) for x in noise]}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _server_share(s: Server, n: Noise) -> float:
    """The server process started inside the Noise span: its CPU is ours, not the machine's."""
    from bench.procs import proc_cpu

    span = time.perf_counter() - n.t0
    return proc_cpu(s.proc.pid) / span if span > 0 else 0.0


def _timed(s: Server, n: int, path: str, **params: object) -> tuple[list[float], bytes]:
    times, body = [], b""
    for _ in range(n):
        t = time.perf_counter()
        status, body = s.get(path, **params)
        times.append((time.perf_counter() - t) * 1000)
        if status != 200:
            raise ServerUnavailable(f"{path} -> {status}: {body[:200]!r}")
    return times, body


def scalar_1m(quick: bool, repeats: int, log) -> dict:
    params = SERIES_1M_QUICK if quick else SERIES_1M
    logdir, _ = genlogs.ensure_logdir(params)
    run, tag = genlogs.run_name(0), genlogs.scalar_tag(0)
    work = Path(tempfile.mkdtemp(prefix="api-1m-", dir=OUT / "tmp"))
    n = 30 if quick else 100
    try:
        ingest(logdir, work)
        with Server(logdir, work) as s:
            s.wait_until(_ready_check(run, tag, params.steps), timeout=600)  # also warms caches
            rss0 = s.rss_mb()
            _timed(s, 3, "/api/live/scalars", run=run, tag=tag, max_points=2000)
            wait_quiet()
            noise = Noise(s.proc.pid)
            live, body = _timed(s, n, "/api/live/scalars", run=run, tag=tag, max_points=2000)
            d = json.loads(body)
            d = d.get("data", d)
            got = len(d.get("steps", []))
            out = {"points": params.steps, "returned": got, "p50_ms": statistics.median(live),
                   "p90_ms": pct(live, 0.9), "endpoint": "/api/live/scalars?max_points=2000"}
            ds, body = _timed(s, n, "/api/scalar", run=run, tag=tag, max_points=2000)
            got2 = len(_series(json.loads(body), tag))
            out["api_scalar_max_points"] = {"returned": got2, "p50_ms": statistics.median(ds),
                                            "p90_ms": pct(ds, 0.9)}
            if 0 < got2 <= 2000:  # the TS-VIS endpoint honours max_points: it is the headline
                out["live_scalars"] = {k: out[k] for k in ("returned", "p50_ms", "p90_ms", "endpoint")}
                out.update(returned=got2, p50_ms=statistics.median(ds), p90_ms=pct(ds, 0.9),
                           endpoint="/api/scalar?max_points=2000")
            out["others_cores"] = round(noise.others_cores(), 2)
            full, body = _timed(s, max(1, repeats), "/api/scalar", run=run, tag=tag)
            out.update(full_ms=statistics.median(full), full_bytes=len(body),
                       full_points=len(_series(json.loads(body), tag)),
                       full_rss_delta_mb=s.rss_mb("VmHWM") - rss0, server_rss_mb=s.rss_mb())
        log(f"[api] {params.steps:,}-point series: downsampled p50 {out['p50_ms']:.1f} ms ({got} points); "
            f"/api/scalar?max_points {out['api_scalar_max_points']}; full {out['full_ms']:.0f} ms, "
            f"{out['full_bytes'] / 1e6:.1f} MB, RSS +{out['full_rss_delta_mb']:.0f} MB "
            f"(others used {out['others_cores']:.2f} cores meanwhile)")
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def categories(quick: bool, log) -> dict:
    params = CATS_QUICK if quick else CATS
    logdir, _ = genlogs.ensure_logdir(params)
    work = Path(tempfile.mkdtemp(prefix="api-cat-", dir=OUT / "tmp"))
    try:
        ingest(logdir, work)
        with Server(logdir, work) as s:
            s.wait_until(lambda s: s.get("/api/init", id="bench", trainJobName="bench")[0] == 200, timeout=300)
            times, runs = [], 0
            wait_quiet()
            noise = Noise(s.proc.pid)
            for _ in range(30):
                t = time.perf_counter()
                a, _ = s.get("/api/init", id="bench", trainJobName="bench")
                b, body = s.get("/api/getCategory", id="bench", trainJobName="bench")
                times.append((time.perf_counter() - t) * 1000)
                if a != 200 or b != 200:
                    raise ServerUnavailable(f"init/getCategory -> {a}/{b}")
                runs = len(json.loads(body).get("data") or {})
            out = {"runs": params.runs, "tags": params.scalar_tags, "runs_returned": runs,
                   "p50_ms": statistics.median(times[3:]), "p90_ms": pct(times[3:], 0.9),
                   "bytes": len(body), "server_rss_mb": s.rss_mb(), "others_cores": round(noise.others_cores(), 2)}
        log(f"[api] init+getCategory {params.runs}x{params.scalar_tags}: p50 {out['p50_ms']:.1f} ms, "
            f"{runs} runs returned, {len(body) / 1e3:.0f} kB (others used {out['others_cores']:.2f} cores meanwhile)")
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


PYRAMID_BASELINE = "5794430"  # HEAD when scalar summaries were started
PYRAMID_SIZES = (100_000, 1_000_000, 5_000_000)


def baseline_tree(rev: str) -> Path:
    """A worktree of `rev` under bench/out whose own migrations win on PYTHONPATH (the editable
    install maps `tsvis_live.migrations` to this tree's, which a baseline must not run)."""
    path = OUT / f"baseline-{rev[:12]}"
    if not path.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(path), rev], cwd=REPO, check=True,
                       capture_output=True)
    link = path / "tsvis_live" / "migrations"
    if not link.exists():
        link.symlink_to("../migrations")
    return path


def _measured_get(s: Server, path: str, qs: dict) -> tuple[float, bytes, float]:
    """(ms, body, MB): one request, and the server's peak RSS during it above its RSS before
    (VmHWM reset through clear_refs, outside the timed span)."""
    Path(f"/proc/{s.proc.pid}/clear_refs").write_text("5")
    before = s.rss_mb()
    ms, body = _timed(s, 1, path, **qs)
    return ms[0], body, s.rss_mb("VmHWM") - before


def _pyramid_queries(points: int, run: str, tag: str) -> dict[str, tuple[str, dict]]:
    base = {"run": run, "tag": tag}
    mid = points // 2
    return {
        "scalar": ("/api/scalar", base | {"max_points": 2000}),
        "live": ("/api/live/scalars", base | {"max_points": 2000}),
        "zoom_10pct": ("/api/live/scalars", base | {"max_points": 2400, "start_step": mid - points // 20,
                                                    "end_step": mid + points // 20}),
        "zoom_narrow": ("/api/live/scalars", base | {"max_points": 2400, "start_step": mid, "end_step": mid + 1999}),
        "smoothed": ("/api/live/scalars", base | {"max_points": 2000, "smoothing": 0.6}),
    }


def _pyramid_size(points: int, trees: dict[str, str | None], n: int, log) -> dict:
    params = genlogs.GenParams(runs=1, scalar_tags=1, steps=points, hist_tags=0, images_per_run=0)
    logdir, _ = genlogs.ensure_logdir(params, verbose=False)
    run, tag = genlogs.run_name(0), genlogs.scalar_tag(0)
    work = Path(tempfile.mkdtemp(prefix="api-pyramid-", dir=OUT / "tmp"))
    servers: dict[str, Server] = {}
    res: dict = {name: {} for name in trees}

    def ready(s: Server) -> bool:
        return s.get_json("/api/live/scalars", run=run, tag=tag, max_points=4)[1].get("data", {}).get("total") == points

    try:
        for name, tree in trees.items():
            env = dict(os.environ) | ({"PYTHONPATH": tree} if tree else {})
            t0 = time.perf_counter()
            ingest(logdir, work / name, tree)
            res[name]["ingest_s"] = round(time.perf_counter() - t0, 2)
            res[name]["database_mb"] = round(dir_bytes(work / name) / 1e6, 1)
            servers[name] = Server(logdir, work / name, env=env)
        for s in servers.values():
            s.wait_until(ready, timeout=600)
        for query, (path, qs) in _pyramid_queries(points, run, tag).items():
            times: dict[str, list[float]] = {name: [] for name in trees}
            growth: dict[str, list[float]] = {name: [] for name in trees}
            bodies: dict[str, bytes] = {}
            for s in servers.values():
                _timed(s, 3, path, **qs)  # warm: caches, first-use imports
            wait_quiet()
            order = list(servers.items())
            for i in range(n):
                for name, s in order[i % 2:] + order[: i % 2]:  # alternate who goes first
                    ms, bodies[name], mb = _measured_get(s, path, qs)
                    times[name].append(ms)
                    growth[name].append(mb)
            for name in trees:
                d = json.loads(bodies[name])
                d = d.get("data", d)
                res[name][query] = {"p50_ms": round(statistics.median(times[name]), 2),
                                    "p90_ms": round(pct(times[name], 0.9), 2),
                                    "rss_growth_mb_p50": round(statistics.median(growth[name]), 1),
                                    "rss_growth_mb_max": round(max(growth[name]), 1),
                                    "returned": len(d.get("steps") or d.get(tag) or [])}
            if len(trees) > 1:
                res["current"][query]["same_as_baseline"] = len(set(bodies.values())) == 1
            log(f"[pyramid] {points:,} points, {query}: " + "; ".join(
                f"{name} p50 {r[query]['p50_ms']:.1f} ms p90 {r[query]['p90_ms']:.1f} ms, RSS +"
                f"{r[query]['rss_growth_mb_max']:.1f} MB max" for name, r in res.items()))
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(work, ignore_errors=True)
    return res


def pyramid(quick: bool, baseline: str | None, log, sizes: list[int] | None = None) -> dict:
    """Downsampled and zoomed reads of one long series, baseline and current tree, interleaved."""
    sizes = sizes or (PYRAMID_SIZES[:2] if quick else PYRAMID_SIZES)
    n = 15 if quick else 40
    trees = {"current": None, **({f"baseline {baseline}": str(baseline_tree(baseline))} if baseline else {})}
    out = {"baseline": baseline, "requests": n,
           "sizes": {str(points): _pyramid_size(points, trees, n, log) for points in sizes}}
    (OUT / "pyramid-results.json").write_text(json.dumps(out, indent=1))
    return out


def measure_api(logdir: Path, quick: bool, repeats: int, peers: dict, log=print) -> dict:
    if not server_available():
        return {"error": "the server (tsvis_live.http.app) does not exist yet"}
    (OUT / "tmp").mkdir(parents=True, exist_ok=True)
    params = genlogs.QUICK if quick else genlogs.FULL
    res: dict = {}
    for name, fn in (
        ("restart", lambda: restart_to_ready(logdir, params, repeats, peers, log)),
        ("scalar_1m", lambda: scalar_1m(quick, repeats, log)),
        ("category_1000x50", lambda: categories(quick, log)),
    ):
        try:
            res[name] = fn()
        except (ServerUnavailable, RuntimeError, TimeoutError, OSError, ValueError) as e:
            log(f"[api] {name} failed: {e}")
            res[name] = {"error": str(e)[:300]}
    return res


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="tsvis-live API benchmarks")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", choices=["pyramid"], help="one measurement: pyramid (scalar summaries)")
    ap.add_argument("--baseline", metavar="REV", default=PYRAMID_BASELINE,
                    help="pyramid: also measure this git revision, interleaved ('' for none)")
    ap.add_argument("--sizes", type=int, nargs="+", help="pyramid: series lengths (default 100k 1M 5M)")
    args = ap.parse_args(argv)
    if args.only == "pyramid":
        (OUT / "tmp").mkdir(parents=True, exist_ok=True)
        res = pyramid(args.quick, args.baseline or None, log=lambda m: print(m, file=sys.stderr), sizes=args.sizes)
        print(json.dumps(res, indent=1))
        return
    params = genlogs.QUICK if args.quick else genlogs.FULL
    logdir, _ = genlogs.ensure_logdir(params)
    res = measure_api(logdir, args.quick, args.repeats, {}, log=lambda m: print(m, file=sys.stderr))
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
