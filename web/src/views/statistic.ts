/** Histograms (offset/ridge and overlay) and distributions (percentile bands), live. */
import { getJSON } from "../api";
import { App, Change, h, placeInOrder, swatch, TagGroups, View } from "../app";
import { runColor, withAlpha } from "../colors";
import { BASIS_POINTS, histogramPercentiles, parseHistPoint, pickEven, rebin, upsertHist, type HistPoint } from "../data/histograms";
import { groupTags } from "../data/names";
import { EChart } from "../echarts";
import { html, joinHtml, tip } from "../escape";

/** One run's histogram series for one tag: REST snapshot, then live points from `since`. */
class HistSource {
  points: HistPoint[] = [];
  loaded = false;
  private unsub: (() => void) | null = null;
  private timer: number | null = null;
  private dead = false;

  constructor(private app: App, public run: string, public tag: string, private onChange: () => void) {}

  async load(): Promise<void> {
    const since = this.app.live.cursor;
    let buffer: unknown[][] = [];
    let loading = true;
    this.unsub = this.app.live.subscribe("histogram", this.run, this.tag, since, (m) => {
      if (!Array.isArray(m.points)) return;
      if (loading) buffer.push(...m.points);
      else {
        for (const p of m.points) upsertHist(this.points, parseHistPoint(p));
        this.changed();
      }
    });
    try {
      const d = await getJSON("histogram", { run: this.run, tag: this.tag });
      const list: unknown[][] = (d && d[this.tag]) || (Array.isArray(d) ? d : []);
      const pts: HistPoint[] = [];
      for (const p of list) upsertHist(pts, parseHistPoint(p));
      this.points = pts;
    } catch {
      /* show what live brings */
    }
    loading = false;
    for (const p of buffer) upsertHist(this.points, parseHistPoint(p));
    buffer = [];
    this.loaded = true;
    if (!this.dead) this.onChange();
  }

  private changed(): void {
    if (this.timer !== null) return;
    this.timer = window.setTimeout(() => {
      this.timer = null;
      if (!this.dead) this.onChange();
    }, 200);
  }

  destroy(): void {
    this.dead = true;
    this.unsub?.();
    if (this.timer !== null) clearTimeout(this.timer);
  }
}

type Mode = "offset" | "overlay";

class StatCard {
  el: HTMLElement;
  private body: HTMLElement;
  private charts = new Map<string, { src: HistSource; chart: EChart; box: HTMLElement }>();

  constructor(private app: App, public tag: string, private kind: "histogram" | "distribution", private getMode: () => Mode) {
    this.body = h("div", { class: "subcharts" });
    this.el = h("div", { class: `card ${kind}-card`, "data-tag": tag }, h("div", { class: "card-head" }, h("span", { class: "card-title", title: tag }, tag)), this.body);
  }

  sync(runs: string[]): void {
    for (const [r, c] of this.charts) {
      if (!runs.includes(r)) {
        c.src.destroy();
        c.chart.destroy();
        c.box.remove();
        this.charts.delete(r);
      }
    }
    for (const r of runs) {
      if (this.charts.has(r)) continue;
      const chart = new EChart(this.kind === "histogram" ? 300 : 240);
      const box = h("div", { class: "subchart", "data-run": r }, h("div", { class: "subtitle" }, swatch(r), r), chart.el);
      const entry = { src: null as any as HistSource, chart, box };
      entry.src = new HistSource(this.app, r, this.tag, () => this.render(r));
      this.charts.set(r, entry);
      this.body.append(box);
      entry.src.load();
    }
    placeInOrder(this.body, runs.map((r) => this.charts.get(r)!.box));
  }

  render(run?: string): void {
    for (const [r, c] of this.charts) {
      if (run && r !== run) continue;
      if (!c.src.loaded) continue;
      c.box.dataset.steps = String(c.src.points.length);
      c.box.dataset.lastStep = String(c.src.points.length ? c.src.points[c.src.points.length - 1].step : "");
      c.chart.set(this.kind === "histogram" ? histOption(c.src.points, r, this.getMode()) : distOption(c.src.points, r));
    }
  }

  destroy(): void {
    for (const c of this.charts.values()) {
      c.src.destroy();
      c.chart.destroy();
    }
  }
}

const BINS = 40;

export function histOption(points: HistPoint[], run: string, mode: Mode): any {
  const shown = pickEven(points, mode === "offset" ? 30 : 12);
  let lo = Infinity, hi = -Infinity;
  for (const p of shown) {
    const l = Number.isFinite(p.min) ? p.min : p.buckets[0]?.[0];
    const r = Number.isFinite(p.max) ? p.max : p.buckets[p.buckets.length - 1]?.[1];
    if (Number.isFinite(l)) lo = Math.min(lo, l);
    if (Number.isFinite(r)) hi = Math.max(hi, r);
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) { lo = 0; hi = 1; }
  if (hi === lo) { lo -= 0.5; hi += 0.5; }
  const w = (hi - lo) / BINS;
  const centers = Array.from({ length: BINS }, (_, i) => lo + (i + 0.5) * w);
  const counts = shown.map((p) => rebin(p.buckets, lo, hi, BINS));
  const maxC = Math.max(1e-12, ...counts.map((c) => Math.max(...c)));
  const color = runColor(run);
  const n = shown.length;
  const series: any[] = [];
  if (mode === "offset") {
    // Oldest at the back (top), newest in front (bottom); each ridge spans 3 gaps.
    const gap = 1;
    const scale = (3 * gap) / maxC;
    shown.forEach((p, k) => {
      const base = (n - 1 - k) * gap;
      const t = n > 1 ? k / (n - 1) : 1;
      series.push({
        type: "line",
        name: `step ${p.step}`,
        data: centers.map((x, i) => [x, base + counts[k][i] * scale, counts[k][i]]),
        showSymbol: false,
        smooth: false,
        z: k,
        lineStyle: { color: withAlpha(color, 0.4 + 0.6 * t), width: 1 },
        areaStyle: { origin: base, color: withAlpha(color, 0.08 + 0.25 * t) },
        animation: false,
      });
    });
    return {
      animation: false,
      grid: { left: 60, right: 16, top: 10, bottom: 28 },
      tooltip: { trigger: "item", formatter: tip((q: any) => html`${q.seriesName}<br>x≈${fmt(q.data[0])}: ${fmt(q.data[2])}`) },
      xAxis: { type: "value", min: lo, max: hi, axisLabel: { formatter: fmt, showMinLabel: false, showMaxLabel: false } },
      yAxis: {
        type: "value", min: 0, axisLine: { onZero: false }, max: (n - 1) * gap + 3.2 * gap, interval: gap * Math.max(1, Math.ceil(n / 6)),
        axisLabel: { formatter: (v: number) => { const k = n - 1 - Math.round(v / gap); return k >= 0 && k < n && Math.abs(v / gap - Math.round(v / gap)) < 1e-6 ? String(shown[k].step) : ""; } },
        name: "step", nameTextStyle: { align: "right" }, splitLine: { show: false },
      },
      series,
    };
  }
  shown.forEach((p, k) => {
    const t = n > 1 ? k / (n - 1) : 1;
    series.push({
      type: "line", name: `step ${p.step}`, data: centers.map((x, i) => [x, counts[k][i]]), showSymbol: false, animation: false,
      lineStyle: { color: withAlpha(color, 0.25 + 0.75 * t), width: 1 },
    });
  });
  return {
    animation: false,
    grid: { left: 60, right: 16, top: 10, bottom: 28 },
    tooltip: { trigger: "item", formatter: tip((q: any) => html`${q.seriesName}<br>x≈${fmt(q.data[0])}: ${fmt(q.data[1])}`) },
    xAxis: { type: "value", min: lo, max: hi, axisLabel: { formatter: fmt, showMinLabel: false, showMaxLabel: false } },
    yAxis: { type: "value", axisLabel: { formatter: fmt }, axisLine: { onZero: false } },
    series,
  };
}

export function distOption(points: HistPoint[], run: string): any {
  const color = runColor(run);
  const pct = points.map((p) => histogramPercentiles(p));
  const steps = points.map((p) => p.step);
  const col = (i: number) => pct.map((v, k) => [steps[k], v[i]]);
  const diff = (i: number) => pct.map((v, k) => [steps[k], v[i] - v[i - 1]]);
  const alphas = [0.12, 0.22, 0.34, 0.48, 0.48, 0.34, 0.22, 0.12];
  const series: any[] = [
    { type: "line", name: "p0", data: col(0), stack: "d", stackStrategy: "all", showSymbol: false, lineStyle: { opacity: 0 }, animation: false, silent: true },
  ];
  for (let i = 1; i < BASIS_POINTS.length; i++) {
    series.push({
      type: "line", name: `p${BASIS_POINTS[i] / 100}`, data: diff(i), stack: "d", stackStrategy: "all", showSymbol: false,
      lineStyle: { opacity: 0 }, areaStyle: { color: withAlpha(color, alphas[i - 1]) }, animation: false, silent: true,
    });
  }
  series.push({ type: "line", name: "median", data: col(4), showSymbol: false, lineStyle: { color, width: 1.5 }, animation: false });
  return {
    animation: false,
    grid: { left: 60, right: 16, top: 10, bottom: 28 },
    tooltip: {
      trigger: "axis",
      formatter: tip((qs: any[]) => {
        const k = qs[0]?.dataIndex ?? 0;
        const v = pct[k];
        if (!v) return html``;
        const rows = BASIS_POINTS.map((bp, i) => `p${(bp / 100).toFixed(2)}: ${fmt(v[i])}`).reverse();
        return html`step ${steps[k]}<br>${joinHtml(rows, html`<br>`)}`;
      }),
    },
    xAxis: { type: "value", min: "dataMin", max: "dataMax", name: "step", axisLine: { onZero: false } },
    yAxis: { type: "value", scale: true, axisLabel: { formatter: fmt } },
    series,
  };
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return String(Math.round(v * 1000) / 1000);
}

abstract class StatView implements View {
  el: HTMLElement;
  protected groups: TagGroups<StatCard>;
  protected mode: Mode = "offset";

  constructor(protected app: App, kind: "histogram" | "distribution") {
    this.groups = new TagGroups<StatCard>(`tsvis-live.collapsed.${kind}`, (tag) => new StatCard(app, tag, kind, () => this.mode));
    this.el = h("section", { class: `view view-${kind}` }, this.toolbar(), this.groups.el);
    this.update("categories");
  }

  protected toolbar(): HTMLElement {
    return h("div");
  }

  update(c: Change): void {
    if (c === "colors") {
      for (const card of this.groups.items.values()) card.render();
      return;
    }
    const tags = this.app.tags("histogram");
    this.groups.sync(groupTags(tags));
    for (const [tag, card] of this.groups.items) card.sync(this.app.runsFor("histogram", tag));
  }

  destroy(): void {
    this.groups.destroy();
  }
}

export class HistogramsView extends StatView {
  constructor(app: App) {
    super(app, "histogram");
  }
  protected toolbar(): HTMLElement {
    const sel = h("select", { class: "hist-mode" }, h("option", { value: "offset" }, "offset (ridge)"), h("option", { value: "overlay" }, "overlay"));
    sel.value = this.mode ?? "offset";
    sel.addEventListener("change", () => {
      this.mode = sel.value as Mode;
      for (const c of this.groups.items.values()) c.render();
    });
    return h("div", { class: "toolbar" }, h("label", {}, "Mode ", sel));
  }
}

export class DistributionsView extends StatView {
  constructor(app: App) {
    super(app, "distribution");
  }
}
