"""Turn results.json into Markdown tables, printed and spliced into docs/benchmarks.md.

Only the text between the `<!-- bench:begin -->` and `<!-- bench:end -->` markers of
docs/benchmarks.md is regenerated; the notes around it are hand-written and kept.
"""

from __future__ import annotations

from pathlib import Path

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
NOT_MEASURED = "not yet measured"


def _f(x: float | None, fmt: str = "{:,.2f}") -> str:
    return NOT_MEASURED if x is None else fmt.format(x)


def _ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "-"
    return f"{a / b:.2f}x"


def _noise(xs: list | None) -> str:
    xs = [x for x in (xs or []) if x is not None]
    return ", ".join(f"{x:.2f}" for x in xs) if xs else "-"


def _table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def machine_md(m: dict) -> str:
    return (
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, Linux {m['kernel']}; "
        f"Python {m['python']}, tensorboard {m['tensorboard']}, tensorboard-data-server "
        f"{m['tensorboard_data_server']}, protobuf {m['protobuf']}, SQLite {m['sqlite']}; "
        f"{m['date']}, commit {m['commit']}."
    )


def logdir_md(g: dict) -> str:
    p = g["params"]
    return (
        f"Logdir (`bench/genlogs.py`, key {g['key']}): {g['runs']} runs, {g['files']} event files, "
        f"{g['bytes'] / 1e6:.1f} MB; {g['scalars']:,} scalar events ({p['scalar_tags']} tags x "
        f"{p['steps']:,} steps per run), {g['histograms']:,} histogram events ({p['hist_tags']} tags "
        f"every {p['hist_every']} steps, {p['buckets']} buckets), {g['images']} images. "
        "Every third run is TF2-style (tensor summaries), the others tensorboardX/PyTorch-style; odd "
        "runs are split into two files."
    )


def ingest_md(res: dict) -> str:
    ing = res.get("ingest")
    peers = res.get("peers", {})
    events = res["logdir"]["scalars"] + res["logdir"]["histograms"] + res["logdir"]["images"]
    header = ["loader", "time s (median)", "runs (s)", "events/s", "peak RSS MB", "peak PSS MB", "CPU s",
              "tsvis-live speed ratio", "tsvis-live RSS ratio", "others' cores busy meanwhile"]
    rows = []
    ours_eps = events / ing["wall_s"] if ing and "error" not in ing else None
    ours_rss = ing["peak_rss_mb"] if ours_eps else None
    if ours_eps:
        rows.append([
            "**tsvis-live ingest** (end to end, process wall)", _f(ing["wall_s"]),
            ", ".join(f"{x:.2f}" for x in ing["wall_s_all"]), _f(ours_eps, "{:,.0f}"),
            _f(ing["peak_rss_mb"], "{:,.0f}"), _f(ing.get("peak_pss_mb"), "{:,.0f}"), _f(ing["cpu_s"]), "1.00x", "1.00x", _noise(ing.get("others_cores")),
        ])
    else:
        rows.append(["**tsvis-live ingest**", NOT_MEASURED + (f" ({ing['error']})" if ing else ""),
                     "", "", "", "", "", "", "", ""])
    for name, p in peers.items():
        eps = events / p["load_s"]
        rows.append([
            name, _f(p["load_s"], "{:,.3f}"), ", ".join(f"{x:.3f}" for x in p["load_s_all"]),
            _f(eps, "{:,.0f}"), _f(p["peak_rss_mb"], "{:,.0f}"), _f(p.get("peak_pss_mb"), "{:,.0f}"), _f(p["cpu_s"]),
            _ratio(ours_eps, eps), _ratio(ours_rss, p["peak_rss_mb"]), _noise(p.get("others_cores")),
        ])
    parts = [_table(header, rows), "",
             "Speed ratio = tsvis-live events/s / the loader's events/s (> 1: tsvis-live faster). "
             "RSS ratio = tsvis-live peak RSS / the loader's (< 1: tsvis-live smaller). "
             "tsvis-live's peak RSS is the sampled sum over its process tree (main process + decode "
             "workers), which counts shared library pages once per process; PSS (sampled from "
             "smaps_rollup at a ~1% duty cycle, so it can miss a short peak) splits shared pages fairly. "
             "Peers' RSS: VmHWM / ru_maxrss (exact). "
             f"events/s = the logdir's {events:,} summary events / time, for every row. "
             "tsvis-live's time is the whole process (interpreter start, imports, migrations, "
             "parse, commit); the peers' times are their own load measure only (TensorBoard Python: "
             "`AddRunsFromDirectory` + `Reload()`; RustBoard: its `Finished load cycle` line), "
             "which favours the peers. Page cache warm for all."]
    redone = [f"{name} {len(d['discarded_noisy'])} ({', '.join(str(round(x.get('wall_s', x.get('load_s', 0)), 2)) + ' s' for x in d['discarded_noisy'])})"
              for name, d in [("tsvis-live", ing or {}), *peers.items()] if d.get("discarded_noisy")]
    parts.append("")
    parts.append("Repeats during which other processes kept >= 0.5 core busy were redone (kept in "
                 "results.json, not in the medians): " + ("; ".join(redone) if redone else "none") + ".")
    if ours_eps:
        sec = ing["second_run"]
        db = ing["db_bytes"]
        src = res["logdir"]["bytes"]
        parts += ["", _table(["tsvis-live", "value", "target", "met"], [
            ["events persisted / s", f"{ours_eps:,.0f}", ">= 250,000", "yes" if ours_eps >= 250_000 else "**no**"],
            ["events / s by its own clock (excl. start-up)", f"{events / ing['own_seconds']:,.0f} ({ing['own_seconds']:.2f} s)", "", ""],
            ["peak RSS (process tree)", f"{ing['peak_rss_mb']:.0f} MB (main process alone {ing.get('main_maxrss_mb', 0):.0f} MB; "
             f"tree PSS {ing.get('peak_pss_mb', 0):.0f} MB)", "<= 250 MB", "yes" if ing["peak_rss_mb"] <= 250 else "**no**"],
            ["database size", f"{db / 1e6:.1f} MB ({db / src:.2f}x the {src / 1e6:.1f} MB of event files)",
             "<= event files", "yes" if db <= src else "**no**"],
            ["points stored (records read) / skipped", f"{ing['points']:,} ({ing['events']:,}) / {ing['skipped']}",
             f"{events:,}", "yes" if ing["points"] == events else "**no**"],
            ["second run, unchanged logdir", f"{_f(sec['wall_s'])} s, events parsed {sec['events']}, bytes {sec['bytes']}",
             "no parsing", "yes" if sec["events"] and all(e == 0 for e in sec["events"]) else "check"],
        ])]
    return "\n".join(parts)


def api_md(res: dict) -> str:
    api = res.get("api") or {}
    if not api or api.get("error"):
        why = f" ({api['error']})" if api.get("error") else ""
        return f"API benchmarks (issue 3): **{NOT_MEASURED}**{why}."
    rows = []

    def failed(key: str, label: str) -> bool:
        item = api.get(key)
        if item is None or "error" in item:
            rows.append([label, f"**{NOT_MEASURED}**" + (f" ({item['error'][:120]})" if item else ""), "", ""])
            return True
        return False

    label = "restart-to-ready (process start to complete `/api/scalar`)"
    if not failed("restart", label):
        r = api["restart"]
        peers = "; ".join(f"{k}: {v:.2f} s ({v / r['ours_s']:.1f}x longer)" for k, v in r.get("peers", {}).items())
        rows.append([label, f"{r['ours_s']:.3f} s (runs {', '.join(map(str, r['all_s']))}; "
                     f"server peak RSS {r['server_peak_rss_mb']:.0f} MB; others' cores busy {_noise(r.get('others_cores'))})", "< 1 s",
                     "time to (re)load everything from process start: " + (peers or "-")])
    label = "`/api/scalar` on a 1M-point series, downsampled to <= 2000 (p50 / p90)"
    if not failed("scalar_1m", label):
        s = api["scalar_1m"]
        other = s.get("live_scalars") or {**s.get("api_scalar_max_points", {}), "endpoint": "/api/scalar?max_points=2000"}
        rows.append([label, f"{s['p50_ms']:.1f} / {s['p90_ms']:.1f} ms (`{s['endpoint']}`, {s['returned']} of "
                     f"{s['points']:,} points); `{other.get('endpoint')}`: {other.get('p50_ms', float('nan')):.1f} / "
                     f"{other.get('p90_ms', float('nan')):.1f} ms, {other.get('returned')} points; others' cores busy "
                     f"{_noise([s.get('others_cores')])}", "p50 < 50 ms", ""])
        rows.append(["`/api/scalar` on a 1M-point series, full", f"{s['full_ms']:.0f} ms, {s['full_points']:,} points, "
                     f"{s['full_bytes'] / 1e6:.1f} MB, server peak RSS +{s['full_rss_delta_mb']:.0f} MB",
                     "streamed, not built twice", ""])
    label = "`/api/init` + `/api/getCategory`, 1000 runs x 50 tags (p50 / p90)"
    if not failed("category_1000x50", label):
        c = api["category_1000x50"]
        rows.append([label.replace("1000 runs x 50", f"{c['runs']} runs x {c['tags']}"),
                     f"{c['p50_ms']:.1f} / {c['p90_ms']:.1f} ms ({c['runs_returned']} runs, {c['bytes'] / 1e3:.0f} kB; "
                     f"others' cores busy {_noise([c.get('others_cores')])})",
                     "< 200 ms", ""])
    return _table(["measure", "tsvis-live (median of runs)", "target", "peers"], rows)


def live_md(res: dict) -> str:
    live = res.get("live") or {}
    peers = ("Peers: TensorBoard shows a new point after up to 5 s (reload interval) + 30 s "
             "(frontend poll, its minimum); TS-VIS re-reads every 2 s.")
    if not live or live.get("error"):
        why = f" ({live['error']})" if live.get("error") else ""
        return f"Live benchmarks (issue 4): **{NOT_MEASURED}**{why}. {peers}"
    rows = []
    for name, target in (("latency", "p50 <= 50 ms, p99 <= 250 ms"), ("fanout", "nothing dropped for clients that keep up")):
        r = live.get(name)
        label = {"latency": "flush-to-receipt latency, 1 client, 1000 points/s",
                 "fanout": "fan-out, clients x 10 series, 2000 points/s"}[name]
        if not r or "error" in r:
            rows.append([label, f"**{NOT_MEASURED}**" + (f" ({r['error'][:120]})" if r else ""), target])
            continue
        if name == "fanout":
            label = f"fan-out, {r['clients']} clients x {r['series_per_client']} series, {r['rate']:.0f} points/s"
        rows.append([label,
                     f"p50 {r['p50_ms']:.1f} ms, p90 {r['p90_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.0f} ms; "
                     f"{r['points']:,} deliveries, missing {r['missing']}, duplicated {r['duplicates']}, resyncs {r['resyncs']}; "
                     f"server RSS {r['server_rss_mb']:.0f} MB (peak {r['server_peak_rss_mb']:.0f} MB); cores busy: server "
                     f"{r.get('server_cores', float('nan')):.2f}, clients {r.get('client_cores', float('nan')):.2f}, "
                     f"whole machine {r.get('machine_cores', float('nan')):.2f} of 2", target])
    return _table(["measure", "tsvis-live", "target"], rows) + "\n\n" + peers


def render(res: dict) -> str:
    return "\n\n".join([
        machine_md(res["machine"]), logdir_md(res["logdir"]),
        "### Ingest (issue 2)", ingest_md(res),
        "### API (issue 3)", api_md(res),
        "### Live (issue 4)", live_md(res),
    ])


DOC_HEAD = """# Benchmarks

Reproduce: `python -m bench.run` (full, ~10 min: TensorBoard's Python loader dominates) or
`python -m bench.run --quick` (smoke test, small logdir, does not touch this file). Raw numbers
land in `bench/out/results.json`. The tables below are regenerated by `bench/run.py`; the notes
after them are written by hand.

"""


def write_doc(doc: Path, body: str) -> None:
    block = f"{BEGIN}\n{body}\n{END}"
    if doc.exists():
        text = doc.read_text()
        if BEGIN in text and END in text:
            pre, rest = text.split(BEGIN, 1)
            _, post = rest.split(END, 1)
            doc.write_text(pre + block + post)
            return
        doc.write_text(text.rstrip() + "\n\n" + block + "\n")
        return
    doc.write_text(DOC_HEAD + block + "\n\n## Notes\n")
