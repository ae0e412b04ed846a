"""Scale-out benchmarks (issue 10): PostgreSQL + Redis beside the SQLite default, in one run.

1. Ingest of the 2.04M-event corpus with `tsvis-live ingest --json`: SQLite, PostgreSQL (a fresh
   database per repeat) and SQLite at `--baseline` (183b549, before the PostgreSQL work: a git
   worktree, its own cwd and PYTHONPATH), A/B/C interleaved; plus two smaller corpora for
   time = fixed + per-event on both backends. PostgreSQL's memory is sampled from /proc: its
   backends serving the ingest (pg_stat_activity.application_name 'tsvis-live pid N ...') and
   the whole postgres group's PSS growth.
2-4. Failover, cross-replica latency and fan-out: `bench.scaleout_live`.

    python -m bench.scaleout_bench [--quick] [--repeats N] [--only ingest,failover,latency,fanout]

Writes bench/out/scaleout-results.json (scaleout-results-quick.json with --quick) and prints tables.
The harness queries PostgreSQL's catalog (pg_stat_activity, CREATE/DROP DATABASE) to measure
and clean up; the product's own SQL stays in tsvis_live/store/.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from bench import genlogs
from bench.machine import machine_info
from bench.procs import (
    PYTHON,
    cpu_busy,
    dir_bytes,
    median,
    proc_cpu,
    run_measured,
    wait_quiet,
    warm_cache,
)

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
PG_ADMIN = os.environ.get("TSVIS_BENCH_PG", "postgresql://root@127.0.0.1:5432/postgres")
REDIS = os.environ.get("TSVIS_BENCH_REDIS", "redis://127.0.0.1:6379/0")
BASELINE = "183b549"  # the commit before the PostgreSQL store
_seq = itertools.count()


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- PostgreSQL: a fresh database, and what its processes use --------------------------------
class PgDatabase:
    """A new, empty database for one measurement, dropped (WITH FORCE) on exit."""

    def __init__(self, tag: str) -> None:
        self.name = f"bench_so_{os.getpid()}_{tag}_{next(_seq)}"
        self.url = PG_ADMIN.rsplit("/", 1)[0] + "/" + self.name

    def _admin(self, sql: str, *args: object) -> object:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            cur = conn.execute(sql, args or None)
            row = cur.fetchone() if cur.description else None
            return row[0] if row else None

    def size(self) -> int:
        return int(self._admin("SELECT pg_database_size(%s)", self.name) or 0)

    def __enter__(self) -> PgDatabase:
        self._admin(f'CREATE DATABASE "{self.name}"')
        return self

    def __exit__(self, *exc: object) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _status(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key = line.split(":", 1)[0]
                if key in ("VmRSS", "VmHWM", "RssAnon"):
                    out[key] = int(line.split()[1])
    except OSError:
        pass
    return out


def postgres_pids() -> list[int]:
    """Every process of the PostgreSQL cluster (comm 'postgres': postmaster, aux, backends)."""
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/comm") as f:
                    if f.read().strip() == "postgres":
                        pids.append(int(d))
            except OSError:
                continue
    return pids


def pss_kb(pids: list[int]) -> int:
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                total += sum(int(ln.split()[1]) for ln in f if ln.startswith("Pss:"))
        except OSError:
            continue
    return total


class PgSampler(threading.Thread):
    """Samples, while an ingest runs, the memory and CPU of the backends serving it and the
    whole postgres group (PSS: shared buffers counted once)."""

    def __init__(self, dbname: str, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.dbname, self.interval = dbname, interval
        self.stop_ev = threading.Event()
        self.hwm: dict[int, int] = {}  # backend pid -> last VmHWM seen (kB)
        self.cpu: dict[int, float] = {}
        self.peak_rss = self.peak_anon = self.peak_group_pss = 0
        group = postgres_pids()
        self.group_pss0 = pss_kb(group)
        self.group_cpu0 = {p: proc_cpu(p) for p in group}
        self.group_cpu1: dict[int, float] = dict(self.group_cpu0)

    def run(self) -> None:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            backends: list[int] = []
            next_query = 0.0
            while not self.stop_ev.is_set():
                now = time.perf_counter()
                if now >= next_query:
                    rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND "
                                        "application_name LIKE 'tsvis-live%%'", (self.dbname,)).fetchall()
                    backends = [r[0] for r in rows]
                    group = postgres_pids()
                    self.peak_group_pss = max(self.peak_group_pss, pss_kb(group))
                    for p in group:
                        self.group_cpu1[p] = proc_cpu(p) or self.group_cpu1.get(p, 0.0)
                    next_query = now + 0.2
                rss = anon = 0
                for p in backends:
                    st = _status(p)
                    if st:
                        self.hwm[p] = max(self.hwm.get(p, 0), st.get("VmHWM", 0))
                        self.cpu[p] = proc_cpu(p) or self.cpu.get(p, 0.0)
                        rss, anon = rss + st.get("VmRSS", 0), anon + st.get("RssAnon", 0)
                self.peak_rss, self.peak_anon = max(self.peak_rss, rss), max(self.peak_anon, anon)
                self.stop_ev.wait(self.interval)

    def finish(self) -> dict:
        self.stop_ev.set()
        self.join(10)
        group_cpu = sum(max(0.0, self.group_cpu1[p] - self.group_cpu0.get(p, 0.0)) for p in self.group_cpu1)
        return {"backends": len(self.hwm), "backend_peak_rss_mb": self.peak_rss / 1024,
                "backend_hwm_sum_mb": sum(self.hwm.values()) / 1024,
                "backend_peak_anon_mb": self.peak_anon / 1024, "backend_cpu_s": sum(self.cpu.values()),
                "group_pss_before_mb": self.group_pss0 / 1024,
                "group_pss_growth_mb": max(0, self.peak_group_pss - self.group_pss0) / 1024,
                "group_cpu_s": group_cpu}


# -- 1. ingest -------------------------------------------------------------------------------
def baseline_tree(rev: str) -> Path:
    """A worktree of `rev` under bench/out that imports only its own code: the compiled decoder
    is copied in when its C sources are this checkout's, else built from the tree's own (never
    left out: the pure decoder would be measured instead), and `tsvis_live/migrations` is linked
    to the tree's `migrations/`, which an editable install otherwise maps to this checkout's."""
    import subprocess

    from bench.live_bench import baseline_tree as tree

    path = tree(rev)
    native = REPO / "tsvis_live" / "formats" / "_native"
    theirs = path / "tsvis_live" / "formats" / "_native"
    sources = sorted(p.name for p in native.glob("*.[ch]"))
    same = all((theirs / n).exists() and (native / n).read_bytes() == (theirs / n).read_bytes() for n in sources)
    if not list(theirs.glob("_decode*.so")):
        if same:
            for so in native.glob("_decode*.so"):
                shutil.copy2(so, theirs / so.name)
        else:
            subprocess.run([PYTHON, "setup.py", "-q", "build_ext", "--inplace"], cwd=path, check=True,
                           capture_output=True)
    link = path / "tsvis_live" / "migrations"
    if (path / "migrations").is_dir() and not link.exists():
        link.symlink_to(Path("..") / "migrations")
    probe = ("import tsvis_live, tsvis_live.migrations as m, tsvis_live.formats._native as n; "
             "print(tsvis_live.__file__); print(*m.__path__); print(n.compiled.__file__)")
    where = subprocess.run([PYTHON, "-c", probe], cwd=path, env={**os.environ, "PYTHONPATH": str(path)},
                           capture_output=True, text=True, check=True).stdout.split()
    if not all(Path(w).resolve().is_relative_to(path.resolve()) for w in where):
        raise RuntimeError(f"the {rev} worktree imports code from elsewhere: {where}")
    return path


def ingest_once(logdir: Path, variant: str, work: Path, base_tree: Path | None) -> dict:
    """One `tsvis-live ingest --json` of `logdir`: variant sqlite | postgresql | sqlite@<rev>."""
    data_dir = Path(tempfile.mkdtemp(prefix="so-ingest-", dir=work))
    cmd = [PYTHON, "-m", "tsvis_live.cli", "ingest", "--logdir", str(logdir), "--data-dir", str(data_dir), "--json"]
    env = {"TSVIS_LIVE_DATABASE": "", "TSVIS_LIVE_BROKER": ""}
    cwd = REPO
    if variant.startswith("sqlite@"):
        assert base_tree is not None
        env["PYTHONPATH"], cwd = str(base_tree), base_tree
    db = PgDatabase("ingest") if variant == "postgresql" else None
    try:
        if db is not None:
            db.__enter__()
            cmd += ["--database", db.url]
        busy = wait_quiet(0.25, 30.0)
        sampler = PgSampler(db.name) if db is not None else None
        if sampler is not None:
            sampler.start()
        r = run_measured(cmd, env=env, cwd=cwd, timeout=1800)
        pg = sampler.finish() if sampler is not None else None
        lines = r.json_lines()
        if r.returncode != 0 or not lines:
            raise RuntimeError(f"{variant} ingest exited {r.returncode}: {r.stderr[-300:]}")
        s = json.loads(lines[-1])
        events = int(s["events"])
        out = {"variant": variant, "wall_s": r.wall, "cpu_s": r.cpu, "events": events, "points": s.get("points"),
               "events_per_s": events / r.wall, "own_s": s.get("seconds"),
               "tree_peak_rss_mb": max(r.maxrss_mb, r.tree_peak_mb), "main_maxrss_mb": r.maxrss_mb,
               "tree_pss_mb": r.tree_pss_mb, "busy_before": round(busy, 2), "others_cores": round(r.others_share, 2),
               "store_bytes": db.size() if db is not None else dir_bytes(data_dir)}
        if pg is not None:
            out["postgres"] = pg
            # the backends serving this ingest count as "others" in run_measured: take them back out
            out["others_cores"] = round(max(0.0, r.others_share - pg["backend_cpu_s"] / r.wall), 2)
            out["cpu_with_pg_s"] = r.cpu + pg["backend_cpu_s"]
        return out
    finally:
        if db is not None:
            db.__exit__(None, None, None)
        shutil.rmtree(data_dir, ignore_errors=True)


NOISY = 0.5  # cores kept busy by other processes during a run: that repeat is redone


def _clean(group: dict) -> bool:
    return all(r["others_cores"] < NOISY for r in group.values())


def _fit(points: list[tuple[int, float]]) -> dict:
    """Least squares time = fixed + per_event * events over (events, seconds) pairs."""
    n = len(points)
    if n < 2:
        return {}
    mx = sum(e for e, _ in points) / n
    my = sum(t for _, t in points) / n
    sxx = sum((e - mx) ** 2 for e, _ in points)
    b = sum((e - mx) * (t - my) for e, t in points) / sxx if sxx else 0.0
    a = my - b * mx
    resid = max(abs(t - (a + b * e)) for e, t in points)
    return {"fixed_s": a, "per_event_us": b * 1e6, "marginal_events_per_s": 1 / b if b > 0 else None,
            "max_residual_s": resid}


def _summ(runs: list[dict]) -> dict:
    keys = ("wall_s", "events_per_s", "cpu_s", "tree_peak_rss_mb", "tree_pss_mb", "main_maxrss_mb", "store_bytes")
    out = {k: median([r[k] for r in runs]) for k in keys}
    out["cpu_with_pg_s"] = median([r.get("cpu_with_pg_s", r["cpu_s"]) for r in runs])
    out.update(wall_s_all=[round(r["wall_s"], 2) for r in runs], events=runs[0]["events"],
               others_cores=[r["others_cores"] for r in runs], busy_before=[r["busy_before"] for r in runs])
    if "postgres" in runs[0]:
        out["postgres"] = {k: median([r["postgres"][k] for r in runs]) for k in runs[0]["postgres"]}
    return out


def measure_ingest(quick: bool, repeats: int, baseline: str | None = BASELINE) -> dict:
    base = genlogs.QUICK if quick else genlogs.FULL
    sizes = [replace(base, steps=base.steps // 4), replace(base, steps=base.steps // 2), base]
    corpora = [genlogs.ensure_logdir(p, verbose=False) for p in sizes]
    for d, _ in corpora:
        warm_cache(d)
    tree = baseline_tree(baseline) if baseline else None
    work = OUT / "tmp"
    work.mkdir(parents=True, exist_ok=True)
    groups: list[dict[tuple[int, str], dict]] = []
    attempt = 0
    while sum(_clean(g) for g in groups) < repeats and attempt < 2 * repeats:
        group = {}  # one repeat: every variant at every size, interleaved (noise hits all alike)
        for i, (logdir, manifest) in enumerate(corpora):
            variants = ["sqlite", "postgresql"] + ([f"sqlite@{baseline}"] if tree and i == len(corpora) - 1 else [])
            for v in variants:
                r = group[(i, v)] = ingest_once(logdir, v, work, tree)
                pg = r.get("postgres")
                log(f"[scaleout] ingest #{attempt + 1} {manifest['records']:,} events {v}: {r['wall_s']:.2f} s, "
                    f"{r['events_per_s']:,.0f} events/s, tree peak RSS {r['tree_peak_rss_mb']:.0f} MB"
                    + (f", PostgreSQL backends peak RSS {pg['backend_peak_rss_mb']:.0f} MB (anon "
                       f"{pg['backend_peak_anon_mb']:.0f}), group PSS +{pg['group_pss_growth_mb']:.0f} MB, "
                       f"PG CPU {pg['group_cpu_s']:.1f} s" if pg else "")
                    + f"; busy before {r['busy_before']}, others {r['others_cores']} cores")
        groups.append(group)
        attempt += 1
    # keep the clean repeats; if too few, the least disturbed noisy ones fill in
    ranked = sorted(groups, key=lambda g: (not _clean(g), max(r["others_cores"] for r in g.values())))
    kept, dropped = ranked[:repeats], ranked[repeats:]
    runs: dict[tuple[int, str], list[dict]] = {}
    for g in (g for g in groups if any(g is k for k in kept)):  # in run order
        for key, r in g.items():
            runs.setdefault(key, []).append(r)
    out: dict = {"sizes": [], "baseline": baseline, "attempts": attempt,
                 "discarded_noisy": [{f"{k[0]}:{k[1]}": r["others_cores"] for k, r in g.items()} for g in dropped]}
    for i, (_, manifest) in enumerate(corpora):
        row = {"records": manifest["records"], "steps": sizes[i].steps, "bytes": manifest["bytes"]}
        for (j, v), rs in runs.items():
            if j == i:
                row[v] = {**_summ(rs), "raw": rs}
        out["sizes"].append(row)
    big = out["sizes"][-1]
    out["pg_vs_sqlite"] = big["postgresql"]["events_per_s"] / big["sqlite"]["events_per_s"]
    per_rep = [p["events_per_s"] / s["events_per_s"] for p, s in zip(big["postgresql"]["raw"], big["sqlite"]["raw"])]
    out["pg_vs_sqlite_per_repeat"] = [round(x, 3) for x in per_rep]
    out["pg_vs_sqlite_cpu"] = big["sqlite"]["cpu_s"] / big["postgresql"]["cpu_with_pg_s"]  # events per CPU-s
    if tree:
        b = big[f"sqlite@{baseline}"]
        out["sqlite_vs_baseline"] = big["sqlite"]["events_per_s"] / b["events_per_s"]
        out["sqlite_vs_baseline_per_repeat"] = [
            round(c["events_per_s"] / o["events_per_s"], 3) for c, o in zip(big["sqlite"]["raw"], b["raw"])]
    out["fit"] = {v: _fit([(row["records"], row[v]["wall_s"]) for row in out["sizes"]])
                  for v in ("sqlite", "postgresql")}
    return out


# -- the whole run ---------------------------------------------------------------------------
PARTS = ("ingest", "failover", "latency", "fanout")


def measure(quick: bool, repeats: int | None = None, only: tuple[str, ...] = PARTS,
            baseline: str | None = BASELINE, client_procs: int = 2) -> dict:
    from bench import scaleout_fanout
    from bench import scaleout_live as live

    repeats = repeats or (2 if quick else 3)
    res: dict = {"quick": quick, "repeats": repeats, "machine": machine_info(REPO),
                 "busy_at_start": round(cpu_busy(1.0), 2), "load_avg_at_start": os.getloadavg()}
    steps = {
        "ingest": lambda: measure_ingest(quick, repeats, baseline),
        "failover": lambda: live.measure_failover(PgDatabase, REDIS, 3 if quick else 5, log=log),
        "latency": lambda: live.measure_latency(PgDatabase, REDIS, quick, repeats, log=log),
        "fanout": lambda: scaleout_fanout.measure_fanout(PgDatabase, REDIS, quick, max(1, repeats - 1),
                                              client_procs=client_procs, log=log),
    }
    for name in PARTS:
        if name in only:
            t0 = time.perf_counter()
            try:
                res[name] = steps[name]()
            except Exception as exc:  # one failing part must not lose the others' figures
                log(f"[scaleout] {name} failed: {type(exc).__name__}: {exc}")
                res[name] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
            res[name + "_seconds"] = round(time.perf_counter() - t0, 1)
            res[name + "_when"] = {"commit": res["machine"]["commit"], "ended": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                   "load_avg_at_end": os.getloadavg()}
    res["load_avg_at_end"] = os.getloadavg()
    return res


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description="tsvis-live scale-out benchmarks (PostgreSQL + Redis)")
    ap.add_argument("--quick", action="store_true", help="small corpora, short runs, 100 fan-out clients")
    ap.add_argument("--repeats", type=int, default=None, help="repeats per measure (default 3, quick 2)")
    ap.add_argument("--only", default=",".join(PARTS),
                    help=f"comma-separated subset of {','.join(PARTS)}; updates just those parts of the results file")
    ap.add_argument("--baseline", default=BASELINE, help="git revision for the SQLite no-regression check ('' to skip)")
    ap.add_argument("--client-procs", type=int, default=2, help="processes holding the fan-out clients")
    args = ap.parse_args(argv)
    only = tuple(p for p in args.only.split(",") if p)
    if bad := set(only) - set(PARTS):
        ap.error(f"unknown part(s) {sorted(bad)}")
    res = measure(args.quick, args.repeats, only, args.baseline or None, args.client_procs)
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / ("scaleout-results-quick.json" if args.quick else "scaleout-results.json")
    if set(only) != set(PARTS) and out.exists():  # a subset re-measured: keep the other parts' figures
        res = {**json.loads(out.read_text()), **{k: v for k, v in res.items() if k.split("_")[0] in only}}
    out.write_text(json.dumps(res, indent=1, default=str))
    from bench.scaleout_report import render

    print(render(res))
    log(f"[scaleout] wrote {out}")
    return res


if __name__ == "__main__":
    main()
