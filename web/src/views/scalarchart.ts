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
import { runColor, withAlpha } from "../colors";
import { alignSeries, fmtHours, xValues } from "../data/xaxis";
import { nearestIndex } from "../scalarmath";
import { schedule, unschedule } from "./chartsched";
import { ChartTools, drawThresholds, icon } from "./charttools";
import { LiveSeries, type SeriesHost } from "./liveseries";
import { PastWrites } from "./pastwrites";
import { drawMarkers, markerSummary, markersOf, type Marker } from "./nonfinite";
import { plotOptions, yDomainOf, type PlotHost } from "./scalaropts";
import { tipTable, type TipLine } from "./scalartip";
import { restarts, thresholds } from "../watchstate";

export interface LineSpec {
  /** Unique in the chart: the key of `data-last-steps` (the run, in a chart of one tag). */
  id: string;
  run: string;
  tag: string;
  /** Name in the tooltip and the download picker. */
  label: string;
  /** A fixed colour; else the run's colour. */
  color?: string;
  dash?: number[];
  /** Margin charts: tags of the same run drawn as a band around the line. */
  lower?: string;
  upper?: string;
}

const skey = (run: string, tag: string) => `${run}\u0000${tag}`;
/** Charts enlarged to the full width (by key), kept while the page is open. */
const enlarged = new Set<string>();
/** Per-chart choice to show (or hide) earlier writes, overriding the sidebar's; by key. */
const pastChoice = new Map<string, boolean>();
const HEIGHT = 220, WIDE_HEIGHT = 420;

export class ScalarChart {
  el: HTMLElement;
  private plotEl: HTMLElement;
  private tip: HTMLElement;
  private badge: HTMLElement;
  private nfBadge: HTMLElement;
  private runSel: HTMLSelectElement;
  private csv: HTMLAnchorElement;
  private json: HTMLAnchorElement;
  private series = new Map<string, LiveSeries>();
  private host: SeriesHost;
  private lines: LineSpec[] = [];
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
  private tipLines: TipLine[] = [];
  private markers: Marker[] = [];
  private yDomain: [number, number] | null = null;
  /** Tools of a chart of one tag (pin, alert threshold); none on custom-scalar charts. */
  private tools: ChartTools | null = null;
  private past: PastWrites;
  private pastBtn: HTMLButtonElement;
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
        if (this.pastOn()) this.past.invalidate(run, tag);
      },
    };
    this.past = new PastWrites(app, () => schedule(this));
    this.pastBtn = h("button", { class: "btn past-toggle", onclick: () => this.setPast(!this.pastOn()) }, icon("past"));
    this.offRestart = restarts.on((run) => { if (this.lines.some((l) => l.run === run)) this.paintPast(); });
    if (oneTag !== undefined) this.tools = new ChartTools(oneTag, () => schedule(this));
    this.plotEl = h("div", { class: "plot" });
    this.tip = h("div", { class: "tooltip", hidden: true });
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
      this.tip,
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

  private pastOn(): boolean {
    return pastChoice.get(this.key) ?? this.app.settings.pastWrites;
  }

  /** This chart's own choice to show earlier writes (the sidebar's applies until then). */
  setPast(on: boolean): void {
    if (on === this.app.settings.pastWrites) pastChoice.delete(this.key);
    else pastChoice.set(this.key, on);
    this.paintPast();
    schedule(this);
  }

  /** The earlier-writes toggle shows on charts with a restarted run (or when they are shown). */
  private paintPast(): void {
    const on = this.pastOn();
    // In the head only when it means something (a hidden button would still be in the way).
    if (!on && !this.lines.some((l) => restarts.has(l.run))) this.pastBtn.remove();
    else if (!this.pastBtn.isConnected) this.head.insertBefore(this.pastBtn, this.head.querySelector(".pin, .reset-zoom"));
    this.pastBtn.classList.toggle("on", on);
    this.pastBtn.setAttribute("aria-pressed", String(on));
    this.pastBtn.setAttribute("aria-label", on ? "hide earlier writes" : "show earlier writes");
    this.pastBtn.title = on ? "hide the earlier writes of restarted runs" : "show the earlier writes of restarted runs, dashed: what a resumed job wrote before its steps went back";
  }

  /** A chart of one tag: one line per run. */
  sync(runs: string[], tag: string): void {
    this.setLines(runs.map((r) => ({ id: r, run: r, tag, label: r })));
  }

  /** Set the lines shown; series no line needs any more are unsubscribed. */
  setLines(lines: LineSpec[]): void {
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
    this.paintPast();
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
    const w = st.smoothing;
    const mode = st.xMode;
    const xs: number[][] = [];
    const ys: number[][][] = [];
    const seriesOpts: uPlot.Series[] = [{ label: mode }];
    const bands: uPlot.Band[] = [];
    const domainCols: number[] = [];
    this.tipLines = [];
    this.markers = [];
    let col = 1;
    const logFix = (a: number[]) => (st.logY ? a.map((v) => (v > 0 ? v : NaN)) : a);
    const lastSteps: Record<string, number> = {};
    let anyDown = false, shown = 0, points = 0;
    const pastOn = this.pastOn();
    const pastCounts: Record<string, number> = {};
    this.paintPast();
    const starts = new Map<string, number | undefined>();
    const startOf = (run: string) => {
      if (!starts.has(run)) starts.set(run, this.runStart(run));
      return starts.get(run);
    };
    for (const line of this.lines) {
      const rs = this.ser(line.run, line.tag);
      if (!rs) continue;
      shown++;
      points += rs.s.steps.length;
      const color = line.color ?? runColor(line.run);
      const xv = xValues(rs.s, mode, startOf(line.run));
      xs.push(xv);
      const cols: number[][] = [logFix(rs.s.smoothed)];
      domainCols.push(col);
      // Points are drawn only where the series is sparse (e.g. a single hparam metric).
      seriesOpts.push({ label: line.label, stroke: color, width: 1.5, dash: line.dash, spanGaps: true, points: { show: rs.s.steps.length < 30, size: 5, fill: color } });
      col++;
      if (w > 0) {
        cols.push(logFix(rs.s.values));
        seriesOpts.push({ label: `${line.label} (raw)`, stroke: withAlpha(color, 0.25), width: 1, dash: line.dash, spanGaps: true, points: { show: false } });
        col++;
      }
      if (rs.downsampled && rs.s.bandMin && rs.s.bandMax) {
        anyDown = true;
        cols.push(logFix(rs.s.bandMax), logFix(rs.s.bandMin));
        seriesOpts.push({ label: `${line.label} max`, stroke: "transparent", width: 0, spanGaps: true, points: { show: false } });
        seriesOpts.push({ label: `${line.label} min`, stroke: "transparent", width: 0, spanGaps: true, points: { show: false } });
        bands.push({ series: [col, col + 1], fill: withAlpha(color, 0.15) });
        col += 2;
      }
      ys.push(cols);
      const lo = this.ser(line.run, line.lower), hi = this.ser(line.run, line.upper);
      if (lo && hi) {
        for (const [b, name] of [[hi, "upper"], [lo, "lower"]] as const) {
          xs.push(xValues(b.s, mode, startOf(line.run)));
          ys.push([logFix(b.s.values)]);
          seriesOpts.push({ label: `${line.label} ${name}`, stroke: withAlpha(color, 0.45), width: 1, spanGaps: true, points: { show: false } });
          domainCols.push(col);
          col++;
        }
        bands.push({ series: [col - 2, col - 1], fill: withAlpha(color, 0.18) });
      }
      if (pastOn) {
        // The run's own past: each segment before a step went back, dashed and faded.
        const older = this.past.older(line.run, line.tag);
        older.forEach((seg, k) => {
          xs.push(xValues(seg, mode, startOf(line.run)));
          ys.push([logFix(seg.smoothed)]);
          seriesOpts.push({ label: `${line.label} (earlier write ${k + 1} of ${older.length + 1})`, stroke: withAlpha(color, 0.45), width: 1.25, dash: [5, 4], spanGaps: true, points: { show: false } });
          domainCols.push(col);
          col++;
        });
        if (older.length) pastCounts[line.id] = older.length;
      }
      this.tipLines.push({ id: line.id, label: line.label, run: line.run, color: line.color, s: rs.s, xv, runStart: startOf(line.run) });
      this.markers.push(...markersOf(rs.s, xv, color, line.id));
      const n = rs.s.steps.length;
      if (n) lastSteps[line.id] = rs.s.steps[n - 1];
    }
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
      tooltip: (u) => this.tooltip(u),
      drawn: (u) => {
        this.el.dataset.markers = JSON.stringify(drawMarkers(u, this.markers));
        if (this.oneTag !== undefined) this.el.dataset.thresholdLines = JSON.stringify(drawThresholds(u, thresholds.get(this.oneTag)));
      },
    };
  }

  private tooltip(u: uPlot): void {
    const left = u.cursor.left;
    if (left === undefined || left === null || left < 0 || !this.tipLines.length) {
      this.tip.hidden = true;
      return;
    }
    const cx = u.posToVal(left, "x");
    // The header names the drawn point nearest to the cursor (the rows are each line's nearest).
    let x = cx, best = Infinity;
    for (const l of this.tipLines) {
      const i = nearestIndex(l.xv, cx);
      if (i >= 0 && Math.abs(l.xv[i] - cx) < best) { best = Math.abs(l.xv[i] - cx); x = l.xv[i]; }
    }
    const mode = this.app.settings.xMode;
    const xs = mode === "wall" ? new Date(x * 1000).toLocaleString() : mode === "relative" ? fmtHours(x) : `step ${x}`;
    this.tip.replaceChildren(h("div", { class: "tip-x" }, xs), tipTable(this.tipLines, cx, this.app.settings.smoothing > 0));
    this.tip.hidden = false;
    const maxLeft = this.el.clientWidth - this.tip.offsetWidth - 4;
    this.tip.style.left = `${Math.max(0, Math.min(left + 72, maxLeft))}px`;
    this.tip.style.top = `${(u.cursor.top ?? 0) + this.plotEl.offsetTop + 10}px`;
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
