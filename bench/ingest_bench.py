"""End-to-end ingest of tsvis-live, measured as a user runs it.

`python -m tsvis_live.cli ingest --logdir DIR --data-dir TMP --json` in a fresh subprocess per
repeat, each into an empty data directory; the command prints one final JSON line with at
least {"runs", "files", "events", "points", "skipped", "seconds", "bytes"}. Measured here:
wall time from spawn to exit (interpreter start, imports and migrations included), CPU time,
peak RSS (wait4 ru_maxrss, and the sampled summed RSS and PSS of the whole process tree, as
it spawns workers) and the size of the data directory against the event-file bytes. Then the same
command again on the unchanged logdir and the same data directory: it must parse nothing.

    python -m bench.ingest_bench LOGDIR [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.procs import (
    PYTHON,
    ProcResult,
    clean_repeats,
    dir_bytes,
    median,
    run_measured,
    wait_quiet,
)

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = Path(__file__).resolve().parent / "out"


@dataclass
class IngestRun:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float  # max of wait4 ru_maxrss and the sampled tree RSS
    maxrss_mb: float
    tree_peak_mb: float
    pss_mb: float  # sampled peak of the tree's summed PSS (workers' shared pages counted once)
    db_bytes: int
    summary: dict  # the CLI's JSON line
    events_per_s: float  # events / wall (end to end)
    events_per_s_own: float | None  # events / the CLI's own "seconds"
    second: dict = field(default_factory=dict)  # the unchanged-logdir re-run
    busy_before: float | None = None  # fraction of the machine busy just before (shared box)
    others_cores: float = 0.0  # cores the rest of the machine kept busy during the run


class IngestUnavailable(RuntimeError):
    """The ingest command does not exist yet (or failed): nothing to measure."""


def ingest_cmd(logdir: Path, data_dir: Path) -> list[str]:
    return [PYTHON, "-m", "tsvis_live.cli", "ingest", "--logdir", str(logdir),
            "--data-dir", str(data_dir), "--json"]


def _run(logdir: Path, data_dir: Path) -> tuple[ProcResult, dict]:
    r = run_measured(ingest_cmd(logdir, data_dir), cwd=REPO, timeout=3600)
    lines = r.json_lines()
    if r.returncode != 0 or not lines:
        tail = [ln for ln in r.stderr.splitlines() if ln.strip()][-1:] or ["(no stderr)"]
        raise IngestUnavailable(f"ingest exited {r.returncode} without a JSON summary: {tail[0][:160]}")
    return r, json.loads(lines[-1])


def measure_once(logdir: Path, work: Path, second_run: bool = True) -> IngestRun:
    data_dir = Path(tempfile.mkdtemp(prefix="ingest-", dir=work))
    try:
        r, s = _run(logdir, data_dir)
        events = int(s.get("events", 0))
        own = float(s["seconds"]) if s.get("seconds") else None
        run = IngestRun(
            wall_s=r.wall, cpu_s=r.cpu, peak_rss_mb=max(r.maxrss_mb, r.tree_peak_mb),
            maxrss_mb=r.maxrss_mb, tree_peak_mb=r.tree_peak_mb, pss_mb=r.tree_pss_mb, db_bytes=dir_bytes(data_dir),
            summary=s, events_per_s=events / r.wall if r.wall else 0.0,
            events_per_s_own=events / own if own else None, others_cores=r.others_share,
        )
        if second_run:
            r2, s2 = _run(logdir, data_dir)
            run.second = {"wall_s": r2.wall, "cpu_s": r2.cpu, "peak_rss_mb": max(r2.maxrss_mb, r2.tree_peak_mb),
                          "summary": s2, "db_bytes": dir_bytes(data_dir)}
        return run
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def measure_ingest(logdir: Path, repeats: int, log=print) -> dict:
    work = OUT_DIR / "tmp"
    work.mkdir(parents=True, exist_ok=True)

    def one(i: int) -> IngestRun:
        busy = wait_quiet()
        run = measure_once(logdir, work, second_run=True)
        run.busy_before = round(busy, 2)
        sec = run.second
        log(f"[ingest] #{i + 1}: {run.wall_s:.2f} s wall, {run.events_per_s:,.0f} events/s, "
            f"peak RSS {run.peak_rss_mb:.0f} MB (main {run.maxrss_mb:.0f}, PSS {run.pss_mb:.0f}), db {run.db_bytes / 1e6:.1f} MB; "
            f"re-run {sec.get('wall_s', float('nan')):.2f} s, events {sec.get('summary', {}).get('events')} "
            f"(others used {run.others_cores:.2f} cores meanwhile)")
        return run

    runs, discarded = clean_repeats(one, lambda r: r.others_cores, repeats)
    s0 = runs[0].summary
    seconds = [r.second for r in runs if r.second]
    own = [r.events_per_s_own for r in runs if r.events_per_s_own]
    return {
        "name": "tsvis-live", "repeats": repeats,
        "events": int(s0.get("events", 0)), "points": s0.get("points"),
        "skipped": s0.get("skipped"), "runs": s0.get("runs"), "files": s0.get("files"),
        "bytes": s0.get("bytes"),
        "wall_s": median([r.wall_s for r in runs]),
        "cpu_s": median([r.cpu_s for r in runs]),
        "own_seconds": median([float(r.summary.get("seconds", 0)) for r in runs]),
        "events_per_s": median([r.events_per_s for r in runs]),
        "events_per_s_own": median(own) if own else None,
        "peak_rss_mb": median([r.peak_rss_mb for r in runs]),
        "peak_pss_mb": median([r.pss_mb for r in runs]),
        "main_maxrss_mb": median([r.maxrss_mb for r in runs]),
        "db_bytes": median([r.db_bytes for r in runs]),
        "wall_s_all": [round(r.wall_s, 3) for r in runs],
        "wall_s_min": min(r.wall_s for r in runs),
        "busy_before": [r.busy_before for r in runs],
        "others_cores": [round(r.others_cores, 2) for r in runs],
        "second_run": {
            "wall_s": median([s["wall_s"] for s in seconds]) if seconds else None,
            "events": [s["summary"].get("events") for s in seconds],
            "bytes": [s["summary"].get("bytes") for s in seconds],
            "peak_rss_mb": median([s["peak_rss_mb"] for s in seconds]) if seconds else None,
        },
        "discarded_noisy": [{"wall_s": r.wall_s, "others_cores": r.others_cores} for r in discarded],
        "raw": [asdict(r) for r in runs],
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Measure tsvis-live ingest on a logdir")
    ap.add_argument("logdir")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    try:
        res = measure_ingest(Path(args.logdir), args.repeats, log=lambda s: print(s, file=sys.stderr))
    except IngestUnavailable as e:
        print(f"ingest not measurable: {e}", file=sys.stderr)
        sys.exit(2)
    print(json.dumps({k: v for k, v in res.items() if k != "raw"}, indent=1))


if __name__ == "__main__":
    main()
