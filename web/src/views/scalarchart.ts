/**
 * One uPlot chart of scalar lines: a line is a (run, tag) series, optionally with a band
 * between two more tags of the run (custom scalars' margin charts). The Scalars view draws a
 * tag over runs, the Custom scalars view the lines of a layout chart; both stay live (each
 * series is fetched when the chart scrolls into view, then followed over /ws).
 */
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { url } from "../api";
import { App, h, visibility } from "../app";
import { alignSeries } from "../data/xaxis";
import type { ChartLine } from "../layouts";
import { schedule, unschedule } from "./chartsched";
import { ChartTools, drawThresholds } from "./charttools";
import { LiveSeries, type SeriesHost } from "./liveseries";
import { PastToggle } from "./pasttoggle";
import { PastWrites } from "./pastwrites";
import { drawMarkers, markerSummary, type Marker } from "./nonfinite";
import { plotOptions, yDomainOf, type PlotHost } from "./scalaropts";
import { plotLines } from "./scalarlines";
import { ChartTip } from "./scalartip";
import { restarts, thresholds } from "../watchstate";

const skey = (run: string, tag: string) => `${run}\u0000${tag}`;
/** Charts enlarged to the full width (by key), kept while the page is open. */
const enlarged = new Set<string>();
const HEIGHT = 220, WIDE_HEIGHT = 420;

export class ScalarChart {
  el: HTMLElement;
  private plotEl: HTMLElement;
  private tip: ChartTip;
  private badge: HTMLElement;
  private nfBadge: HTMLElement;
  private runSel: HTMLSelectElement;
  private csv: HTMLAnchorElement;
  private json: HTMLAnchorElement;
  private series = new Map<string, LiveSeries>();
  private host: SeriesHost;
  private lines: ChartLine[] = [];
  private u: uPlot | null = null;
  private structure = "";
  visible = false;
  stale = true;
  lastDraw = 0;
  liveTimer: number | null = null;
  private zoom: [number, number] | null = null;
  fetches = 0;
  private ro: ResizeObserver | null = null;
  private destroyed = false;
  private markers: Marker[] = [];
  private yDomain: [number, number] | null = null;
  /** Tools of a chart of one tag (pin, alert threshold); none on custom-scalar charts. */
  private tools: ChartTools | null = null;
  private past: PastWrites;
  private pastToggle: PastToggle;
  private head!: HTMLElement;
  private offRestart: () => void;

  constructor(private app: App, private key: string, title: string, cls = "scalar-card", attrs: Record<string, string> = {}, private oneTag?: string) {
    this.host = {
      width: () => this.plotEl.clientWidth,
      zoom: () => this.zoom,
      runStart: (run) => this.runStart(run),
      noteFetch: () => { this.el.dataset.fetches = String(++this.fetches); },
      noteError: (e) => { this.el.dataset.error = String(e); },
      changed: (live) => schedule(this, live),
      restarted: (run, tag) => {
        restarts.mark(run);
        if (this.pastToggle.on()) this.past.invalidate(run, tag);
      },
    };
    this.past = new PastWrites(app, () => schedule(this));
    this.pastToggle = new PastToggle(app, key, () => this.head, () => this.lines, () => schedule(this));
    this.offRestart = restarts.on((run) => { if (this.lines.some((l) => l.run === run)) this.pastToggle.paint(); });
    if (oneTag !== undefined) this.tools = new ChartTools(oneTag, () => schedule(this));
    this.plotEl = h("div", { class: "plot" });
    this.tip = new ChartTip(this.plotEl);
    this.badge = h("span", { class: "badge", hidden: true }, "downsampled");
    this.nfBadge = h("span", { class: "nonfinite-badge", hidden: true });
    this.runSel = h("select", { class: "export-run", "aria-label": "run to download", onchange: () => this.updateLinks() });
    this.csv = h("a", { class: "btn export-csv", title: "download the full series as CSV" }, "CSV");
    this.json = h("a", { class: "btn export-json", title: "download the full series as JSON" }, "JSON");
    const reset = h("button", { class: "btn reset-zoom", title: "reset zoom (or double-click the chart)", onclick: () => this.resetZoom() }, "⟲");
    const grow = h("button", { class: "btn enlarge", title: "enlarge to the full width", "aria-label": "enlarge", "aria-pressed": "false", onclick: () => this.setEnlarged(!this.el.classList.contains("wide")) }, "⤢");
    // The title has the head to itself (it wraps); downloads sit in a labelled row below.
    this.el = h(
      "div",
      { class: `card ${cls}`, ...attrs },
      (this.head = h("div", { class: "card-head" }, h("span", { class: "card-title", title }, title), this.nfBadge, this.badge,
        this.tools?.pin, this.tools?.bell, reset, grow)),
      this.tools?.form,
      this.plotEl,
      h("div", { class: "card-foot export" }, h("label", { class: "export-label" }, "download ", this.runSel), this.csv, this.json),
      this.tip.el,
    );
    if (enlarged.has(key)) this.setEnlarged(true);
    visibility.observe(this.el, (v) => {
      this.visible = v;
      if (v) {
        for (const rs of this.series.values()) if (!rs.loaded && !rs.fetching) rs.fetch();
        if (this.stale) schedule(this);
      }
    });
    this.ro = new ResizeObserver(() => {
      if (this.u) {
        const w = this.plotEl.clientWidth;
        if (w > 0 && (Math.abs(w - this.u.width) > 2 || this.u.height !== this.height())) this.u.setSize({ width: w, height: this.height() });
      }
    });
    this.ro.observe(this.plotEl);
  }

  private height(): number {
    return this.el?.classList.contains("wide") ? WIDE_HEIGHT : HEIGHT;
  }

  /** Full width and taller (TensorBoard's "toggle full size"), or back. */
  setEnlarged(on: boolean): void {
    this.el.classList.toggle("wide", on);
    this.el.querySelector(".enlarge")?.setAttribute("aria-pressed", String(on));
    if (on) enlarged.add(this.key);
    else enlarged.delete(this.key);
    this.plotEl.style.minHeight = `${this.height()}px`;
    if (this.u) this.u.setSize({ width: Math.max(200, this.plotEl.clientWidth || this.u.width), height: this.height() });
  }

  /** A chart of one tag: one line per run. */
  sync(runs: string[], tag: string): void {
    this.setLines(runs.map((r) => ({ id: r, run: r, tag, label: r })));
  }

  /** Set the lines shown; series no line needs any more are unsubscribed. */
  setLines(lines: ChartLine[]): void {
    const want = new Set<string>();
    for (const l of lines) for (const t of [l.tag, l.lower, l.upper]) if (t !== undefined) want.add(skey(l.run, t));
    for (const [k, rs] of this.series) {
      if (!want.has(k)) {
        rs.destroy();
        this.series.delete(k);
      }
    }
    for (const k of want) {
      if (this.series.has(k)) continue;
      const [run, tag] = k.split("\u0000");
      const rs = new LiveSeries(this.app, this.host, run, tag);
      this.series.set(k, rs);
      if (this.visible) rs.fetch();
    }
    this.lines = lines.slice();
    this.past.keep(new Set(lines.map((l) => skey(l.run, l.tag))));
    this.pastToggle.paint();
    const prev = this.runSel.value;
    this.runSel.replaceChildren(...lines.map((l) => h("option", { value: l.id }, l.label)));
    if (lines.some((l) => l.id === prev)) this.runSel.value = prev;
    this.runSel.hidden = lines.length <= 1;
    this.updateLinks();
    schedule(this);
  }

  private updateLinks(): void {
    const line = this.lines.find((l) => l.id === this.runSel.value) ?? this.lines[0];
    this.runSel.title = line?.label ?? "";
    if (!line) return;
    const safe = `${line.run}_${line.tag}`.replace(/[^\w.-]+/g, "_");
    this.csv.href = url("live/export", { run: line.run, tag: line.tag, format: "csv" });
    this.csv.download = `${safe}.csv`;
    this.json.href = url("live/export", { run: line.run, tag: line.tag, format: "json" });
    this.json.download = `${safe}.json`;
  }

  /** Refetch every series (smoothing changed, zoom changed). */
  refetchAll(): void {
    for (const rs of this.series.values()) {
      if (this.visible) rs.fetch();
      else rs.loaded = false;
    }
  }

  /** The run's first wall time over the chart's series (relative time counts from it). */
  private runStart(run: string): number | undefined {
    let t: number | undefined;
    for (const rs of this.series.values()) if (rs.run === run && rs.runStart !== undefined) t = t === undefined ? rs.runStart : Math.min(t, rs.runStart);
    return t;
  }

  setZoom(x0: number, x1: number): void {
    this.zoom = [x0, x1];
    this.el.dataset.zoom = `${x0},${x1}`;
    this.refetchAll();
  }

  resetZoom(): void {
    if (!this.zoom) return;
    this.zoom = null;
    delete this.el.dataset.zoom;
    this.refetchAll();
  }

  private ser(run: string, tag: string | undefined): LiveSeries | undefined {
    if (tag === undefined) return undefined;
    const rs = this.series.get(skey(run, tag));
    return rs && rs.loaded ? rs : undefined;
  }

  /** Rebuild or update the uPlot instance. */
  draw(): void {
    this.stale = false;
    this.lastDraw = performance.now();
    if (this.destroyed) return;
    const st = this.app.settings;
    const mode = st.xMode;
    const pastOn = this.pastToggle.on();
    this.pastToggle.paint();
    const { xs, ys, series: seriesOpts, bands, domainCols, tipLines, markers, lastSteps, pastCounts, anyDown, shown, points } =
      plotLines(this.lines, {
        settings: st,
        ser: (run, tag) => this.ser(run, tag),
        runStart: (run) => this.runStart(run),
        pastOn,
        older: (run, tag) => this.past.older(run, tag),
      });
    this.tip.lines = tipLines;
    this.markers = markers;
    this.badge.hidden = !anyDown;
    const summary = markerSummary(this.markers);
    this.nfBadge.hidden = !summary;
    this.nfBadge.textContent = summary ? `⚠ ${summary}` : "";
    this.nfBadge.title = summary ? `non-finite values, drawn as markers: ▲ +Inf at the top, ▼ −Inf at the bottom, ✕ NaN at the last finite value (${summary})` : "";
    this.el.dataset.nonfinite = JSON.stringify(this.markers.map((m) => [m.line, m.step, m.kind]));
    this.el.dataset.downsampled = String(anyDown);
    this.el.dataset.runs = String(shown);
    this.el.dataset.lastSteps = JSON.stringify(lastSteps);
    this.el.dataset.points = String(points);
    this.el.dataset.past = pastOn ? "on" : "off";
    this.el.dataset.pastSegments = JSON.stringify(pastCounts);
    const data = alignSeries(xs, ys) as uPlot.AlignedData;
    this.yDomain = st.ignoreOutliers ? yDomainOf(data, domainCols, this.zoom, st.logY) : null;
    const structure = JSON.stringify([seriesOpts.map((s) => [s.label, s.stroke, s.dash]), bands.map((b) => b.series), mode, st.logY, st.ignoreOutliers]);
    if (!this.u || structure !== this.structure) {
      this.u?.destroy();
      this.structure = structure;
      this.u = new uPlot(plotOptions(this.plotHost(), seriesOpts, bands), data, this.plotEl);
    } else {
      this.u.setData(data, true);
    }
    if (this.zoom) this.u.setScale("x", { min: this.zoom[0], max: this.zoom[1] });
    else if (mode === "wall" && data[0].length) {
      // One instant (e.g. a single hparam metric) would get years of ticks: show a minute.
      const lo = data[0][0], hi = data[0][data[0].length - 1];
      if (hi - lo < 1) this.u.setScale("x", { min: lo - 30, max: hi + 30 });
    }
    this.el.dataset.rendered = String(Date.now());
  }

  /** What the plot options need of this chart (views/scalaropts.ts). */
  private plotHost(): PlotHost {
    return {
      settings: this.app.settings,
      el: this.el,
      width: () => Math.max(200, this.plotEl.clientWidth || 400),
      height: () => this.height(),
      yDomain: () => this.yDomain,
      setZoom: (x0, x1) => this.setZoom(x0, x1),
      resetZoom: () => this.resetZoom(),
      tooltip: (u) => this.tip.show(u, this.el, this.app.settings),
      drawn: (u) => {
        this.el.dataset.markers = JSON.stringify(drawMarkers(u, this.markers));
        if (this.oneTag !== undefined) this.el.dataset.thresholdLines = JSON.stringify(drawThresholds(u, thresholds.get(this.oneTag)));
      },
    };
  }

  destroy(): void {
    this.destroyed = true;
    visibility.unobserve(this.el);
    this.ro?.disconnect();
    for (const rs of this.series.values()) rs.destroy();
    this.series.clear();
    this.tools?.destroy();
    this.past.destroy();
    this.offRestart();
    this.u?.destroy();
    this.u = null;
    unschedule(this);
  }
}
