/**
 * Projector: PCA / t-SNE of embeddings in 2-D (ECharts) or 3-D (rotatable canvas). A search
 * box marks the points whose label matches (and lists them); while a t-SNE runs on the
 * server, the PCA layout is shown with the time spent and an estimate from earlier runs.
 * New steps of the embedding are picked up while the page is open.
 */
import { getJSON, maybeParse } from "../api";
import { App, Change, h, View } from "../app";
import { labelColor } from "../colors";
import { num } from "../data/numbers";
import { EChart } from "../echarts";
import { html, tip } from "../escape";
import { searchLabels, tsneEstimate } from "../projection";
import { errorBox, onNewData, picker } from "./common";
import { Scatter3D } from "./scatter3d";
import { MetadataColumns } from "./projmeta";
import { thumbSize, Thumbnails } from "./sprites";

const TSNE_KEY = "tsvis-live.tsne-times";
const THUMBS_KEY = "tsvis-live.proj-thumbs";
const MAX_LISTED = 50;

export class ProjectorView implements View {
  el: HTMLElement;
  private runP = picker("Run", "proj-run", () => this.loadMeta());
  private tagP = picker("Tag", "proj-tag", () => this.loadMeta());
  private stepP = picker("Step", "proj-step", () => this.loadData());
  private methodP = picker("Method", "proj-method", () => this.loadData());
  private dimsP = picker("Dims", "proj-dims", () => this.loadData());
  private search = h("input", { type: "search", class: "proj-search", placeholder: "search (regex)", "aria-label": "search labels or metadata" });
  private columns = new MetadataColumns(() => this.applySearch());
  private matchInfo = h("span", { class: "proj-matches muted" });
  private matchList = h("div", { class: "proj-match-list" });
  private bar = h("progress", { class: "proj-bar", max: "1" });
  private progressText = h("span", { class: "proj-progress-text" });
  private progress = h("div", { class: "proj-progress", role: "status", hidden: true }, this.bar, this.progressText);
  private chart2 = new EChart(520, "echart projector-2d");
  private chart3 = new Scatter3D(520);
  private stage = h("div", { class: "projector-stage" });
  private side = h("div", { class: "projector-side" }, h("div", { class: "muted" }, "Hover a point to see its sample."));
  private legend = h("div", { class: "projector-legend" });
  private status = h("span", { class: "muted proj-status" });
  private meta: any = null;
  private labels: string[] = [];
  private values: string[] = [];
  private points: number[][] = [];
  private dims = 2;
  private matches: number[] | null = null;
  private metaStep = "";
  private sampleCache = new Map<number, Promise<unknown>>();
  private seq = 0;
  private ticker: number | null = null;
  private stop: () => void;
  private thumbs = new Thumbnails(() => this.render());
  private thumbsBox = h("input", { type: "checkbox", class: "proj-thumbs", checked: localStorage.getItem(THUMBS_KEY) !== "off" });
  private thumbsLabel = h("label", { class: "picker proj-thumbs-label", hidden: true, title: "draw each point as its image from the embedding's sprite" }, this.thumbsBox, " sprite thumbnails");

  constructor(private app: App) {
    this.thumbsBox.addEventListener("change", () => {
      localStorage.setItem(THUMBS_KEY, this.thumbsBox.checked ? "on" : "off");
      this.render();
    });
    this.methodP.set(["pca", "tsne"], ["PCA", "t-SNE"]);
    this.dimsP.set(["2", "3"], ["2-D", "3-D"]);
    let timer: number | null = null;
    this.search.addEventListener("input", () => {
      if (timer !== null) clearTimeout(timer);
      timer = window.setTimeout(() => this.applySearch(), 150);
    });
    this.el = h("section", { class: "view view-projector" },
      h("div", { class: "toolbar" }, this.runP.el, this.tagP.el, this.stepP.el, this.methodP.el, this.dimsP.el, this.status),
      h("div", { class: "toolbar" }, h("label", { class: "picker proj-search-label" }, "Search ", this.search), this.columns.pick.el, this.matchInfo, this.thumbsLabel, this.progress),
      h("div", { class: "projector-layout" }, this.stage, h("div", {}, this.legend, this.matchList, this.side)));
    this.chart2.whenReady((c) => c.on("mouseover", (p: any) => { if (p.value) this.showSample(p.value[2]); }));
    this.chart3.onHover = (i) => this.showSample(i);
    this.update("categories");
    this.stop = onNewData(app, () => this.refreshSteps(), 5000, 10000);
  }

  update(c: Change): void {
    if (c === "settings" || c === "colors") return;
    const runs = this.app.activeRuns().filter((r) => this.app.cat.get(r)?.get("embedding")?.size);
    const prev = `${this.runP.sel.value}|${this.tagP.sel.value}`;
    this.runP.set(runs);
    this.tagP.set([...(this.app.cat.get(this.runP.sel.value)?.get("embedding") || [])].sort());
    if (`${this.runP.sel.value}|${this.tagP.sel.value}` !== prev || !this.meta) this.loadMeta();
  }

  private async loadMeta(): Promise<void> {
    const run = this.runP.sel.value, tag = this.tagP.sel.value;
    if (!run || !tag) return;
    this.tagP.set([...(this.app.cat.get(run)?.get("embedding") || [])].sort());
    try {
      const m = maybeParse(await getJSON("projector", { run, tag }));
      this.meta = m;
      const steps: unknown[] = Array.isArray(m?.[tag]) ? m[tag] : [];
      this.stepP.set(steps.map(String));
      if (steps.length) this.stepP.sel.value = String(steps[steps.length - 1]);
      this.sampleCache.clear();
      this.metaStep = "";
      const sprite = !!m?.sample && (m.sample_type === "image" || m.sample_type === "");
      this.thumbsLabel.hidden = !sprite;
      this.thumbs.stop();
      this.thumbs.urls.clear();
      this.thumbs.images.clear();
      if (sprite) this.thumbs.start(run, tag, Number(m?.shape?.[0]) || 0);
      this.loadData();
    } catch (e) {
      this.stage.replaceChildren(errorBox(e));
    }
  }

  /** New steps written meanwhile: list them, and follow the newest if it was shown. */
  private async refreshSteps(): Promise<void> {
    const run = this.runP.sel.value, tag = this.tagP.sel.value;
    if (!run || !tag || !this.meta) return;
    let m: any;
    try {
      m = maybeParse(await getJSON("projector", { run, tag }));
    } catch {
      return;
    }
    if (run !== this.runP.sel.value || tag !== this.tagP.sel.value) return;
    const steps = (Array.isArray(m?.[tag]) ? m[tag] : []).map(String);
    const opts = [...this.stepP.sel.options].map((o) => o.value);
    if (JSON.stringify(steps) === JSON.stringify(opts)) return;
    const followed = this.stepP.sel.value === opts[opts.length - 1];
    this.meta = m;
    this.stepP.set(steps);
    if (followed && steps.length) {
      this.stepP.sel.value = steps[steps.length - 1];
      this.loadData();
    }
  }

  private async loadData(): Promise<void> {
    const run = this.runP.sel.value, tag = this.tagP.sel.value, step = this.stepP.sel.value;
    if (!run || !tag || step === "") return;
    const dims = Number(this.dimsP.sel.value) || 2;
    const method = this.methodP.sel.value || "pca";
    const seq = ++this.seq;
    const n = Number(this.meta?.shape?.[0]) || 0;
    const t0 = performance.now();
    let done = false;
    this.status.textContent = `computing ${method === "tsne" ? "t-SNE" : "PCA"}…`;
    if (method === "tsne") {
      this.startProgress(n, t0);
      // PCA is quick (and cached): show it until the t-SNE layout arrives.
      getJSON("projector_data", { run, tag, step, method: "pca", dims }).then((d) => {
        if (seq === this.seq && !done) this.show(d, step, dims, "pca (t-SNE still computing)");
      }).catch(() => undefined);
    } else this.stopProgress();
    try {
      const d = await getJSON("projector_data", { run, tag, step, method, dims });
      done = true;
      if (seq !== this.seq) return;
      if (method === "tsne") this.noteTsneTime(n, performance.now() - t0);
      this.stopProgress();
      this.show(d, step, dims, method);
    } catch (e) {
      done = true;
      if (seq !== this.seq) return;
      this.stopProgress();
      this.status.textContent = "";
      this.stage.replaceChildren(errorBox(e));
    }
  }

  private show(d: any, step: string, dims: number, method: string): void {
    const entry = d?.[step] ?? Object.values(d || {})[0];
    const points: number[][] = (entry?.[0] || []).map((p: unknown[]) => p.map(num));
    const rawLabels: unknown[] = entry?.[1] || [];
    this.labels = points.map((_, i) => (rawLabels[i] === undefined || rawLabels[i] === null ? "NULL" : String(rawLabels[i])));
    this.points = points;
    this.dims = dims;
    this.status.textContent = `${points.length} points${this.meta?.shape ? ` · shape ${JSON.stringify(this.meta.shape)}` : ""} · ${method}`;
    this.pickValues();
    this.matches = searchLabels(this.values, this.search.value);
    this.render();
    this.listMatches();
    if (this.metaStep !== step) {
      this.metaStep = step;
      void this.columns.load(this.runP.sel.value, this.tagP.sel.value, step);
    }
    this.chart2.el.dataset.method = method;
    this.chart3.el.dataset.method = method;
  }

  /** What the search matches and the colours show: the picked metadata column, else the labels. */
  private pickValues(): void {
    this.values = this.columns.searched(this.labels.length) ?? this.labels;
  }

  private applySearch(): void {
    this.pickValues();
    this.matches = searchLabels(this.values, this.search.value);
    this.render();
    this.listMatches();
  }

  private listMatches(): void {
    const m = this.matches;
    this.matchInfo.textContent = m === null ? "" : `${m.length} of ${this.labels.length} points match`;
    this.matchInfo.dataset.matches = m === null ? "" : String(m.length);
    this.matchList.replaceChildren(...(m ?? []).slice(0, MAX_LISTED).map((i) => {
      const b = h("button", { class: "proj-match", "data-index": String(i) }, h("span", { class: "swatch", style: { background: labelColor(this.values[i]) } }), `#${i} `, this.labels[i], this.values !== this.labels ? ` · ${this.values[i]}` : "");
      b.addEventListener("click", () => {
        this.showSample(i);
        if (this.dims === 3) this.chart3.showPoint(i);
        else {
          // The matches are the last series: show the point's tooltip there.
          const n = ((this.chart2.chart?.getOption()?.series as unknown[]) ?? []).length;
          if (n) this.chart2.chart?.dispatchAction({ type: "showTip", seriesIndex: n - 1, dataIndex: m!.indexOf(i) });
        }
      });
      return b;
    }), m && m.length > MAX_LISTED ? h("div", { class: "muted" }, `+${m.length - MAX_LISTED} more`) : "");
  }

  private render(): void {
    const points = this.points;
    const values = this.values; // the picked column colours the points and names the legend
    const uniq = [...new Set(values)];
    this.legend.replaceChildren(...uniq.slice(0, 30).map((l) => h("span", { class: "legend-item" }, h("span", { class: "swatch", style: { background: labelColor(l) } }), l)), uniq.length > 30 ? h("span", { class: "muted" }, ` +${uniq.length - 30} labels`) : "");
    const marked = this.matches === null ? null : new Set(this.matches);
    const thumbs = this.thumbsBox.checked && !this.thumbsLabel.hidden ? this.thumbs : null;
    if (this.dims === 3) {
      this.stage.replaceChildren(this.chart3.el);
      this.chart3.images = thumbs ? this.thumbs.images : null;
      this.chart3.setData(points, values.map(labelColor));
      this.chart3.setMarked(marked);
      requestAnimationFrame(() => this.chart3.draw());
      return;
    }
    this.stage.replaceChildren(this.chart2.el);
    const byLabel = new Map<string, Array<[number, number, number]>>();
    points.forEach((p, i) => {
      const l = uniq.length <= 30 ? values[i] : "points";
      let a = byLabel.get(l);
      if (!a) byLabel.set(l, (a = []));
      a.push([p[0], p[1] ?? 0, i]);
    });
    const faded = marked !== null;
    const series: any[] = [...byLabel.entries()].map(([l, data]) => ({
      type: "scatter", name: l, data, symbolSize: 6, large: data.length > 5000,
      itemStyle: { opacity: faded ? 0.15 : 0.85, ...(uniq.length <= 30 ? { color: labelColor(l) } : { color: (p: any) => labelColor(values[p.data[2]]) }) },
    }));
    if (thumbs && thumbs.urls.size) {
      // Each point as its sprite image, over the dots (faded but for the matches while searching).
      const size = thumbSize(points.length);
      series.push({
        type: "scatter", name: "thumbnails", z: 3, symbolSize: size, symbolKeepAspect: true,
        data: [...thumbs.urls].filter(([i]) => i < points.length).map(([i, u]) => ({ value: [points[i][0], points[i][1] ?? 0, i], symbol: `image://${u}` })),
        itemStyle: { opacity: faded ? 0.2 : 1 },
      });
    }
    this.chart2.el.dataset.thumbs = String(thumbs ? thumbs.urls.size : 0);
    if (marked) {
      series.push({
        type: "scatter", name: "search matches", z: 5, symbolSize: 10,
        data: (this.matches ?? []).map((i) => [points[i][0], points[i][1] ?? 0, i]),
        itemStyle: { color: (p: any) => labelColor(this.values[p.data[2]]), borderColor: "#263238", borderWidth: 1.5, opacity: 1 },
      });
    }
    this.chart2.set({
      animation: false,
      grid: { left: 40, right: 20, top: 20, bottom: 30 },
      tooltip: { trigger: "item", formatter: tip((q: any) => html`#${q.value[2]} · ${this.labels[q.value[2]]}`) },
      xAxis: { type: "value", scale: true, splitLine: { show: false } },
      yAxis: { type: "value", scale: true, splitLine: { show: false } },
      dataZoom: [{ type: "inside", xAxisIndex: 0 }, { type: "inside", yAxisIndex: 0 }],
      series,
    });
    this.chart2.el.dataset.points = String(points.length);
    this.chart2.el.dataset.marked = marked ? String(marked.size) : "";
  }

  private startProgress(n: number, t0: number): void {
    this.stopProgress();
    let hist: Array<[number, number]> = [];
    try {
      hist = JSON.parse(localStorage.getItem(TSNE_KEY) || "[]");
    } catch {
      /* ignore */
    }
    const est = tsneEstimate(hist, n);
    this.progress.hidden = false;
    const tick = () => {
      const s = (performance.now() - t0) / 1000;
      this.progress.dataset.elapsed = s.toFixed(1);
      if (est) this.bar.value = Math.min(0.97, (s * 1000) / est);
      else this.bar.removeAttribute("value"); // indeterminate
      this.progressText.textContent = `t-SNE of ${n || "?"} points on the server: ${s.toFixed(1)} s${est ? ` of about ${(est / 1000).toFixed(1)} s (from earlier runs)` : ""}; PCA shown meanwhile`;
    };
    tick();
    this.ticker = window.setInterval(tick, 200);
  }

  private stopProgress(): void {
    if (this.ticker !== null) clearInterval(this.ticker);
    this.ticker = null;
    this.progress.hidden = true;
  }

  private noteTsneTime(n: number, ms: number): void {
    // A cached result answers in milliseconds: not a timing of t-SNE.
    if (!(n > 1) || ms < 300) return;
    let hist: Array<[number, number]> = [];
    try {
      hist = JSON.parse(localStorage.getItem(TSNE_KEY) || "[]");
    } catch {
      /* ignore */
    }
    hist = [...hist.filter((x) => x[0] !== n), [n, Math.round(ms)] as [number, number]].slice(-8);
    localStorage.setItem(TSNE_KEY, JSON.stringify(hist));
  }

  private async showSample(i: number): Promise<void> {
    const run = this.runP.sel.value, tag = this.tagP.sel.value;
    const head = h("div", {}, h("div", {}, h("b", {}, `#${i}`), ` label: ${this.labels[i] ?? ""}`), ...this.columns.describe(i));
    this.side.dataset.index = String(i);
    if (!this.meta?.sample) {
      this.side.replaceChildren(head);
      return;
    }
    let p = this.sampleCache.get(i);
    if (!p) {
      p = getJSON("projector_sample", { run, tag, index: i });
      this.sampleCache.set(i, p);
    }
    try {
      const s = await p;
      const type = String(this.meta.sample_type || "");
      let body: HTMLElement;
      if (typeof s === "string" && (type === "image" || s.startsWith("data:image"))) body = h("img", { src: s, class: "sample-img" });
      else if (typeof s === "string" && (type === "audio" || s.startsWith("data:audio"))) body = h("audio", { controls: true, src: s });
      else body = h("div", { class: "text-value" }, typeof s === "string" ? s : JSON.stringify(s));
      this.side.replaceChildren(head, body);
    } catch (e) {
      this.side.replaceChildren(head, errorBox(e));
    }
  }

  destroy(): void {
    this.stop();
    this.thumbs.stop();
    this.stopProgress();
    this.chart2.destroy();
  }
}
