"""Live push benchmarks of a real `tsvis-live` server (issue 4).

A writer process appends scalar events to a new run of an initially empty logdir at a fixed
rate, flushing every `flush_ms`, and records when each point was flushed. WebSocket clients
(the `websockets` package, in this process) subscribed beforehand record when each point
arrives. Latency = arrival - flush (same machine clock). Every point must arrive exactly once.

- latency: 1 client, 1 series, 1000 points/s.
- fan-out: 200 clients x 10 series each, 2000 points/s in total (200/s per series); p99
  latency, server peak RSS, points missing/duplicated, resyncs (slow-client drops).
- backlog (issue 9.1): the server starts on a big logdir (the 2M-event corpus, hard-linked) and,
  while its first pass runs, a new run is written at 100 points/s; 1 client follows it with a
  small buffer (1000 points). Latency, resyncs, and whether the first pass was still running
  when the last point arrived. `--baseline REV` measures a git revision the same way in the
  same run (a worktree on PYTHONPATH), e.g. the one before the ingest lanes.
Clients and server share the 2 cores, so client-side parsing is part of what is measured.

    python -m bench.live_bench [--quick] [--only latency|fanout]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

from bench.procs import PYTHON, _cpu_times, wait_quiet
from bench.server import REPO, Server

try:  # the measuring clients share the 2 cores with the server: parse as cheaply as possible
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - stdlib fallback, slower client
    _loads = json.loads

OUT = Path(__file__).resolve().parent / "out"
RUN = "live"


# -- the writer (its own process) ------------------------------------------------------------
def writer_main(logdir: str, rate: float, tags: int, seconds: float, flush_ms: float, out: str) -> None:
    from tensorboard.compat.proto import event_pb2, summary_pb2

    from tsvis_live.formats.tfrecord import encode_record

    run_dir = Path(logdir, RUN)
    run_dir.mkdir(parents=True, exist_ok=True)
    now = time.time()
    f = open(run_dir / f"events.out.tfevents.{int(now)}.benchwriter.1.0", "wb")  # noqa: SIM115
    f.write(encode_record(event_pb2.Event(wall_time=now, file_version="brain.Event:2").SerializeToString()))
    f.flush()
    names = [f"live/t{j:02d}" for j in range(tags)]
    total = int(rate * seconds)
    flushes: list[tuple[int, int, float]] = []  # (first point index, end index, flush time)
    start = time.perf_counter()
    i = 0
    while i < total:
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        first = i
        chunks = []
        while i < due:
            step, tag = divmod(i, tags)
            v = summary_pb2.Summary.Value(tag=names[tag], simple_value=float(step))
            ev = event_pb2.Event(wall_time=time.time(), step=step, summary=summary_pb2.Summary(value=[v]))
            chunks.append(encode_record(ev.SerializeToString()))
            i += 1
        if chunks:
            f.write(b"".join(chunks))
            f.flush()
            flushes.append((first, i, time.time()))
        next_tick = start + len(flushes) * flush_ms / 1000
        time.sleep(max(0.0, next_tick - time.perf_counter()))
    f.close()
    Path(out).write_text(json.dumps({"tags": names, "total": total, "flushes": flushes,
                                     "seconds": time.perf_counter() - start}))


# -- the clients -----------------------------------------------------------------------------
async def client(port: int, tags: list[str], got: dict, stats: dict, stop: asyncio.Event,
                 ready: asyncio.Event, n_ready: list[int], n_clients: int) -> None:
    import websockets

    uri = f"ws://127.0.0.1:{port}/ws"
    async with websockets.connect(uri, max_size=None, ping_interval=None) as ws:
        await ws.send(json.dumps({"op": "options", "batch": True}))  # one frame per batch window
        for tag in tags:
            await ws.send(json.dumps({"op": "subscribe", "kind": "scalar", "run": RUN, "tag": tag}))
        n_ready[0] += 1
        if n_ready[0] == n_clients:
            ready.set()
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
            except asyncio.TimeoutError:
                continue
            t = time.time()
            frame = _loads(raw)
            for msg in frame["messages"] if frame.get("type") == "batch" else [frame]:
                kind = msg.get("type")
                if kind == "points" and msg.get("kind") == "scalar":
                    arr = got[msg["tag"]]
                    for p in msg["points"]:
                        arr.append((int(p[1]), t))
                elif kind in ("resync", "error"):
                    stats[kind] += 1


def _proc_cpu(pid: int) -> float:
    """utime + stime of a process (all its threads), seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _self_cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def latencies(flush_info: dict, received: list[dict], before: float | None = None) -> dict:
    """Flush-to-receipt statistics; only of points flushed before `before` (epoch s) if given."""
    tags, flushes = flush_info["tags"], flush_info["flushes"]
    k = len(tags)
    flush_t: dict[tuple[str, int], float] = {}
    for first, end, t in flushes:
        if before is not None and t >= before:
            continue
        for i in range(first, end):
            step, tag = divmod(i, k)
            flush_t[(tags[tag], step)] = t
    expected_by_tag: dict[str, set[int]] = defaultdict(set)
    for tg, st in flush_t:
        expected_by_tag[tg].add(st)
    lat, missing, dup = [], 0, 0
    start = min(flush_t.values(), default=0.0)
    slow: list[tuple[float, float]] = []  # (flushed at, seconds after the first flush; latency) over 250 ms
    for got in received:
        for tag in got:
            steps = [s for s, _ in got[tag]]
            dup += len(steps) - len(set(steps))
        for tag in tags:
            expected = expected_by_tag[tag]
            seen = {s: t for s, t in got.get(tag, [])}
            missing += len(expected - seen.keys())
            lat.extend(seen[s] - flush_t[(tag, s)] for s in expected & seen.keys())
            slow.extend((round(flush_t[(tag, s)] - start, 2), round(seen[s] - flush_t[(tag, s)], 3))
                        for s in expected & seen.keys() if seen[s] - flush_t[(tag, s)] > 0.25)
    lat.sort()
    q = (lambda f: lat[min(len(lat) - 1, int(f * (len(lat) - 1)))] * 1000) if lat else (lambda f: float("nan"))
    return {"points": len(lat), "p50_ms": q(0.5), "p90_ms": q(0.9), "p99_ms": q(0.99), "max_ms": q(1.0),
            "missing": missing, "duplicates": dup, "slow": sorted(slow)[:50]}


async def _scenario(server: Server, logdir: Path, clients: int, tags: int, rate: float,
                    seconds: float, flush_ms: float, log, quiet: bool = True) -> dict:
    names = [f"live/t{j:02d}" for j in range(tags)]
    stop, ready = asyncio.Event(), asyncio.Event()
    received = [defaultdict(list) for _ in range(clients)]
    stats: dict = defaultdict(int)
    n_ready = [0]
    tasks = [asyncio.create_task(client(server.port, names, received[c], stats, stop, ready, n_ready, clients))
             for c in range(clients)]
    await asyncio.wait_for(ready.wait(), timeout=120)
    if quiet:  # (not during a backlog: the machine is meant to be busy then, and short)
        await asyncio.sleep(0.5)
        await asyncio.to_thread(wait_quiet, 0.25, 60.0)
    out = Path(tempfile.mktemp(suffix=".json", dir=OUT / "tmp"))
    rss_before = server.rss_mb()
    cpu0, self0, t0 = _proc_cpu(server.proc.pid), _self_cpu(), time.perf_counter()
    busy0, _ = _cpu_times()
    proc = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "bench.live_bench", "--writer", str(logdir), str(rate), str(tags), str(seconds),
        str(flush_ms), str(out), cwd=str(REPO))
    await proc.wait()
    flush_info = json.loads(out.read_text())
    out.unlink()
    expected = flush_info["total"] * clients
    deadline = time.perf_counter() + 15
    while time.perf_counter() < deadline:
        have = sum(len(v) for got in received for v in got.values())
        if have >= expected:
            break
        await asyncio.sleep(0.1)
    stop.set()
    server_cpu, client_cpu, span = _proc_cpu(server.proc.pid) - cpu0, _self_cpu() - self0, time.perf_counter() - t0
    machine_cores = (_cpu_times()[0] - busy0) / os.sysconf("SC_CLK_TCK") / span
    await asyncio.gather(*tasks, return_exceptions=True)
    res = latencies(flush_info, [dict(g) for g in received])
    res["raw"] = (flush_info, [dict(g) for g in received])  # for a caller's own cut (run_backlog)
    res.update(clients=clients, series_per_client=tags, rate=rate, seconds=seconds, flush_ms=flush_ms,
               resyncs=stats["resync"], errors=stats["error"], server_rss_before_mb=rss_before,
               server_peak_rss_mb=server.rss_mb("VmHWM"), server_rss_mb=server.rss_mb(),
               server_cores=server_cpu / span, client_cores=client_cpu / span, machine_cores=machine_cores,
               span_s=span)
    log(f"[live] {clients} client(s) x {tags} series at {rate:.0f} points/s: p50 {res['p50_ms']:.1f} ms, "
        f"p99 {res['p99_ms']:.1f} ms, missing {res['missing']}, dup {res['duplicates']}, resyncs "
        f"{res['resyncs']}, server RSS {res['server_rss_mb']:.0f} MB (peak {res['server_peak_rss_mb']:.0f}); "
        f"cores used: server {res['server_cores']:.2f}, clients {res['client_cores']:.2f}, whole machine "
        f"{res['machine_cores']:.2f} over {res['span_s']:.1f} s")
    return res


def run_scenario(clients: int, tags: int, rate: float, seconds: float, flush_ms: float = 10.0, log=print) -> dict:
    (OUT / "tmp").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="live-", dir=OUT / "tmp"))
    logdir, data = work / "logdir", work / "data"
    logdir.mkdir()
    try:
        with Server(logdir, data) as s:
            s.wait_until(lambda s: s.get("/api/init", id="bench", trainJobName="bench")[0] == 200, timeout=120)
            res = asyncio.run(_scenario(s, logdir, clients, tags, rate, seconds, flush_ms, log))
            res.pop("raw")
            return res
    finally:
        shutil.rmtree(work, ignore_errors=True)


def link_tree(src: Path, dst: Path) -> None:
    """A copy of a logdir made of hard links (instant, no extra disk)."""
    for path in src.rglob("*"):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, target)


def _status(server: Server) -> dict:
    code, body = server.get("/api/live/status")
    return json.loads(body)["data"] if code == 200 else {}


def run_backlog(quick: bool, baseline: str | None = None, log=print, steps: int | None = None) -> dict:
    """Live latency for a run written while the first pass over a big logdir runs
    (`steps` per tag: 10,000 is the 2M-event corpus, 50,000 the 10M one)."""
    from dataclasses import replace

    from bench.genlogs import FULL, QUICK, ensure_logdir

    params = QUICK if quick else replace(FULL, steps=steps) if steps else FULL
    corpus, manifest = ensure_logdir(params, verbose=False)
    (OUT / "tmp").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="backlog-", dir=OUT / "tmp"))
    logdir, data = work / "logdir", work / "data"
    link_tree(corpus, logdir)
    env = dict(os.environ)
    if baseline:
        env["PYTHONPATH"] = baseline
    try:
        with Server(logdir, data, env=env) as s:
            s.wait_until(lambda s: s.get("/api/live/status")[0] == 200, timeout=120)
            t_listen = time.perf_counter() - s.t0
            ready_at: list[float] = []  # epoch seconds when the first pass was seen done (polled)

            def watch_ready() -> None:
                while not _status(s).get("ready"):
                    time.sleep(0.02)
                ready_at.append(time.time())

            watcher = threading.Thread(target=watch_ready, daemon=True)
            watcher.start()
            res = asyncio.run(_scenario(s, logdir, 1, 1, 100.0, 3.0 if quick else 8.0, 10.0, log, quiet=False))
            res["backlog_running_at_end"] = _status(s).get("ready") is False
            watcher.join(timeout=600)
            res["first_pass_s"] = time.perf_counter() - s.t0 - t_listen
            flush_info, received = res.pop("raw")
            during = latencies(flush_info, received, before=ready_at[0]) if ready_at else {}
            res["during_pass"] = during  # points flushed before the pass was seen to end
            res["backlog_events"] = manifest["records"]
            res["revision"] = baseline or "current"
        log(f"[live] backlog of {manifest['records']:,} events ({res['revision']}): p50 {res['p50_ms']:.0f} ms, "
            f"p99 {res['p99_ms']:.0f} ms, max {res['max_ms']:.0f} ms, resyncs {res['resyncs']}, missing "
            f"{res['missing']}, first pass still running at the last point: {res['backlog_running_at_end']}; "
            f"the {during.get('points', 0)} points flushed during the pass: p50 {during.get('p50_ms', float('nan')):.0f}"
            f" ms, p99 {during.get('p99_ms', float('nan')):.0f} ms, max {during.get('max_ms', float('nan')):.0f} ms, "
            f"missing {during.get('missing')}")
        return res
    finally:
        shutil.rmtree(work, ignore_errors=True)


def baseline_tree(rev: str) -> Path:
    """A worktree of `rev` under bench/out (kept between runs), named by its commit: a name
    like HEAD would otherwise keep measuring the commit it meant when the tree was made."""
    import subprocess

    commit = subprocess.run(["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout.strip()
    path = OUT / f"baseline-{commit[:12]}"
    if not path.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(path), commit], cwd=REPO, check=True,
                       capture_output=True)
    return path


def measure_live(quick: bool, log=print, only: str | None = None) -> dict:
    res: dict = {}
    seconds = 5.0 if quick else 20.0
    plans = {
        "latency": dict(clients=1, tags=1, rate=1000.0, seconds=seconds),
        "fanout": dict(clients=20 if quick else 200, tags=10, rate=2000.0, seconds=seconds / 2),
    }
    for name, plan in plans.items():
        if only and name != only:
            continue
        try:
            res[name] = run_scenario(**plan, log=log)
        except (RuntimeError, TimeoutError, OSError, ValueError) as e:
            log(f"[live] {name} failed: {e}")
            res[name] = {"error": str(e)[:300]}
    return res


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--writer":
        logdir, rate, tags, seconds, flush_ms, out = argv[1:7]
        writer_main(logdir, float(rate), int(tags), float(seconds), float(flush_ms), out)
        return
    ap = argparse.ArgumentParser(description="tsvis-live live push benchmarks")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=["latency", "fanout", "backlog"])
    ap.add_argument("--baseline", metavar="REV", help="backlog: also measure this git revision, interleaved")
    ap.add_argument("--repeats", type=int, default=3, help="backlog: runs of each revision")
    ap.add_argument("--backlog-steps", type=int, default=None,
                    help="backlog: steps per tag of the corpus (10000: 2M events, the default; 50000: 10M)")
    args = ap.parse_args(argv)
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    if args.only == "backlog":
        runs: dict[str, list] = {"current": [], **({args.baseline: []} if args.baseline else {})}
        base = str(baseline_tree(args.baseline)) if args.baseline else None
        for _ in range(args.repeats):  # A/B interleaved: the machine's noise hits both alike
            runs["current"].append(run_backlog(args.quick, log=log, steps=args.backlog_steps))
            if base:
                runs[args.baseline].append(run_backlog(args.quick, base, log=log, steps=args.backlog_steps))
        print(json.dumps(runs, indent=1))
        return
    print(json.dumps(measure_live(args.quick, log=log, only=args.only), indent=1))


if __name__ == "__main__":
    main()
