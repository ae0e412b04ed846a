"""The peers, measured on the same logdir as tsvis-live.

(a) TensorBoard's Python loader: `plugin_event_multiplexer.EventMultiplexer` keeping every
    point (size guidance 0), `AddRunsFromDirectory` + `Reload()`, in a fresh subprocess. With no
    TensorFlow installed (the usual case next to PyTorch), it reads records through
    `tensorboard.compat.tensorflow_stub`, whose CRC-32C is pure Python.
(b) RustBoard, the `tensorboard_data_server` binary TensorBoard ships:
    `--reload once --samples-per-plugin scalars=all,histograms=all -v`; load time parsed from
    its "Finished load cycle (...)" log line, peak RSS = VmHWM read at that moment, then killed.
    By default it checks record CRCs only when a record fails to parse (`--no-checksum`);
    `--checksum` is measured too because tsvis-live checks every CRC.

    python -m bench.peers LOGDIR [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.procs import PYTHON, clean_repeats, median, run_measured, wait_quiet

FINISHED_RE = re.compile(r"Finished load cycle \(([\d.]+)(ns|µs|us|ms|s)\)")
UNITS = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}


@dataclass
class PeerRun:
    name: str
    load_s: float  # time to load everything (peer's own measure)
    wall_s: float  # process start to loaded (includes imports / startup)
    cpu_s: float
    peak_rss_mb: float
    peak_pss_mb: float
    events: int | None  # points the peer holds after loading (None if it cannot tell)
    events_per_s: float | None
    extra: dict


def rust_binary() -> str:
    import tensorboard_data_server

    path = tensorboard_data_server.server_binary()
    if not path:
        raise RuntimeError("tensorboard_data_server has no binary for this platform")
    return str(path)


def parse_rust_load(stderr: str) -> float | None:
    m = FINISHED_RE.search(stderr)
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


def measure_rust(logdir: Path, checksum: bool = False, expected_events: int | None = None) -> PeerRun:
    cmd = [
        rust_binary(), "--logdir", str(logdir), "--reload", "once",
        "--samples-per-plugin", "scalars=all,histograms=all,images=all",
        "-v", "--port", "0", "--host", "127.0.0.1",
    ]
    if checksum:
        cmd.append("--checksum")
    r = run_measured(cmd, stop_when=lambda line: "Finished load cycle" in line, timeout=1800)
    load = parse_rust_load(r.stderr)
    if load is None:
        raise RuntimeError(f"rust data server did not report a load cycle:\n{r.stderr[-2000:]}")
    name = "rustboard --checksum" if checksum else "rustboard"
    return PeerRun(
        name=name, load_s=load, wall_s=r.stop_at or r.wall, cpu_s=r.cpu,
        peak_rss_mb=r.hwm_mb or r.maxrss_mb, peak_pss_mb=r.tree_pss_mb,
        events=expected_events, events_per_s=(expected_events / load) if expected_events else None,
        extra={"checksum": checksum, "others_cores": round(r.others_share, 2)},
    )


def tb_child(logdir: str) -> None:
    """Runs inside the measured subprocess: load everything with the Python multiplexer."""
    import resource

    t0 = time.perf_counter()
    from tensorboard.backend.event_processing import event_accumulator as ea
    from tensorboard.backend.event_processing import plugin_event_multiplexer as pem

    import_s = time.perf_counter() - t0
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    keep_all = {ea.SCALARS: 0, ea.HISTOGRAMS: 0, ea.TENSORS: 0, ea.IMAGES: 0, ea.AUDIO: 0}
    per_plugin = {"scalars": 0, "histograms": 0, "images": 0, "audio": 0, "text": 0}
    t1 = time.perf_counter()
    mux = pem.EventMultiplexer(size_guidance=keep_all, tensor_size_guidance=per_plugin)
    mux.AddRunsFromDirectory(logdir)
    mux.Reload()
    load_s = time.perf_counter() - t1
    events, by_plugin = 0, {}
    for run in mux.Runs():
        acc = mux.GetAccumulator(run)
        for tag in acc.Tags()["tensors"]:
            n = len(acc.Tensors(tag))
            plugin = acc.SummaryMetadata(tag).plugin_data.plugin_name
            by_plugin[plugin] = by_plugin.get(plugin, 0) + n
            events += n
    print(json.dumps({
        "load_s": load_s, "import_s": import_s, "events": events, "by_plugin": by_plugin,
        "runs": len(mux.Runs()), "base_rss_mb": base_rss,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }), flush=True)


def measure_tb_python(logdir: Path) -> PeerRun:
    r = run_measured([PYTHON, "-m", "bench.peers", "--tb-child", str(logdir)],
                     cwd=Path(__file__).resolve().parent.parent, timeout=7200)
    lines = r.json_lines()
    if r.returncode != 0 or not lines:
        raise RuntimeError(f"TensorBoard loader failed ({r.returncode}):\n{r.stderr[-2000:]}")
    d = json.loads(lines[-1])
    return PeerRun(
        name="tensorboard-python", load_s=d["load_s"], wall_s=r.wall, cpu_s=r.cpu,
        peak_rss_mb=r.maxrss_mb, peak_pss_mb=r.tree_pss_mb, events=d["events"], events_per_s=d["events"] / d["load_s"],
        extra={"by_plugin": d["by_plugin"], "runs": d["runs"], "import_s": d["import_s"],
               "rss_after_import_mb": d["base_rss_mb"], "others_cores": round(r.others_share, 2)},
    )


def _others(run: PeerRun) -> float:
    return float(run.extra.get("others_cores") or 0.0)


def summarize(runs: list[PeerRun], discarded: list[PeerRun] | None = None) -> dict:
    """Medians over repeats of one peer."""
    first = runs[0]
    eps = [r.events_per_s for r in runs if r.events_per_s]
    return {
        "name": first.name, "repeats": len(runs),
        "load_s": median([r.load_s for r in runs]),
        "wall_s": median([r.wall_s for r in runs]),
        "cpu_s": median([r.cpu_s for r in runs]),
        "peak_rss_mb": median([r.peak_rss_mb for r in runs]),
        "peak_pss_mb": median([r.peak_pss_mb for r in runs]),
        "events": first.events,
        "events_per_s": median(eps) if eps else None,
        "load_s_all": [round(r.load_s, 3) for r in runs],
        "load_s_min": min(r.load_s for r in runs),
        "busy_before": [r.extra.get("busy_before") for r in runs],
        "others_cores": [r.extra.get("others_cores") for r in runs],
        "extra": first.extra,
        "discarded_noisy": [{"load_s": r.load_s, "others_cores": _others(r)} for r in discarded or []],
        "raw": [asdict(r) for r in runs],
    }


def measure_peers(logdir: Path, repeats: int, expected_events: int | None,
                  tb_repeats: int | None = None, log=print) -> dict[str, dict]:
    out: dict[str, dict] = {}

    def tb(i: int) -> PeerRun:
        busy = wait_quiet()
        run = measure_tb_python(logdir)
        run.extra["busy_before"] = round(busy, 2)
        log(f"[peers] tensorboard-python #{i + 1}: {run.load_s:.2f} s, {run.events:,} events, "
            f"{run.peak_rss_mb:.0f} MB, cpu {run.cpu_s:.1f} s (others used {run.extra['others_cores']:.2f} cores meanwhile)")
        return run

    n_tb = tb_repeats if tb_repeats is not None else repeats
    if n_tb > 0:
        tb_runs, noisy = clean_repeats(tb, _others, n_tb, extra=1)
        out["tensorboard-python"] = summarize(tb_runs, noisy)
        expected_events = expected_events or tb_runs[0].events
    for checksum in (False, True):

        def rust(i: int, checksum: bool = checksum) -> PeerRun:
            busy = wait_quiet()
            run = measure_rust(logdir, checksum=checksum, expected_events=expected_events)
            run.extra["busy_before"] = round(busy, 2)
            log(f"[peers] {run.name} #{i + 1}: {run.load_s:.3f} s, {run.peak_rss_mb:.0f} MB, "
                f"cpu {run.cpu_s:.2f} s (others used {run.extra['others_cores']:.2f} cores meanwhile)")
            return run

        runs, noisy = clean_repeats(rust, _others, repeats)
        out[runs[0].name] = summarize(runs, noisy)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Measure TensorBoard's loaders on a logdir")
    ap.add_argument("logdir", nargs="?")
    ap.add_argument("--tb-child", metavar="LOGDIR", help=argparse.SUPPRESS)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    if args.tb_child:
        tb_child(args.tb_child)
        return
    if not args.logdir:
        ap.error("logdir required")
    res = measure_peers(Path(args.logdir), args.repeats, None, log=lambda s: print(s, file=sys.stderr))
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "raw"} for k, v in res.items()}, indent=1))


if __name__ == "__main__":
    main()
