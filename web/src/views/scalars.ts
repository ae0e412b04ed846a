import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { getJSON, url } from "../api";
import { App, Change, h, swatch, TagGroups, View, visibility, fmtNum, fmtTime } from "../app";
import { AXIS_FONT, fmtTick, timeTickLabels, yAxisSize } from "../axes";
import { runColor, withAlpha } from "../colors";
import {
  alignSeries, bandPerPoint, decimate, fmtHours, emptySeries, groupTags, num, nums, stepRangeForX, upsertPoint, xValues, type Series,
} from "../shape";
import { continueEma, newEma, stateFromSmoothed, type EmaState } from "../smoothing";

/**
 * Redraw scheduler: at most one redraw per chart per animation frame, visible charts only, and
 * a live chart at most every LIVE_REDRAW_MS (streaming at 60 Hz into 50 charts would spend
 * every frame re-aligning data nobody can read that fast).
 */
const LIVE_REDRAW_MS = 250;
/**
 * Per-frame drawing budget: charts left over are drawn in the next frames (no long tasks).
 * uPlot paints in a microtask after setData, so the time measured here misses the paint:
 * the chart count per frame is capped as well.
 */
const FRAME_BUDGET_MS = 10;
const MAX_DRAWS_PER_FRAME = 2;
const dirty = new Set<ScalarChart>();
let rafPending = false;
function schedule(c: ScalarChart, live = false): void {
  if (live) {
    const wait = c.lastDraw + LIVE_REDRAW_MS - performance.now();
    if (wait > 0) {
      if (c.liveTimer === null) {
        c.liveTimer = window.setTimeout(() => {
          c.liveTimer = null;
          schedule(c);
        }, wait);
      }
      return;
    }
  }
  dirty.add(c);
  requestFrame();
}

function requestFrame(): void {
  if (rafPending) return;
  rafPending = true;
  requestAnimationFrame(() => {
    rafPending = false;
    const t0 = performance.now();
    let drawn = 0;
    for (const ch of dirty) {
      dirty.delete(ch);
      if (ch.visible) {
        ch.draw();
        drawn++;
      } else ch.stale = true;
      if (drawn >= MAX_DRAWS_PER_FRAME || performance.now() - t0 > FRAME_BUDGET_MS) break;
    }
    if (dirty.size) requestFrame();
  });
}

interface RunSeries {
  run: string;
  s: Series;
  ema: EmaState;
  weight: number;
  cursor: number | null;
  downsampled: boolean;
  total: number;
  runStart: number | undefined;
  seq: number;
  loaded: boolean;
  buffer: unknown[][];
  fetching: boolean;
  unsub: (() => void) | null;
  refetchTimer: number | null;
}

export class ScalarChart {
  el: HTMLElement;
  private plotEl: HTMLElement;
  private tip: HTMLElement;
  private badge: HTMLElement;
  private runSel: HTMLSelectElement;
  private csv: HTMLAnchorElement;
  private json: HTMLAnchorElement;
  private runs = new Map<string, RunSeries>();
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
  private order: string[] = [];
  private colIndex: Array<{ run: string; raw: number; smooth: number }> = [];

  constructor(private app: App, public tag: string) {
    this.plotEl = h("div", { class: "plot" });
    this.tip = h("div", { class: "tooltip", hidden: true });
    this.badge = h("span", { class: "badge", hidden: true }, "downsampled");
    this.runSel = h("select", { class: "export-run", "aria-label": "run to download", onchange: () => this.updateLinks() });
    this.csv = h("a", { class: "btn export-csv", title: "download the full series as CSV" }, "CSV");
    this.json = h("a", { class: "btn export-json", title: "download the full series as JSON" }, "JSON");
    const reset = h("button", { class: "btn reset-zoom", title: "reset zoom (or double-click the chart)", onclick: () => this.resetZoom() }, "⟲");
    // The title has the head to itself (it wraps); downloads sit in a labelled row below.
    this.el = h(
      "div",
      { class: "card scalar-card", "data-tag": tag },
      h("div", { class: "card-head" }, h("span", { class: "card-title", title: tag }, tag), this.badge, reset),
      this.plotEl,
      h("div", { class: "card-foot export" }, h("label", { class: "export-label" }, "download ", this.runSel), this.csv, this.json),
      this.tip,
    );
    visibility.observe(this.el, (v) => {
      this.visible = v;
      if (v) {
        for (const rs of this.runs.values()) if (!rs.loaded && !rs.fetching) this.fetch(rs);
        if (this.stale) schedule(this);
      }
    });
    this.ro = new ResizeObserver(() => {
      if (this.u) {
        const w = this.plotEl.clientWidth;
        if (w > 0 && Math.abs(w - this.u.width) > 2) this.u.setSize({ width: w, height: this.height() });
      }
    });
    this.ro.observe(this.plotEl);
  }

  private height(): number {
    return 220;
  }

  /** Set the runs shown (active runs having this tag). */
  sync(runs: string[]): void {
    for (const [r, rs] of this.runs) {
      if (!runs.includes(r)) {
        rs.unsub?.();
        this.runs.delete(r);
      }
    }
    for (const r of runs) {
      if (!this.runs.has(r)) {
        const rs: RunSeries = {
          run: r, s: emptySeries(), ema: newEma(0), weight: 0, cursor: null, downsampled: false, total: 0, runStart: undefined,
          seq: 0, loaded: false, buffer: [], fetching: false, unsub: null, refetchTimer: null,
        };
        this.runs.set(r, rs);
        if (this.visible) this.fetch(rs);
      }
    }
    this.order = runs.slice();
    const prev = this.runSel.value;
    this.runSel.replaceChildren(...runs.map((r) => h("option", { value: r }, r)));
    if (runs.includes(prev)) this.runSel.value = prev;
    this.runSel.hidden = runs.length <= 1;
    this.runSel.title = this.runSel.value;
    this.updateLinks();
    schedule(this);
  }

  private updateLinks(): void {
    const run = this.runSel.value || this.order[0];
    this.runSel.title = run ?? "";
    if (!run) return;
    const safe = `${run}_${this.tag}`.replace(/[^\w.-]+/g, "_");
    this.csv.href = url("live/export", { run, tag: this.tag, format: "csv" });
    this.csv.download = `${safe}.csv`;
    this.json.href = url("live/export", { run, tag: this.tag, format: "json" });
    this.json.download = `${safe}.json`;
  }

  /** Refetch every run (smoothing changed, zoom changed). */
  refetchAll(): void {
    for (const rs of this.runs.values()) {
      if (this.visible) this.fetch(rs);
      else rs.loaded = false;
    }
  }

  private async fetch(rs: RunSeries): Promise<void> {
    const seq = ++rs.seq;
    rs.fetching = true;
    const w = this.app.settings.smoothing;
    const width = Math.max(300, this.plotEl.clientWidth || 600);
    const params: Record<string, any> = { run: rs.run, tag: this.tag, max_points: this.app.settings.maxPoints };
    if (w > 0) params.smoothing = w;
    if (this.zoom) {
      const range = stepRangeForX(rs.s, this.app.settings.xMode, this.zoom[0], this.zoom[1], rs.runStart);
      if (range) {
        params.start_step = range[0];
        params.end_step = range[1];
        params.max_points = Math.max(2000, width * 2);
      }
    }
    let d: any;
    try {
      this.fetches++;
      this.el.dataset.fetches = String(this.fetches);
      d = await getJSON("live/scalars", params);
    } catch (e) {
      rs.fetching = false;
      if (seq === rs.seq) this.el.dataset.error = String(e);
      return;
    }
    if (this.destroyed || seq !== rs.seq || this.runs.get(rs.run) !== rs) return;
    rs.fetching = false;
    const s = emptySeries();
    s.steps = nums(d.steps);
    s.wall = nums(d.wall_times);
    s.values = nums(d.values);
    s.smoothed = w > 0 && Array.isArray(d.smoothed) ? nums(d.smoothed) : s.values.slice();
    s.bandMin = Array.isArray(d.band_min) ? nums(d.band_min) : null;
    s.bandMax = Array.isArray(d.band_max) ? nums(d.band_max) : null;
    if (!s.bandMin && d.band && typeof d.band === "object") {
      const b = bandPerPoint(s.steps, s.values, d.band);
      s.bandMin = b.min;
      s.bandMax = b.max;
    }
    rs.s = s;
    rs.downsampled = !!d.downsampled;
    rs.total = Number(d.total) || s.steps.length;
    rs.weight = w;
    rs.ema = w > 0 && s.smoothed.length ? stateFromSmoothed(s.smoothed[s.smoothed.length - 1], rs.total, w) : newEma(w);
    if (!this.zoom && s.wall.length) rs.runStart = rs.runStart === undefined ? s.wall[0] : Math.min(rs.runStart, s.wall[0]);
    rs.loaded = true;
    const c = Number(d.cursor);
    if (Number.isFinite(c)) this.app.live.noteCursor(c);
    // Live points that arrived while fetching.
    const buf = rs.buffer;
    rs.buffer = [];
    this.applyPoints(rs, buf);
    if (!rs.unsub) {
      rs.cursor = Number.isFinite(c) ? c : this.app.live.cursor;
      rs.unsub = this.app.live.subscribe("scalar", rs.run, this.tag, rs.cursor, (m) => this.onPoints(rs, m));
    }
    schedule(this);
  }

  private onPoints(rs: RunSeries, msg: any): void {
    if (!Array.isArray(msg.points)) return;
    if (rs.fetching || !rs.loaded) {
      rs.buffer.push(...msg.points);
      return;
    }
    this.applyPoints(rs, msg.points);
    schedule(this, true);
  }

  private applyPoints(rs: RunSeries, pts: unknown[][]): void {
    let outOfOrder = false;
    for (const p of pts) {
      const wall = num(p[0]), step = num(p[1]), value = num(p[2]);
      const s = rs.s;
      const n = s.steps.length;
      if (n === 0 || step > s.steps[n - 1]) {
        const sm = rs.weight > 0 ? continueEma(rs.ema, [value])[0] : value;
        upsertPoint(s, wall, step, value, sm);
        rs.total++;
      } else {
        const r = upsertPoint(s, wall, step, value, value);
        if (r !== "replace" || rs.weight > 0) outOfOrder = true;
      }
      if (rs.runStart === undefined) rs.runStart = wall;
    }
    // Bound memory: a long live session merges old points into min/max buckets.
    const cap = Math.max(4 * this.app.settings.maxPoints, 1000);
    if (rs.s.steps.length > cap) {
      rs.s = decimate(rs.s, 2 * this.app.settings.maxPoints);
      rs.downsampled = true;
    }
    if (outOfOrder && rs.weight > 0 && rs.refetchTimer === null) {
      // A rewritten step invalidates the EMA after it: recompute on the server.
      rs.refetchTimer = window.setTimeout(() => {
        rs.refetchTimer = null;
        this.fetch(rs);
      }, 1000);
    }
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

  /** Rebuild or update the uPlot instance. */
  draw(): void {
    this.stale = false;
    this.lastDraw = performance.now();
    if (this.destroyed) return;
    const st = this.app.settings;
    const w = st.smoothing;
    const mode = st.xMode;
    const runs = this.order.map((r) => this.runs.get(r)).filter((x): x is RunSeries => !!x && x.loaded);
    const xs: number[][] = [];
    const ys: number[][][] = [];
    const seriesOpts: uPlot.Series[] = [{ label: mode }];
    const bands: uPlot.Band[] = [];
    this.colIndex = [];
    let col = 1;
    const logFix = (a: number[]) => (st.logY ? a.map((v) => (v > 0 ? v : NaN)) : a);
    const lastSteps: Record<string, number> = {};
    let anyDown = false;
    for (const rs of runs) {
      const color = runColor(rs.run);
      xs.push(xValues(rs.s, mode, rs.runStart));
      const cols: number[][] = [logFix(rs.s.smoothed)];
      const entry = { run: rs.run, smooth: col, raw: col };
      // Points are drawn only where the series is sparse (e.g. a single hparam metric).
      seriesOpts.push({ label: rs.run, stroke: color, width: 1.5, spanGaps: true, points: { show: rs.s.steps.length < 30, size: 5, fill: color } });
      col++;
      if (w > 0) {
        cols.push(logFix(rs.s.values));
        seriesOpts.push({ label: `${rs.run} (raw)`, stroke: withAlpha(color, 0.25), width: 1, spanGaps: true, points: { show: false } });
        entry.raw = col;
        col++;
      }
      if (rs.downsampled && rs.s.bandMin && rs.s.bandMax) {
        anyDown = true;
        cols.push(logFix(rs.s.bandMax), logFix(rs.s.bandMin));
        seriesOpts.push({ label: `${rs.run} max`, stroke: "transparent", width: 0, spanGaps: true, points: { show: false } });
        seriesOpts.push({ label: `${rs.run} min`, stroke: "transparent", width: 0, spanGaps: true, points: { show: false } });
        bands.push({ series: [col, col + 1], fill: withAlpha(color, 0.15) });
        col += 2;
      }
      ys.push(cols);
      this.colIndex.push(entry);
      const n = rs.s.steps.length;
      if (n) lastSteps[rs.run] = rs.s.steps[n - 1];
    }
    this.badge.hidden = !anyDown;
    this.el.dataset.downsampled = String(anyDown);
    this.el.dataset.runs = String(runs.length);
    this.el.dataset.lastSteps = JSON.stringify(lastSteps);
    this.el.dataset.points = String(runs.reduce((a, r) => a + r.s.steps.length, 0));
    const data = alignSeries(xs, ys) as uPlot.AlignedData;
    const structure = JSON.stringify([seriesOpts.map((s) => [s.label, s.stroke]), bands.map((b) => b.series), mode, st.logY]);
    if (!this.u || structure !== this.structure) {
      this.u?.destroy();
      this.structure = structure;
      this.u = new uPlot(this.options(seriesOpts, bands), data, this.plotEl);
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

  private options(series: uPlot.Series[], bands: uPlot.Band[]): uPlot.Options {
    const st = this.app.settings;
    const mode = st.xMode;
    const xlabel = mode === "step" ? "step" : mode === "relative" ? "relative time" : "";
    return {
      width: Math.max(200, this.plotEl.clientWidth || 400),
      height: this.height(),
      series,
      bands,
      legend: { show: false },
      scales: {
        x: { time: mode === "wall" },
        y: st.logY ? { distr: 3 } : {},
      },
      axes: [
        {
          label: xlabel, labelSize: xlabel ? 14 : 0, size: mode === "wall" ? 46 : xlabel ? 36 : 30, space: mode === "wall" ? 70 : 50, stroke: "#666", grid: { stroke: "#eee" }, font: AXIS_FONT,
          // Wall time: "HH:MM", plus the date on a second line where it changes.
          ...(mode === "step" ? {} : { values: (_u: uPlot, vals: number[]) => this.noteTicks("xTicks", mode === "wall" ? timeTickLabels(vals) : vals.map(fmtHours)) }),
        },
        {
          // As wide as the widest label: log-scale labels like "1e-4" were cut to "000e-4".
          size: (_u: uPlot, vals: string[]) => this.noteAxisSize(yAxisSize(vals)), stroke: "#666", grid: { stroke: "#eee" }, font: AXIS_FONT,
          values: (_u: uPlot, vals: number[]) => this.noteTicks("yTicks", vals.map(fmtTick)),
        },
      ],
      cursor: {
        drag: { x: true, y: false, setScale: false },
        points: { show: false },
        bind: { dblclick: (_u: uPlot, _t: HTMLElement, _h: any) => () => { this.resetZoom(); return null; } } as any,
      },
      hooks: {
        setSelect: [
          (u) => {
            const { left, width } = u.select;
            if (width > 4) {
              const x0 = u.posToVal(left, "x");
              const x1 = u.posToVal(left + width, "x");
              u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
              this.setZoom(x0, x1);
            }
          },
        ],
        setCursor: [(u) => this.tooltip(u)],
      },
    };
  }

  /** Tick labels as drawn, on the card for tests (`data-x-ticks`, `data-y-ticks`). */
  private noteTicks(key: "xTicks" | "yTicks", labels: string[]): string[] {
    this.el.dataset[key] = JSON.stringify(labels);
    return labels;
  }

  private noteAxisSize(px: number): number {
    this.el.dataset.yAxisSize = String(px);
    return px;
  }

  private tooltip(u: uPlot): void {
    const idx = u.cursor.idx;
    if (idx === null || idx === undefined || u.cursor.left === undefined || u.cursor.left < 0) {
      this.tip.hidden = true;
      return;
    }
    const x = u.data[0][idx];
    const mode = this.app.settings.xMode;
    const xs = mode === "wall" ? fmtTime(x) : mode === "relative" ? fmtHours(x) : `step ${x}`;
    const rows: HTMLElement[] = [h("div", { class: "tip-x" }, xs)];
    const near = (c: number): number | null => {
      const a = u.data[c];
      for (let d = 0; d < 50; d++) {
        if (idx - d >= 0 && a[idx - d] != null) return a[idx - d] as number;
        if (idx + d < a.length && a[idx + d] != null) return a[idx + d] as number;
      }
      return null;
    };
    for (const e of this.colIndex) {
      const sm = near(e.smooth);
      const raw = e.raw !== e.smooth ? near(e.raw) : null;
      rows.push(
        h("div", { class: "tip-row" }, swatch(e.run), h("span", { class: "tip-run" }, e.run), h("b", {}, fmtNum(sm)), raw !== null ? h("span", { class: "tip-raw" }, ` (${fmtNum(raw)})`) : null),
      );
    }
    this.tip.replaceChildren(...rows);
    this.tip.hidden = false;
    const left = (u.cursor.left ?? 0) + 60;
    const maxLeft = this.el.clientWidth - this.tip.offsetWidth - 4;
    this.tip.style.left = `${Math.max(0, Math.min(left + 12, maxLeft))}px`;
    this.tip.style.top = `${(u.cursor.top ?? 0) + this.plotEl.offsetTop + 10}px`;
  }

  destroy(): void {
    this.destroyed = true;
    visibility.unobserve(this.el);
    this.ro?.disconnect();
    for (const rs of this.runs.values()) rs.unsub?.();
    this.runs.clear();
    this.u?.destroy();
    this.u = null;
    dirty.delete(this);
    if (this.liveTimer !== null) clearTimeout(this.liveTimer);
  }
}

export class ScalarsView implements View {
  el: HTMLElement;
  private groups: TagGroups<ScalarChart>;
  private refetchTimer: number | null = null;
  private lastSmoothing: number;

  constructor(private app: App) {
    this.groups = new TagGroups<ScalarChart>("tsvis-live.collapsed.scalar", (tag) => new ScalarChart(app, tag));
    this.el = h("section", { class: "view view-scalars" }, this.groups.el);
    this.lastSmoothing = app.settings.smoothing;
    this.update("categories");
  }

  update(c: Change): void {
    if (c === "colors") {
      for (const ch of this.groups.items.values()) schedule(ch);
      return;
    }
    if (c === "settings") {
      if (this.app.settings.smoothing !== this.lastSmoothing) {
        this.lastSmoothing = this.app.settings.smoothing;
        if (this.refetchTimer !== null) clearTimeout(this.refetchTimer);
        this.refetchTimer = window.setTimeout(() => {
          this.refetchTimer = null;
          for (const ch of this.groups.items.values()) ch.refetchAll();
        }, 250);
      } else {
        for (const ch of this.groups.items.values()) schedule(ch);
      }
      return;
    }
    const tags = this.app.tags("scalar");
    this.groups.sync(groupTags(tags));
    for (const [tag, ch] of this.groups.items) ch.sync(this.app.runsFor("scalar", tag));
    this.el.classList.toggle("empty", tags.length === 0);
  }

  destroy(): void {
    this.groups.destroy();
  }
}

