"""scaleout-results.json as Markdown tables (printed by `bench.scaleout_bench`, pasted into
docs/benchmarks.md's "Scale-out" section with notes around them)."""

from __future__ import annotations

NA = "-"


def _t(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(out + ["| " + " | ".join(r) + " |" for r in rows])


def _l(xs: list | None, fmt: str = "{:.2f}") -> str:
    return ", ".join(fmt.format(x) for x in xs or [] if x is not None) or NA


def _err(part: dict | None) -> str | None:
    if part is None:
        return "not measured"
    return f"failed: {part['error']}" if "error" in part else None


def ingest_md(ing: dict) -> str:
    big = ing["sizes"][-1]
    base = ing.get("baseline")
    rows = []
    for v in ("sqlite", "postgresql", f"sqlite@{base}"):
        r = big.get(v)
        if not r:
            continue
        pg = r.get("postgres")
        rows.append([f"`{v}`", f"{r['wall_s']:.2f} ({_l(r['wall_s_all'])})", f"{r['events_per_s']:,.0f}",
                     f"{r['events_per_s'] / big['sqlite']['events_per_s']:.2f}",
                     f"{r['cpu_s']:.1f}" + (f" + {pg['backend_cpu_s']:.1f}" if pg else ""),
                     f"{r['tree_peak_rss_mb']:.0f} / {r['tree_pss_mb']:.0f}", f"{r['store_bytes'] / 1e6:.0f}",
                     (f"{pg['backend_peak_rss_mb']:.0f} ({pg['backend_peak_anon_mb']:.0f} private), "
                      f"{pg['backends']:.0f} backends; group PSS +{pg['group_pss_growth_mb']:.0f}; "
                      f"{pg['group_cpu_s']:.1f} CPU-s") if pg else NA,
                     _l(r["others_cores"])])
    parts = [_t(["store", "wall s, median (runs)", "events/s", "vs SQLite", "CPU s (tsvis-live tree + its PostgreSQL backends)",
                 "tree peak RSS / PSS MB", "store MB", "PostgreSQL: backends' peak RSS MB; group", "others' cores"],
                rows)]
    parts.append(f"\nPostgreSQL / SQLite events/s: **{ing['pg_vs_sqlite']:.2f}** (per repeat "
                 f"{_l(ing['pg_vs_sqlite_per_repeat'])}; target >= 0.50)."
                 + (f" By CPU (events per CPU-second, PostgreSQL's backends included), less sensitive to "
                    f"the machine's load: **{ing['pg_vs_sqlite_cpu']:.2f}**." if "pg_vs_sqlite_cpu" in ing else ""))
    if "sqlite_vs_baseline" in ing:
        parts.append(f"SQLite now / SQLite at {base}: **{ing['sqlite_vs_baseline']:.2f}** (per repeat "
                     f"{_l(ing['sqlite_vs_baseline_per_repeat'])}).")
    rows = [[f"{row['records']:,}", f"{row['bytes'] / 1e6:.0f}", f"{row['sqlite']['wall_s']:.2f}",
             f"{row['postgresql']['wall_s']:.2f}",
             f"{row['postgresql']['events_per_s'] / row['sqlite']['events_per_s']:.2f}"] for row in ing["sizes"]]
    parts += ["", _t(["events", "MB", "SQLite s", "PostgreSQL s", "PG/SQLite events/s"], rows), ""]
    for v, f in ing["fit"].items():
        if f:
            marginal = f"{f['marginal_events_per_s']:,.0f}" if f["marginal_events_per_s"] else NA
            parts.append(f"- {v}: time = {f['fixed_s']:.2f} s + {f['per_event_us']:.2f} us x events "
                         f"(marginal {marginal} events/s; largest residual {f['max_residual_s']:.2f} s)")
    return "\n".join(parts)


def failover_md(fo: dict) -> str:
    rows = [[str(i + 1), f"{r['kill_after_s']:.1f}", f"{r['election_s']:.2f}", f"{r['failover_s']:.2f}",
             f"{r['first_new_point_delay_s']:.2f}", str(r["bar_moved"]), f"{r['stored']}/{r['expected']}",
             "yes" if r["exact"] else "**no**"] for i, r in enumerate(fo["runs"])]
    return (_t(["kill", "at s into the run", "elected after s", "first new point stored after s",
                "that point's flush-to-stored s", "in-flight commits after the kill", "points stored",
                "exactly once, in order"], rows)
            + f"\n\nFailover: median **{fo['failover_s_median']:.2f} s**, max **{fo['failover_s_max']:.2f} s** "
              f"(target <= 5 s); election alone median {fo['election_s_median']:.2f} s; machine busy before: "
              f"{fo['busy_before']:.2f}.")


def latency_md(lat: dict) -> str:
    names = {"followers": "PostgreSQL + Redis, clients on the 2 followers", "ingester": "PostgreSQL + Redis, client on the ingester",
             "sqlite_single": "SQLite, one process (`live_bench.run_scenario`)"}
    rows = []
    for g, label in names.items():
        s = lat["summary"][g]
        rows.append([label, f"{s['p50_ms']:.1f}", f"{s['p90_ms']:.1f}", f"{s['p99_ms']:.1f}", f"{s['max_ms']:.0f}",
                     _l(s["p50_ms_all"], "{:.1f}"), _l(s["p99_ms_all"], "{:.1f}"), f"{s['points']:,}",
                     f"{s['missing']} / {s['duplicates']}"])
    return (_t(["setup", "p50 ms", "p90 ms", "p99 ms", "max ms", "p50 per repeat", "p99 per repeat",
                "deliveries", "missing / duplicated"], rows)
            + f"\n\n{lat['rate']:.0f} points/s for {lat['seconds']:.0f} s, median of {lat['repeats']} repeats; "
              f"replica CPU (ingester, follower, follower): {_l(lat['replica_cores'])} cores; RSS "
              f"{_l(lat['replica_rss_mb'], '{:.0f}')} MB; resyncs {lat['resyncs']}.")


def fanout_md(fa: dict) -> str:
    rows = []
    for i, r in enumerate(fa["runs"]):
        rows.append([str(i + 1), f"{r['p50_ms']:.0f} / {r['p90_ms']:.0f} / {r['p99_ms']:.0f} / {r['max_ms']:.0f}",
                     f"{r['points']:,} of {r['expected']:,}", f"{r['missing']} / {r['duplicates']} / {r['resyncs']}",
                     _l(r["replica_cores"]), f"{r['client_cores']:.2f}", f"{r['postgres_cores']:.2f} / {r['redis_cores']:.2f}",
                     f"{r['machine_cores']:.2f}", _l(r["replica_rss_mb"], "{:.0f}"), f"{r['connect_s']:.0f}"])
    return (_t(["run", "p50 / p90 / p99 / max ms", "deliveries", "missing / dup / resyncs", "cores per replica",
                "client cores", "PostgreSQL / Redis cores", "machine cores (of 2)", "replica RSS MB", "connect s"], rows)
            + f"\n\n{fa['clients']} clients ({fa['client_procs']} client processes) x {fa['series']} series over 3 "
              f"replicas, {fa['rate']:.0f} points/s in total for {fa['seconds']:.0f} s.")


def render(res: dict) -> str:
    m = res["machine"]
    out = [f"Machine: {m['cpu']}, {m['cores']} cores; commit {m['commit']}; {m['date']}; busy at start "
           f"{res['busy_at_start']:.2f} (load average {_l(res['load_avg_at_start'])}, at end "
           f"{_l(res.get('load_avg_at_end'))})."]
    for name, title, fn in (("ingest", "Ingest", ingest_md), ("failover", "Failover", failover_md),
                            ("latency", "Cross-replica latency", latency_md), ("fanout", "Fan-out", fanout_md)):
        if name not in res:
            continue
        out.append(f"#### {title}")
        when = res.get(name + "_when")
        if when:
            out.append(f"(commit {when['commit']}, ended {when['ended']}, load average then "
                       f"{_l(when['load_avg_at_end'])}; {res.get(name + '_seconds', 0):.0f} s)")
        out.append(_err(res[name]) or fn(res[name]))
    return "\n\n".join(out)
