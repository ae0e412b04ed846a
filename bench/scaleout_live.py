"""Scale-out live benchmarks (issue 10): replicas on one PostgreSQL store and one Redis broker.

- failover: 2 replicas, a writer at 100 points/s into a new run per repetition; the ingesting
  replica is SIGKILLed 2-4 s into the run. Failover = from the kill to the moment the first
  point that was not stored at the kill is readable from the store (`/api/live/scalars` on the
  survivor, polled every 20 ms) after the survivor reports `role: ingest` (a point that shows
  up before that is the dead ingester's last, in-flight commit, and moves the bar). Also: the
  election alone, and the delay suffered by that first new point (its flush to its visibility).
  Then every point of the run must be stored exactly once.
- latency: 3 replicas (1 ingesting), a writer at 1,000 points/s, one WebSocket client on each
  replica; flush-to-receipt per client, split ingester / followers; beside the single-process
  SQLite server of `bench.live_bench.run_scenario`, A/B interleaved.
Fan-out is in `bench.scaleout_fanout`.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench.live_bench import RUN, client, latencies, run_scenario
from bench.procs import PYTHON, _cpu_times, cpu_busy, median, proc_cpu, wait_quiet
from bench.server import REPO, Server

OUT = REPO / "bench" / "out"
_HZ = os.sysconf("SC_CLK_TCK")


def status(s: Server) -> dict:
    code, body = s.get_json("/api/live/status")
    return body.get("data", {}) if code == 200 else {}


def start_replicas(logdir: Path, work: Path, url: str, broker: str, n: int, first: int = 0) -> list[Server]:
    """n replicas; the first one started becomes the ingester (checked)."""
    env = {**os.environ, "TSVIS_LIVE_DATABASE": url, "TSVIS_LIVE_BROKER": broker}
    servers = []
    for i in range(first, first + n):
        s = Server(logdir, work / f"r{i}", env=env)
        servers.append(s)
        s.wait_until(lambda s: status(s).get("ready") is True, timeout=120, interval=0.05)
    roles = [status(s).get("role") for s in servers]
    if first == 0 and roles[0] != "ingest":
        raise RuntimeError(f"unexpected roles {roles}")
    return servers


def writer(logdir: Path, rate: float, tags: int, seconds: float, out: Path, flush_ms: float = 10.0) -> subprocess.Popen:
    return subprocess.Popen([PYTHON, "-m", "bench.live_bench", "--writer", str(logdir), str(rate), str(tags),
                             str(seconds), str(flush_ms), str(out)], cwd=REPO)


def stored_steps(s: Server, run: str, tag: str, start: int | None = None) -> list[int]:
    params = {"run": run, "tag": tag, "max_points": 1_000_000, "all_writes": 1}
    if start is not None:
        params["start_step"] = start
    code, body = s.get_json("/api/live/scalars", **params)
    return body["data"]["steps"] if code == 200 else []


def _cleanup_redis(broker: str, servers: list[Server]) -> None:
    import redis

    from tsvis_live.stream.redis_hub import stream_key

    ids = {status(s).get("session_id") for s in servers if s.proc.poll() is None} - {None}
    with redis.Redis.from_url(broker) as r:
        for sid in ids:
            r.delete(stream_key(sid))


# -- failover ----------------------------------------------------------------------------------
def _one_failover(servers: list[Server], root: Path, k: int, rng: random.Random, log) -> dict:
    run_dir = root / f"rep{k}"
    run, tag, out = f"rep{k}/{RUN}", "live/t00", root / f"flush{k}.json"
    w = writer(run_dir, 100.0, 1, 10.0, out)
    t_w = time.perf_counter()
    ingester = next(s for s in servers if status(s).get("role") == "ingest")
    surv = next(s for s in servers if s is not ingester)
    surv.wait_until(lambda s: stored_steps(s, run, tag), timeout=90, interval=0.02)
    time.sleep(max(0.0, t_w + rng.uniform(2.0, 4.0) - time.perf_counter()))
    t_kill, wall_kill = time.perf_counter(), time.time()
    ingester.proc.kill()
    ingester.proc.wait()
    ingester.stop()
    servers.remove(ingester)
    bar = max(stored_steps(surv, run, tag), default=-1)
    t_elected = t_new = None
    moved = 0
    deadline = t_kill + 60
    while time.perf_counter() < deadline and t_new is None:
        if t_elected is None and status(surv).get("role") == "ingest":
            t_elected = time.perf_counter()
        new = stored_steps(surv, run, tag, bar + 1)
        if new:
            if t_elected is None and status(surv).get("role") == "ingest":
                t_elected = time.perf_counter()
            if t_elected is None:  # the dead ingester's in-flight commit landed after the kill
                bar, moved = max(new), moved + 1
            else:
                t_new, wall_new, first_new = time.perf_counter(), time.time(), min(new)
                break
        time.sleep(0.02)
    if t_new is None:
        raise RuntimeError(f"no new point stored within 60 s of the kill (rep {k})")
    w.wait(60)
    info = json.loads(out.read_text())
    flush_of = {i: t for first, end, t in info["flushes"] for i in range(first, end)}  # 1 tag: index = step
    surv.wait_until(lambda s: len(stored_steps(s, run, tag)) >= info["total"], timeout=60, interval=0.1)
    steps = stored_steps(surv, run, tag)
    res = {"failover_s": t_new - t_kill, "election_s": (t_elected or t_new) - t_kill,
           "kill_after_s": t_kill - t_w, "first_new_step": first_new, "bar_moved": moved,
           "first_new_point_delay_s": wall_new - flush_of[first_new],
           "unstored_at_kill": sum(1 for t in flush_of.values() if t < wall_kill) - (bar + 1),
           "stored": len(steps), "expected": info["total"], "exact": steps == list(range(info["total"]))}
    log(f"[scaleout] failover #{k + 1}: kill {res['kill_after_s']:.1f} s into the run, elected after "
        f"{res['election_s']:.2f} s, first new point (step {first_new}) stored after {res['failover_s']:.2f} s "
        f"(it waited {res['first_new_point_delay_s']:.2f} s since its flush); stored {len(steps)}/{info['total']}, "
        f"exact {res['exact']}")
    return res


def measure_failover(PgDatabase, broker: str, reps: int, log=print) -> dict:  # noqa: N803 - a class
    (OUT / "tmp").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="so-failover-", dir=OUT / "tmp"))
    root = work / "logdir"
    root.mkdir()
    rng = random.Random(10)
    runs = []
    busy = cpu_busy(1.0)
    with PgDatabase("failover") as db:
        servers = start_replicas(root, work, db.url, broker, 2)
        try:
            for k in range(reps):
                runs.append(_one_failover(servers, root, k, rng, log))
                servers += start_replicas(root, work, db.url, broker, 1, first=2 + k)  # keep two
        finally:
            _cleanup_redis(broker, servers)
            for s in servers:
                s.stop()
    shutil.rmtree(work, ignore_errors=True)
    fo = [r["failover_s"] for r in runs]
    return {"reps": reps, "busy_before": round(busy, 2), "failover_s_median": median(fo), "failover_s_max": max(fo),
            "election_s_median": median([r["election_s"] for r in runs]),
            "all_exact": all(r["exact"] for r in runs), "runs": runs}


# -- cross-replica latency ---------------------------------------------------------------------
async def _clients_on(ports: list[int], logdir: Path, rate: float, seconds: float, pids: list[int]) -> dict:
    names = ["live/t00"]
    stop, ready = asyncio.Event(), asyncio.Event()
    received = [defaultdict(list) for _ in ports]
    stats: dict = defaultdict(int)
    n_ready = [0]
    tasks = [asyncio.create_task(client(p, names, received[i], stats, stop, ready, n_ready, len(ports)))
             for i, p in enumerate(ports)]
    await asyncio.wait_for(ready.wait(), timeout=120)
    await asyncio.sleep(0.5)
    busy = await asyncio.to_thread(wait_quiet, 0.25, 30.0)
    out = Path(tempfile.mktemp(suffix=".json", dir=OUT / "tmp"))
    cpu0, busy0, t0 = [proc_cpu(p) for p in pids], _cpu_times()[0], time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "bench.live_bench", "--writer", str(logdir), str(rate), "1", str(seconds), "10", str(out),
        cwd=str(REPO))
    await proc.wait()
    info = json.loads(out.read_text())
    out.unlink()
    deadline = time.perf_counter() + 15
    while time.perf_counter() < deadline and sum(len(v) for g in received for v in g.values()) < info["total"] * len(ports):
        await asyncio.sleep(0.1)
    span = time.perf_counter() - t0
    cores = [(proc_cpu(p) - c) / span for p, c in zip(pids, cpu0)]
    machine = (_cpu_times()[0] - busy0) / _HZ / span
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    per = [latencies(info, [dict(g)]) for g in received]
    return {"per_client": per, "followers": latencies(info, [dict(g) for g in received[1:]]),
            "resyncs": stats["resync"], "errors": stats["error"], "replica_cores": cores,
            "machine_cores": machine, "busy_before": round(busy, 2), "span_s": span}


def _scaleout_latency(PgDatabase, broker: str, rate: float, seconds: float, log) -> dict:  # noqa: N803
    work = Path(tempfile.mkdtemp(prefix="so-latency-", dir=OUT / "tmp"))
    logdir = work / "logdir"
    logdir.mkdir()
    with PgDatabase("latency") as db:
        servers = start_replicas(logdir, work, db.url, broker, 3)
        try:
            res = asyncio.run(_clients_on([s.port for s in servers], logdir, rate, seconds,
                                          [s.proc.pid for s in servers]))
            res["replica_rss_mb"] = [s.rss_mb() for s in servers]
        finally:
            _cleanup_redis(broker, servers)
            for s in servers:
                s.stop()
    shutil.rmtree(work, ignore_errors=True)
    f, ing = res["followers"], res["per_client"][0]
    log(f"[scaleout] latency 3 replicas at {rate:.0f} points/s: followers p50 {f['p50_ms']:.1f} / p90 "
        f"{f['p90_ms']:.1f} / p99 {f['p99_ms']:.1f} ms, missing {f['missing']}, dup {f['duplicates']}; ingester's "
        f"client p50 {ing['p50_ms']:.1f} / p99 {ing['p99_ms']:.1f} ms; replica cores "
        f"{', '.join(f'{c:.2f}' for c in res['replica_cores'])}; machine {res['machine_cores']:.2f}")
    return res


def measure_latency(PgDatabase, broker: str, quick: bool, repeats: int, log=print) -> dict:  # noqa: N803
    (OUT / "tmp").mkdir(parents=True, exist_ok=True)
    seconds, rate = (5.0 if quick else 20.0), 1000.0
    scale, single = [], []
    for _ in range(repeats):  # A/B interleaved
        single.append(run_scenario(1, 1, rate, seconds, log=log))
        scale.append(_scaleout_latency(PgDatabase, broker, rate, seconds, log))

    def med(rows: list[dict], key: str) -> float:
        return median([r[key] for r in rows])

    groups = {"followers": [r["followers"] for r in scale], "ingester": [r["per_client"][0] for r in scale],
              "sqlite_single": single}
    summary = {g: {k: med(rows, k) for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")} |
               {"missing": sum(r["missing"] for r in rows), "duplicates": sum(r["duplicates"] for r in rows),
                "points": sum(r["points"] for r in rows), "p99_ms_all": [round(r["p99_ms"], 1) for r in rows],
                "p50_ms_all": [round(r["p50_ms"], 1) for r in rows]}
               for g, rows in groups.items()}
    return {"rate": rate, "seconds": seconds, "repeats": repeats, "summary": summary,
            "replica_cores": [median([r["replica_cores"][i] for r in scale]) for i in range(3)],
            "replica_rss_mb": [median([r["replica_rss_mb"][i] for r in scale]) for i in range(3)],
            "resyncs": sum(r["resyncs"] for r in scale), "scaleout": scale, "sqlite": single}
