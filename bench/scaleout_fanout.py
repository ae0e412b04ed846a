"""Fan-out across replicas (issue 10): N WebSocket clients x 10 series over 3 replicas.

The clients live in `client_procs` separate processes (one Python process cannot read 1,000
sockets at 1,000 points/s each on this 2-core box), each client on replica `index % 3`, batched
frames (`options batch`). A client notes the arrival time of every (tag, step) in a flat array
(NaN: not arrived; a second arrival counts as a duplicate); the parent matches them with the
writer's flush times. CPU is read from /proc for every replica, the client processes, the
PostgreSQL group and redis-server over the span from the writer's start to the last arrival.

    (internal) python -m bench.scaleout_fanout --clients SPEC.json
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.live_bench import RUN
from bench.procs import PYTHON, _cpu_times, median, proc_cpu, wait_quiet
from bench.server import REPO, Server

OUT = REPO / "bench" / "out"
_HZ = os.sysconf("SC_CLK_TCK")


# -- the client process ----------------------------------------------------------------------
async def _clients(spec: dict) -> None:
    import websockets

    try:
        from orjson import loads
    except ImportError:  # pragma: no cover
        from json import loads
    ports, names, steps = spec["ports"], spec["tags"], spec["steps"]
    mine = list(range(spec["proc"], spec["n"], spec["procs"]))
    tidx = {t: i for i, t in enumerate(names)}
    nan = float("nan")
    arr = [[array("d", [nan]) * steps for _ in names] for _ in mine]
    count, dups = [0] * len(mine), [0] * len(mine)
    stats = {"resync": 0, "error": 0, "outside": 0, "ready": 0, "done": 0, "connect_failed": 0}
    want = len(names) * steps
    sem = asyncio.Semaphore(32)

    async def one(j: int, g: int) -> None:
        try:
            async with sem:
                ws = await websockets.connect(f"ws://127.0.0.1:{ports[g % len(ports)]}/ws", max_size=None,
                                              ping_interval=None, open_timeout=300, close_timeout=1)
                await ws.send('{"op": "options", "batch": true}')
                for t in names:
                    await ws.send(json.dumps({"op": "subscribe", "kind": "scalar", "run": RUN, "tag": t}))
        except Exception:
            stats["connect_failed"] += 1
            raise
        finally:
            stats["ready"] += 1
            if stats["ready"] == len(mine):
                print("ready", flush=True)
        a = arr[j]
        while True:
            raw = await ws.recv()
            t = time.time()
            frame = loads(raw)
            for m in frame["messages"] if frame.get("type") == "batch" else (frame,):
                typ = m.get("type")
                if typ == "points" and m.get("kind") == "scalar":
                    col = a[tidx[m["tag"]]]
                    for pt in m["points"]:
                        s = pt[1]
                        if not 0 <= s < steps:
                            stats["outside"] += 1
                        elif col[s] == col[s]:  # not NaN: seen before
                            dups[j] += 1
                        else:
                            col[s] = t
                            count[j] += 1
                    if count[j] == want:
                        count[j] += 1  # count once
                        stats["done"] += 1
                        if stats["done"] == len(mine):
                            print("done", flush=True)
                elif typ in ("resync", "error"):
                    stats[typ] += 1

    tasks = [asyncio.create_task(one(j, g)) for j, g in enumerate(mine)]
    loop = asyncio.get_running_loop()
    while (await loop.run_in_executor(None, sys.stdin.readline)).strip() not in ("stop", ""):
        pass
    for task in tasks:
        task.cancel()
    res = await asyncio.gather(*tasks, return_exceptions=True)
    failed = [repr(r)[:200] for r in res if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)]
    np.save(spec["out"] + ".npy", np.array([[np.frombuffer(c, dtype=np.float64) for c in a] for a in arr]))
    Path(spec["out"] + ".json").write_text(json.dumps({"clients": mine, "dups": dups, **stats,
                                                       "failed": failed[:5], "n_failed": len(failed)}))
    print("saved", flush=True)
    os._exit(0)  # no orderly close of hundreds of sockets


# -- the parent ------------------------------------------------------------------------------
def redis_pids() -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if Path(f"/proc/{d}/comm").read_text().strip() == "redis-server" and b":6379" in Path(
                        f"/proc/{d}/cmdline").read_bytes():
                    out.append(int(d))
            except OSError:
                continue
    return out


class ClientProc:
    def __init__(self, spec: dict) -> None:
        self.spec_path = Path(spec["out"] + ".spec.json")
        self.spec_path.write_text(json.dumps(spec))
        self.proc = subprocess.Popen([PYTHON, "-m", "bench.scaleout_fanout", "--clients", str(self.spec_path)],
                                     cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    def wait_line(self, want: str, timeout: float) -> bool:
        deadline = time.perf_counter() + timeout
        while (left := deadline - time.perf_counter()) > 0:
            try:
                if self.lines.get(timeout=left) == want:
                    return True
            except queue.Empty:
                break
            if self.proc.poll() is not None:
                break
        return False

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("stop\n")
        self.proc.stdin.flush()
        self.proc.wait(120)


def run_fanout(servers: list[Server], logdir: Path, n: int, tags: int, rate: float, seconds: float,
               client_procs: int, log: Callable[[str], None]) -> dict:
    from bench.scaleout_bench import postgres_pids
    from bench.scaleout_live import writer

    names = [f"live/t{j:02d}" for j in range(tags)]
    steps = int(rate * seconds) // tags
    tmp = Path(tempfile.mkdtemp(prefix="fanout-", dir=OUT / "tmp"))
    ports = [s.port for s in servers]
    t_conn = time.perf_counter()
    clients = [ClientProc({"ports": ports, "tags": names, "steps": steps, "n": n, "procs": client_procs,
                           "proc": p, "out": str(tmp / f"c{p}")}) for p in range(client_procs)]
    try:
        for c in clients:
            if not c.wait_line("ready", 600):
                raise RuntimeError(f"client process {c.proc.pid} did not connect its clients")
        connect_s = time.perf_counter() - t_conn
        time.sleep(0.5)
        busy = wait_quiet(0.3, 30.0)
        rpids, cpids, pg, rd = [s.proc.pid for s in servers], [c.proc.pid for c in clients], postgres_pids(), redis_pids()
        every = rpids + cpids + pg + rd
        cpu0 = {p: proc_cpu(p) for p in every}
        busy0, t0 = _cpu_times()[0], time.perf_counter()
        w = writer(logdir, rate, tags, seconds, tmp / "flush.json")
        w.wait()
        drained = all(c.wait_line("done", 20) for c in clients)
        span = time.perf_counter() - t0
        cores = {p: max(0.0, proc_cpu(p) - cpu0[p]) / span for p in every}  # a process gone: 0
        machine = (_cpu_times()[0] - busy0) / _HZ / span
        rss = [s.rss_mb() for s in servers]
        peak = [s.rss_mb("VmHWM") for s in servers]
        for c in clients:
            c.stop()
        info = json.loads((tmp / "flush.json").read_text())
        flush_t = np.full((tags, steps), np.nan)
        for first, end, t in info["flushes"]:
            st, tg = np.divmod(np.arange(first, end), tags)
            flush_t[tg, st] = t
        arrivals = np.full((n, tags, steps), np.nan)
        meta: dict = {"dups": 0, "resync": 0, "error": 0, "outside": 0, "n_failed": 0, "connect_failed": 0, "failed": []}
        for p in range(client_procs):
            m = json.loads((tmp / f"c{p}.json").read_text())
            arrivals[m["clients"]] = np.load(tmp / f"c{p}.npy")
            for k in ("resync", "error", "outside", "n_failed", "connect_failed"):
                meta[k] += m[k]
            meta["dups"] += sum(m["dups"])
            meta["failed"] += m["failed"]
        lat = (arrivals - flush_t[None]) * 1000
        got = ~np.isnan(arrivals)
        q = np.percentile(lat[got], [50, 90, 99, 100]) if got.any() else [float("nan")] * 4
        per_replica = []
        for r in range(len(servers)):
            sub = lat[r::len(servers)][got[r::len(servers)]]
            per_replica.append({"p50_ms": float(np.percentile(sub, 50)) if sub.size else None,
                                "p99_ms": float(np.percentile(sub, 99)) if sub.size else None})
        res = {"clients": n, "connect_s": connect_s, "points": int(got.sum()), "expected": n * info["total"],
               "missing": int(n * np.count_nonzero(~np.isnan(flush_t)) - got.sum()), "duplicates": meta["dups"],
               "resyncs": meta["resync"], "errors": meta["error"], "outside": meta["outside"],
               "client_failures": meta["n_failed"], "connect_failed": meta["connect_failed"], "client_failure_samples": meta["failed"][:3],
               "p50_ms": float(q[0]), "p90_ms": float(q[1]), "p99_ms": float(q[2]), "max_ms": float(q[3]),
               "per_replica": per_replica, "drained": drained, "span_s": span, "busy_before": round(busy, 2),
               "replica_cores": [cores[p] for p in rpids], "client_cores": sum(cores[p] for p in cpids),
               "postgres_cores": sum(cores[p] for p in pg), "redis_cores": sum(cores[p] for p in rd),
               "machine_cores": machine, "replica_rss_mb": rss, "replica_peak_rss_mb": peak}
        log(f"[scaleout] fan-out {n} clients x {tags} series over {len(servers)} replicas, {rate:.0f} points/s: "
            f"p50 {res['p50_ms']:.0f} ms, p90 {res['p90_ms']:.0f} ms, p99 {res['p99_ms']:.0f} ms, missing "
            f"{res['missing']}, dup {res['duplicates']}, resyncs {res['resyncs']}, failures {res['client_failures']}; "
            f"cores: replicas {', '.join(f'{c:.2f}' for c in res['replica_cores'])}, clients "
            f"{res['client_cores']:.2f} ({client_procs} procs), PostgreSQL {res['postgres_cores']:.2f}, Redis "
            f"{res['redis_cores']:.2f}, machine {machine:.2f}; replica RSS {', '.join(f'{x:.0f}' for x in rss)} MB; "
            f"connect {connect_s:.1f} s")
        return res
    finally:
        for c in clients:
            if c.proc.poll() is None:
                c.proc.kill()
                c.proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def measure_fanout(PgDatabase, broker: str, quick: bool, repeats: int, client_procs: int = 2,  # noqa: N803
                   log: Callable[[str], None] = print) -> dict:
    from bench.scaleout_live import _cleanup_redis, start_replicas

    (OUT / "tmp").mkdir(parents=True, exist_ok=True)
    n, seconds = (100, 4.0) if quick else (1000, 10.0)
    runs = []
    for _ in range(repeats):
        work = Path(tempfile.mkdtemp(prefix="so-fanout-", dir=OUT / "tmp"))
        logdir = work / "logdir"
        logdir.mkdir()
        with PgDatabase("fanout") as db:
            servers = start_replicas(logdir, work, db.url, broker, 3)
            try:
                runs.append(run_fanout(servers, logdir, n, 10, 1000.0, seconds, client_procs, log))
            finally:
                _cleanup_redis(broker, servers)
                for s in servers:
                    s.stop()
        shutil.rmtree(work, ignore_errors=True)
    keys = ("p50_ms", "p90_ms", "p99_ms", "max_ms", "client_cores", "machine_cores", "postgres_cores", "redis_cores")
    return {"clients": n, "series": 10, "rate": 1000.0, "seconds": seconds, "client_procs": client_procs,
            "repeats": repeats, **{k: median([r[k] for r in runs]) for k in keys},
            "missing": sum(r["missing"] for r in runs), "duplicates": sum(r["duplicates"] for r in runs),
            "resyncs": sum(r["resyncs"] for r in runs),
            "replica_cores": [median([r["replica_cores"][i] for r in runs]) for i in range(3)],
            "replica_rss_mb": [median([r["replica_rss_mb"][i] for r in runs]) for i in range(3)],
            "replica_peak_rss_mb": [median([r["replica_peak_rss_mb"][i] for r in runs]) for i in range(3)],
            "runs": runs}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--clients"]:
        asyncio.run(_clients(json.loads(Path(sys.argv[2]).read_text())))
    else:
        sys.exit("internal: python -m bench.scaleout_fanout --clients SPEC.json (run bench.scaleout_bench)")
