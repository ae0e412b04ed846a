/** Exceptions: box plot of a tensor over steps; per step a heat map, a histogram and outliers. */
import { getJSON } from "../api";
import { App, Change, h, View, fmtNum } from "../app";
import { num, nums } from "../data/numbers";
import { EChart } from "../echarts";
import { html, tip } from "../escape";
import { errorBox, picker } from "./common";

export class ExceptionsView implements View {
  el: HTMLElement;
  private runP = picker("Run", "exc-run", () => this.load());
  private tagP = picker("Tag", "exc-tag", () => this.load());
  private stepP = picker("Step", "exc-step", () => this.loadStep());
  private box = new EChart(280, "echart exc-box");
  private heat = new EChart(360, "echart exc-heat");
  private hist = new EChart(260, "echart exc-hist");
  private outliers = h("div", { class: "exc-outliers" });
  private info = h("div", { class: "muted exc-info" });
  private steps: number[] = [];
  private boxes: number[][][] = [];
  private seq = 0;

  constructor(private app: App) {
    this.el = h("section", { class: "view view-exception" },
      h("div", { class: "toolbar" }, this.runP.el, this.tagP.el, this.stepP.el),
      h("div", { class: "card" }, h("div", { class: "card-head" }, h("span", { class: "card-title" }, "Box plot over steps (click a step)")), this.box.el),
      h("div", { class: "exc-grid" },
        h("div", { class: "card" }, h("div", { class: "card-head" }, h("span", { class: "card-title" }, "Heat map (outliers ringed)")), this.info, this.heat.el),
        h("div", { class: "card" }, h("div", { class: "card-head" }, h("span", { class: "card-title" }, "Histogram")), this.hist.el, this.outliers)));
    this.box.whenReady((c) => c.on("click", (p: any) => {
      const s = this.steps[p.dataIndex];
      if (s !== undefined) {
        this.stepP.sel.value = String(s);
        this.loadStep();
      }
    }));
    this.update("categories");
  }

  update(_c: Change): void {
    const runs = this.app.activeRuns().filter((r) => this.app.cat.get(r)?.get("exception")?.size);
    const prev = `${this.runP.sel.value}|${this.tagP.sel.value}`;
    this.runP.set(runs);
    this.tagP.set([...(this.app.cat.get(this.runP.sel.value)?.get("exception") || [])].sort());
    if (`${this.runP.sel.value}|${this.tagP.sel.value}` !== prev || !this.steps.length) this.load();
  }

  private async load(): Promise<void> {
    const run = this.runP.sel.value;
    this.tagP.set([...(this.app.cat.get(run)?.get("exception") || [])].sort());
    const tag = this.tagP.sel.value;
    if (!run || !tag) return;
    try {
      const d = await getJSON("exception", { run, tag });
      const e = d?.[tag] ?? d;
      this.steps = nums(e?.step);
      this.boxes = (e?.box || []).map((b: unknown[][]) => [nums(b[0]), nums(b[1])]);
      this.stepP.set(this.steps.map(String));
      if (this.steps.length) this.stepP.sel.value = String(this.steps[this.steps.length - 1]);
      this.renderBox();
      this.loadStep();
    } catch (err) {
      this.info.replaceChildren(errorBox(err));
    }
  }

  private renderBox(): void {
    // ECharts boxplot wants [min, Q1, median, Q3, max]; TS-VIS gives [up, q3, median, q1, down].
    const data = this.boxes.map((b) => [b[0][4], b[0][3], b[0][2], b[0][1], b[0][0]]);
    const out: Array<[number, number]> = [];
    this.boxes.forEach((b, i) => {
      const [p0, , , , , p100] = b[1] || [];
      if (Number.isFinite(p0) && p0 < b[0][4]) out.push([i, p0]);
      if (Number.isFinite(p100) && p100 > b[0][0]) out.push([i, p100]);
    });
    this.box.set({
      animation: false,
      grid: { left: 60, right: 20, top: 16, bottom: 40 },
      tooltip: { trigger: "item", formatter: tip((p: any) => (p.seriesType === "boxplot"
        ? html`step ${this.steps[p.dataIndex]}<br>up ${fmtNum(p.data[5])}<br>q3 ${fmtNum(p.data[4])}<br>median ${fmtNum(p.data[3])}<br>q1 ${fmtNum(p.data[2])}<br>down ${fmtNum(p.data[1])}`
        : html`step ${this.steps[p.data[0]]}: ${fmtNum(p.data[1])} (outside the whiskers)`)) },
      xAxis: { type: "category", data: this.steps.map(String), name: "step" },
      yAxis: { type: "value", scale: true },
      dataZoom: this.steps.length > 60 ? [{ type: "slider", height: 14, bottom: 4 }] : [],
      series: [
        { type: "boxplot", data, itemStyle: { color: "#cfe3f6", borderColor: "#1f77b4" } },
        { type: "scatter", data: out, symbolSize: 6, itemStyle: { color: "#d62728" } },
      ],
    });
    this.box.el.dataset.steps = String(this.steps.length);
  }

  private async loadStep(): Promise<void> {
    const run = this.runP.sel.value, tag = this.tagP.sel.value, step = this.stepP.sel.value;
    if (!run || !tag || step === "") return;
    const seq = ++this.seq;
    const i = this.steps.indexOf(Number(step));
    const b = this.boxes[i];
    try {
      const [data, hist] = await Promise.all([
        getJSON("exception_data", { run, tag, step }),
        getJSON("exception_hist", { run, tag, step }).catch(() => null),
      ]);
      let outl: any = null;
      if (b) outl = await getJSON("exception_box", { run, tag, step, up: b[0][0], down: b[0][4] }).catch(() => null);
      if (seq !== this.seq) return;
      this.renderStep(step, data?.[step] ?? Object.values(data || {})[0], hist ? hist[step] ?? Object.values(hist)[0] : null, outl ? outl[step] ?? Object.values(outl)[0] : null);
    } catch (e) {
      this.info.replaceChildren(errorBox(e));
    }
  }

  private renderStep(step: string, d: any, hist: any, outl: any): void {
    if (!d) return;
    const [shape, mn, mx, mean] = [d[0], num(d[1]), num(d[2]), num(d[3])];
    let matrix: unknown[] = d[4] || [];
    if (!Array.isArray(matrix[0])) matrix = [matrix];
    const rows = matrix.length;
    const cols = (matrix[0] as unknown[]).length;
    const cells: Array<[number, number, number]> = [];
    (matrix as unknown[][]).forEach((r, y) => r.forEach((v, x) => cells.push([x, rows - 1 - y, num(v)])));
    const coords: Array<[number, number]> = [];
    const values: number[] = outl ? nums(outl[0]) : [];
    if (outl && Array.isArray(outl[1])) {
      for (const c of outl[1] as number[][]) {
        if (rows === 1) coords.push([Number(c[0]), 0]);
        else coords.push([Number(c[1]), rows - 1 - Number(c[0])]);
      }
    }
    this.info.textContent = `step ${step} · shape ${JSON.stringify(shape)} · min ${fmtNum(mn)} · max ${fmtNum(mx)} · mean ${fmtNum(mean)}`;
    this.heat.set({
      animation: false,
      grid: { left: 40, right: 80, top: 10, bottom: 30 },
      tooltip: { formatter: tip((p: any) => html`[${rows - 1 - p.data[1]}, ${p.data[0]}] = ${fmtNum(p.data[2])}`) },
      xAxis: { type: "category", data: Array.from({ length: cols }, (_, i) => i), splitArea: { show: false } },
      yAxis: { type: "category", data: Array.from({ length: rows }, (_, i) => rows - 1 - i) },
      visualMap: { min: Number.isFinite(mn) ? mn : 0, max: Number.isFinite(mx) ? mx : 1, calculable: true, orient: "vertical", right: 0, top: "center", itemHeight: 200, inRange: { color: ["#313695", "#74add1", "#ffffbf", "#f46d43", "#a50026"] }, seriesIndex: 0 },
      series: [
        { type: "heatmap", data: cells, progressive: 20000 },
        { type: "scatter", data: coords, symbol: "rect", symbolSize: 8, itemStyle: { color: "transparent", borderColor: "#000", borderWidth: 1.5 }, z: 5 },
      ],
    });
    this.heat.el.dataset.cells = String(cells.length);
    this.heat.el.dataset.step = step;
    if (hist) {
      // {step: [[min, max, buckets]]}: note the extra list.
      const hh: any[] = Array.isArray(hist[0]) && Array.isArray(hist[0][2]) ? hist[0] : hist;
      const buckets: number[][] = (hh[2] || []).map((x: unknown[]) => nums(x));
      this.hist.set({
        animation: false,
        grid: { left: 50, right: 16, top: 10, bottom: 40 },
        tooltip: { trigger: "axis" },
        xAxis: { type: "category", data: buckets.map((x) => fmtNum((x[0] + x[1]) / 2)) },
        yAxis: { type: "value" },
        series: [{ type: "bar", data: buckets.map((x) => x[2]), itemStyle: { color: "#4e79a7" }, barCategoryGap: "5%" }],
      });
    }
    const total = rows * cols || 1;
    this.outliers.replaceChildren(
      h("div", {}, h("b", {}, `${values.length} outliers`), ` (${((values.length / total) * 100).toFixed(2)}%) outside [${fmtNum(this.boxes[this.steps.indexOf(Number(step))]?.[0][4])}, ${fmtNum(this.boxes[this.steps.indexOf(Number(step))]?.[0][0])}]`),
      h("div", { class: "outlier-list" }, values.slice(0, 40).map((v, i) => `${JSON.stringify((outl?.[1] || [])[i])}: ${fmtNum(v)}`).join(" · ")),
    );
    this.outliers.dataset.count = String(values.length);
  }

  destroy(): void {
    this.box.destroy();
    this.heat.destroy();
    this.hist.destroy();
  }
}
