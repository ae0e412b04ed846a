"""The dashboard page benchmark of issue 5, in real Chromium against a real server.

A page with 50 scalar charts x 5 runs x 10k points (bench.genlogs, cached in bench/out/),
then a writer process appends 1000 new points/s spread over all 250 series. Measured:

- time to first render: navigation -> every chart in the first viewport drawn with all 5 runs;
  and the time to have all 50 charts drawn when scrolling through the page;
- frame time while streaming (requestAnimationFrame deltas) and long tasks (> 50 ms,
  PerformanceObserver 'longtask') in steady state, after a warm-up;
- JS heap (after a forced GC, via the DevTools protocol) after the first render, after the
  steady phase and after "10 minutes-equivalent" of streaming: 600k points pushed at an
  accelerated rate (default 10k points/s for 60 s);
- graph layout of the 2,705-node graph (torch's trace of 300 nested blocks, the issue's graph):
  the page's own layout time (`data-layout-ms`) collapsed, one and two levels down and fully
  expanded, and the time from the click on "expand all" to the expanded graph drawn.

The machine's load average (1 minute) is noted beside each phase: other jobs share it.

    python -m bench.dashboard_bench [--quick] [--steady 30] [--accel-rate 10000] [--accel-seconds 60]
                                    [--graph-only | --no-graph]

Writes bench/out/dashboard-<time>.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.genlogs import OUT_DIR, GenParams, ensure_logdir, run_name, scalar_tag
from bench.server import Server

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
RUNS, TAGS = 5, 50

PAGE_PROBES = """
window.__longtasks = [];
window.__frames = [];
try {
  new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__longtasks.push([e.startTime, e.duration]); })
    .observe({ type: "longtask", buffered: true });
} catch (e) {}
(function loop(prev) {
  requestAnimationFrame((t) => { if (prev) window.__frames.push([t, t - prev]); if (window.__frames.length > 200000) window.__frames.length = 0; loop(t); });
})(0);
"""

VISIBLE_DRAWN = """
(runs) => {
  const cards = [...document.querySelectorAll('.scalar-card')];
  if (cards.length === 0) return false;
  const vh = window.innerHeight;
  const vis = cards.filter(c => { const r = c.getBoundingClientRect(); return r.bottom > 0 && r.top < vh; });
  return vis.length > 0 && vis.every(c => +c.dataset.runs === runs && c.dataset.rendered);
}
"""


def writer_main(logdir: str, rate: float, seconds: float, start_step: int, flush_ms: float = 50.0) -> None:
    """Append `rate` points/s over RUNS x TAGS series for `seconds` (a separate process)."""
    from tensorboard.compat.proto import event_pb2, summary_pb2

    from tsvis_live.formats.tfrecord import encode_record

    files = []
    now = time.time()
    for r in range(RUNS):
        d = Path(logdir, run_name(r))
        d.mkdir(parents=True, exist_ok=True)
        f = open(d / f"events.out.tfevents.{int(now)}.dashbench.{r}.{int(now * 1000) % 100000}", "wb")  # noqa: SIM115
        f.write(encode_record(event_pb2.Event(wall_time=now, file_version="brain.Event:2").SerializeToString()))
        files.append(f)
    names = [scalar_tag(j) for j in range(TAGS)]
    total = int(rate * seconds)
    per_step = RUNS * TAGS
    start = time.perf_counter()
    i = 0
    ticks = 0
    while i < total:
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        chunks: list[list[bytes]] = [[] for _ in range(RUNS)]
        while i < due:
            step, rest = divmod(i, per_step)
            r, j = divmod(rest, TAGS)
            v = summary_pb2.Summary.Value(tag=names[j], simple_value=float((step % 997) / 997.0))
            ev = event_pb2.Event(wall_time=time.time(), step=start_step + step, summary=summary_pb2.Summary(value=[v]))
            chunks[r].append(encode_record(ev.SerializeToString()))
            i += 1
        for r, c in enumerate(chunks):
            if c:
                files[r].write(b"".join(c))
                files[r].flush()
        ticks += 1
        time.sleep(max(0.0, start + ticks * flush_ms / 1000 - time.perf_counter()))
    for f in files:
        f.close()


def stream(logdir: Path, rate: float, seconds: float, start_step: int) -> mp.Process:
    p = mp.get_context("spawn").Process(target=writer_main, args=(str(logdir), rate, seconds, start_step))
    p.start()
    return p


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q / 100 * len(xs)))]


def heap_mb(cdp) -> float:
    cdp.send("HeapProfiler.collectGarbage")
    return cdp.send("Runtime.getHeapUsage")["usedSize"] / 1e6


def frame_stats(page, since_ms: float) -> dict:
    frames = page.evaluate("t => window.__frames.filter(f => f[0] >= t).map(f => f[1])", since_ms)
    longs = page.evaluate("t => window.__longtasks.filter(f => f[0] >= t).map(f => f[1])", since_ms)
    return {
        "frames": len(frames),
        "frame_ms_p50": round(pct(frames, 50), 2), "frame_ms_p95": round(pct(frames, 95), 2),
        "frame_ms_p99": round(pct(frames, 99), 2), "frame_ms_max": round(max(frames, default=0), 2),
        "fps": round(1000 / statistics.mean(frames), 1) if frames else 0,
        "long_tasks": len(longs), "long_task_ms_max": round(max(longs, default=0), 1),
        "long_task_ms_total": round(sum(longs), 1),
    }


def top_functions(profile: dict, n: int = 15) -> list[tuple[str, float]]:
    """Self time per function (ms) of a DevTools CPU profile."""
    nodes = {nd["id"]: nd for nd in profile["nodes"]}
    dt: dict[int, float] = {}
    for sid, delta in zip(profile.get("samples", []), profile.get("timeDeltas", [])):
        dt[sid] = dt.get(sid, 0.0) + delta / 1000
    agg: dict[str, float] = {}
    for sid, ms in dt.items():
        cf = nodes[sid]["callFrame"]
        key = f"{cf['functionName'] or '(anon)'} {cf['url'].rsplit('/', 1)[-1]}:{cf['lineNumber']}"
        agg[key] = agg.get(key, 0.0) + ms
    return sorted(agg.items(), key=lambda kv: -kv[1])[:n]


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def write_big_graph(logdir: Path) -> None:
    """The issue's 2.7k-node graph: torch's trace of 300 nested Linear+ReLU blocks."""
    import torch
    from torch.utils.tensorboard import SummaryWriter

    big = torch.nn.Sequential(*[torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU()) for _ in range(300)])
    w = SummaryWriter(str(logdir / "zbigmodel"))
    w.add_graph(big, torch.zeros(1, 4))
    w.close()


def graph_layout(log=print) -> dict:
    """Layout times of the 2,705-node graph in the Graphs view, collapsed to fully expanded."""
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="dashbench-graph-"))
    write_big_graph(work / "logdir")
    server = Server(work / "logdir", work / "data")
    out: dict = {"load1_before": load1()}
    try:
        server.wait_until(lambda s: json.loads(s.get("/api/live/status")[1]).get("data", {}).get("ready") is True,
                          timeout=600)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            t0 = time.perf_counter()
            page.goto(f"http://127.0.0.1:{server.port}/#graphs")
            page.wait_for_function("() => +document.querySelector('.graph-canvas')?.dataset.total > 2000 &&"
                                   " document.querySelector('.graph-canvas').dataset.rendered", timeout=120_000)
            out["nodes"] = int(page.locator(".graph-canvas").get_attribute("data-total"))
            out["first_draw_s"] = round(time.perf_counter() - t0, 2)
            steps = []
            for step in ("collapsed", "expand one level", "expand one level", "expand all"):
                t1 = time.perf_counter()
                if step != "collapsed":
                    before = page.locator(".graph-canvas").get_attribute("data-boxes")
                    page.get_by_role("button", name=step).click()
                    page.wait_for_function("n => document.querySelector('.graph-canvas').dataset.boxes !== n",
                                           arg=before, timeout=300_000)
                    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
                el = page.locator(".graph-canvas")
                steps.append({"step": step, "boxes": int(el.get_attribute("data-boxes")),
                              "layout_ms": int(el.get_attribute("data-layout-ms")),
                              "click_to_drawn_s": round(time.perf_counter() - t1, 2) if step != "collapsed" else None})
                log(f"[dashbench] graph {step}: {steps[-1]}")
            out["steps"] = steps
            browser.close()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    out["load1_after"] = load1()
    return out


def first_card_last_step(page) -> int:
    return page.evaluate(
        "() => { const c = document.querySelector('.scalar-card'); const s = JSON.parse(c.dataset.lastSteps || '{}');"
        " return Math.min(...Object.values(s)); }")


def run(quick: bool, steady: float, accel_rate: float, accel_seconds: float, log=print, profile: bool = False) -> dict:
    from playwright.sync_api import sync_playwright

    steps = 2_000 if quick else 10_000
    params = GenParams(runs=RUNS, scalar_tags=TAGS, steps=steps, hist_tags=0, images_per_run=0)
    cached, manifest = ensure_logdir(params)
    work = Path(tempfile.mkdtemp(prefix="dashbench-"))
    logdir = work / "logdir"
    shutil.copytree(cached, logdir)
    server = Server(logdir, work / "data")
    result: dict = {"params": {"runs": RUNS, "tags": TAGS, "points_per_series": steps, "steady_rate": 1000,
                               "steady_seconds": steady, "accel_rate": accel_rate, "accel_seconds": accel_seconds},
                    "load1": {"start": load1()}}
    try:
        t_ready = server.wait_until(
            lambda s: json.loads(s.get("/api/live/status")[1]).get("data", {}).get("ready") is True, timeout=600)
        result["server_ready_s"] = round(t_ready, 2)
        log(f"[dashbench] server ready after {t_ready:.1f} s ({manifest['scalars']:,} scalars)")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.add_init_script(PAGE_PROBES)
            cdp = page.context.new_cdp_session(page)
            url = f"http://127.0.0.1:{server.port}/#scalars"
            t0 = time.perf_counter()
            page.goto(url)
            page.wait_for_function(VISIBLE_DRAWN, arg=RUNS, timeout=120_000, polling="raf")
            result["first_render_s"] = round(time.perf_counter() - t0, 3)
            n_cards = page.locator(".scalar-card").count()
            result["charts"] = n_cards
            log(f"[dashbench] first viewport drawn in {result['first_render_s']} s ({n_cards} charts on the page)")
            # Scroll through the page: every chart fetches and draws when it comes into view.
            t1 = time.perf_counter()
            height = page.evaluate("() => document.querySelector('#main').scrollHeight")
            y = 0
            while y < height:
                y += 800
                page.evaluate("y => document.querySelector('#main').scrollTo(0, y)", y)
                page.wait_for_function(VISIBLE_DRAWN, arg=RUNS, timeout=60_000, polling="raf")
            page.wait_for_function(
                "runs => [...document.querySelectorAll('.scalar-card')].every(c => +c.dataset.runs === runs)",
                arg=RUNS, timeout=60_000)
            result["all_charts_drawn_s"] = round(result["first_render_s"] + time.perf_counter() - t1, 3)
            page.evaluate("() => document.querySelector('#main').scrollTo(0, 0)")
            page.wait_for_function(VISIBLE_DRAWN, arg=RUNS, timeout=60_000)
            result["heap_mb_after_render"] = round(heap_mb(cdp), 1)
            result["load1"]["after_render"] = load1()
            log(f"[dashbench] all charts drawn after {result['all_charts_drawn_s']} s; heap {result['heap_mb_after_render']} MB")

            # Steady state: 1000 points/s.
            before = first_card_last_step(page)
            w = stream(logdir, 1000, steady, steps)
            warm = min(5.0, steady / 3)
            time.sleep(warm)  # warm-up, then measure
            since = page.evaluate("() => performance.now()")
            if profile:
                cdp.send("Profiler.enable")
                cdp.send("Profiler.start")
            w.join()
            if profile:
                prof = cdp.send("Profiler.stop")["profile"]
                for name, ms in top_functions(prof):
                    log(f"[dashbench] profile {ms:8.1f} ms  {name}")
            time.sleep(1.0)
            st = frame_stats(page, since)
            after = first_card_last_step(page)
            st["chart_steps_advanced"] = after - before
            st["messages"] = page.evaluate("() => window.tsvisLive.live.messages")
            result["steady"] = st
            result["heap_mb_after_steady"] = round(heap_mb(cdp), 1)
            result["load1"]["after_steady"] = load1()
            log(f"[dashbench] steady 1000 pts/s: {st}")

            # 10 minutes-equivalent: 600k points at an accelerated rate.
            start_step = steps + int(1000 * steady) // (RUNS * TAGS) + 1
            since = page.evaluate("() => performance.now()")
            w = stream(logdir, accel_rate, accel_seconds, start_step)
            w.join()
            time.sleep(3.0)
            acc = frame_stats(page, since)
            acc["chart_last_step"] = first_card_last_step(page)
            acc["expected_last_step"] = start_step + int(accel_rate * accel_seconds) // (RUNS * TAGS) - 1
            result["accelerated"] = acc
            result["heap_mb_after_10min_equiv"] = round(heap_mb(cdp), 1)
            result["load1"]["after_accelerated"] = load1()
            result["points_held"] = page.evaluate(
                "() => [...document.querySelectorAll('.scalar-card')].reduce((a, c) => a + (+c.dataset.points || 0), 0)")
            log(f"[dashbench] accelerated {accel_rate:.0f} pts/s x {accel_seconds:.0f} s: {acc}")
            log(f"[dashbench] heap after 10-minute equivalent: {result['heap_mb_after_10min_equiv']} MB")
            page.screenshot(path=str(OUT_DIR / "dashboard-bench.png"))
            browser.close()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return result


def table(r: dict) -> str:
    rows = []
    if "steady" in r:
        s, a, ld = r["steady"], r["accelerated"], r["load1"]
        rows += [
            ("page", f"{r['charts']} charts x {RUNS} runs x {r['params']['points_per_series']:,} points"),
            ("time to first render (first viewport)", f"{r['first_render_s']} s (load {ld['start']})"),
            ("all 50 charts drawn (scrolling through)", f"{r['all_charts_drawn_s']} s (load {ld['after_render']})"),
            ("steady 1000 pts/s: frame time p50 / p95 / p99 / max", f"{s['frame_ms_p50']} / {s['frame_ms_p95']} / {s['frame_ms_p99']} / {s['frame_ms_max']} ms ({s['fps']} fps; load {ld['after_steady']})"),
            ("steady: long tasks > 50 ms", f"{s['long_tasks']} (max {s['long_task_ms_max']} ms)"),
            ("accelerated: frame p95 / long tasks", f"{a['frame_ms_p95']} ms / {a['long_tasks']} (max {a['long_task_ms_max']} ms; load {ld['after_accelerated']})"),
            ("JS heap after first render / steady / 10-min equivalent", f"{r['heap_mb_after_render']} / {r['heap_mb_after_steady']} / {r['heap_mb_after_10min_equiv']} MB"),
            ("chart caught up (last step / expected)", f"{a['chart_last_step']} / {a['expected_last_step']}"),
        ]
    g = r.get("graph")
    if g:
        for st in g["steps"]:
            click = f", click to drawn {st['click_to_drawn_s']} s" if st["click_to_drawn_s"] is not None else ""
            rows.append((f"graph ({g['nodes']:,} nodes) {st['step']}: layout", f"{st['layout_ms']} ms, {st['boxes']} boxes{click}"))
        rows.append(("graph: load average before / after", f"{g['load1_before']} / {g['load1_after']}"))
    return "| measure | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="2k points per series instead of 10k")
    ap.add_argument("--steady", type=float, default=30.0, help="seconds of streaming at 1000 points/s")
    ap.add_argument("--accel-rate", type=float, default=10_000.0)
    ap.add_argument("--accel-seconds", type=float, default=60.0)
    ap.add_argument("--profile", action="store_true", help="print the top JS functions of the steady phase")
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--graph-only", action="store_true", help="only the graph layout of the 2.7k-node graph")
    which.add_argument("--no-graph", action="store_true", help="skip the graph layout")
    a = ap.parse_args(argv)
    r = {} if a.graph_only else run(a.quick, a.steady, a.accel_rate, a.accel_seconds, profile=a.profile)
    if not a.no_graph:
        r["graph"] = graph_layout()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"dashboard-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(r, indent=1))
    print(table(r))
    print(f"\n(raw: {out})")


if __name__ == "__main__":
    main()
