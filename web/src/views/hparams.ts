/**
 * Hyperparameters: parallel coordinates of the trials against their metrics, and a sortable
 * table. Dragging along an axis brushes a range (several axes: all must hold); the table then
 * lists only the trials inside, as TensorBoard's. Each trial is drawn in its run's colour
 * (for an experiment's sessions, the session run's). Re-read when new data is committed.
 */
import { getJSON } from "../api";
import { App, Change, h, swatch, View, fmtNum } from "../app";
import { runColor } from "../colors";
import { hparamColumns, hparamRows, type HparamRow } from "../data/hparamrows";
import { naturalCompare } from "../data/natsort";
import { EChart } from "../echarts";
import { html, tip } from "../escape";
import { brushed, columnValue, trials, type Brush, type Trial } from "../trials";
import { errorBox, onNewData } from "./common";
import { matrixHeight, scatterMatrixOption } from "./hparamsmatrix";

export class HparamsView implements View {
  el: HTMLElement;
  private chart = new EChart(380, "echart hparams-parallel");
  private matrix = new EChart(220, "echart hparams-matrix");
  private table = h("div", { class: "hparams-table-wrap" });
  private status = h("span", { class: "hparams-status muted" });
  private clear = h("button", { class: "btn hparams-clear", hidden: true }, "clear brushing");
  private rows: Trial[] = [];
  private errors: HTMLElement[] = [];
  private brush: Brush = new Map();
  private sortKey = "run";
  private sortDir = 1;
  private runsKey = "";
  private rowsSig = "";
  private seq = 0;
  private stop: () => void;

  constructor(private app: App) {
    this.el = h("section", { class: "view view-hparams" },
      h("div", { class: "card" }, h("div", { class: "card-head" }, h("span", { class: "card-title" }, "Parallel coordinates"), h("span", { class: "muted hint" }, "drag along an axis to filter the table")), this.chart.el),
      h("div", { class: "card" }, h("div", { class: "card-head" }, h("span", { class: "card-title" }, "Table"), this.status, this.clear), this.table),
      h("div", { class: "card" }, h("div", { class: "card-head" }, h("span", { class: "card-title" }, "Scatter matrix"), h("span", { class: "muted hint" }, "each metric against each hyperparameter; trials outside the brushed ranges are faded")), this.matrix.el));
    this.clear.addEventListener("click", () => {
      this.brush.clear();
      this.renderChart();
      this.renderTable();
    });
    this.chart.whenReady((c) => c.on("axisareaselected", () => this.onBrush(c)));
    this.update("categories");
    // One request per run: re-read when the cursor moves (at most every 5 s), poll rarely.
    this.stop = onNewData(app, () => this.load(true), 5000, 60000);
  }

  private runs(): string[] {
    return this.app.activeRuns().filter((r) => {
      const k = this.app.cat.get(r);
      return k?.get("hyperparm")?.size || k?.get("hparams")?.size;
    });
  }

  update(c: Change): void {
    if (c === "colors") {
      this.renderTable();
      this.renderChart();
      return;
    }
    if (c === "settings") return;
    const key = this.runs().join("\u0000");
    if (key === this.runsKey) return;
    this.runsKey = key;
    this.load(false);
  }

  private async load(quiet: boolean): Promise<void> {
    const seq = ++this.seq;
    const all: HparamRow[] = [];
    const errors: HTMLElement[] = [];
    await Promise.all(
      this.runs().map(async (run) => {
        try {
          all.push(...hparamRows(run, await getJSON("hyperparm", { run })));
        } catch (e) {
          errors.push(errorBox(`${run}: ${e}`));
        }
      }),
    );
    if (seq !== this.seq) return;
    const rows = trials(all, (r) => this.app.cat.has(r)).sort((a, b) => naturalCompare(a.trial, b.trial) || naturalCompare(a.group, b.group));
    const sig = JSON.stringify(rows);
    if (quiet && sig === this.rowsSig && !errors.length && !this.errors.length) return;
    this.rowsSig = sig;
    this.rows = rows;
    this.errors = errors;
    this.renderTable();
    this.renderChart();
  }

  /** The intervals brushed on each axis, read from the chart after a drag. */
  private onBrush(c: any): void {
    const cols = hparamColumns(this.rows);
    this.brush.clear();
    cols.forEach((col, i) => {
      const m = c.getModel().getComponent("parallelAxis", i);
      const iv: Array<[number, number]> = (m?.activeIntervals ?? []).map((x: number[]) => [Number(x[0]), Number(x[1])]);
      if (iv.length) this.brush.set(col.name, iv);
    });
    this.renderTable();
  }

  private value(r: Trial, key: string): unknown {
    if (key === "run") return r.trial;
    if (key === "group") return r.group;
    if (key.startsWith("h:")) return r.hparams[key.slice(2)];
    return r.metrics[key.slice(2)];
  }

  private renderTable(): void {
    const cols = hparamColumns(this.rows);
    const keys = ["run", "group", ...cols.map((c) => (c.kind === "hparam" ? "h:" : "m:") + c.name)];
    const labels = ["run", "group", ...cols.map((c) => c.name)];
    const shown = brushed(this.rows, cols, this.brush).sort((a, b) => {
      const x = this.value(a, this.sortKey), y = this.value(b, this.sortKey);
      if (typeof x === "number" && typeof y === "number") return (x - y) * this.sortDir;
      return naturalCompare(String(x ?? ""), String(y ?? "")) * this.sortDir;
    });
    const head = h("tr", {}, ...keys.map((k, i) => h("th", { class: (k.startsWith("m:") ? "metric" : "") + (k === this.sortKey ? " sorted" : ""), onclick: () => { this.sortDir = k === this.sortKey ? -this.sortDir : 1; this.sortKey = k; this.renderTable(); } }, labels[i] + (k === this.sortKey ? (this.sortDir > 0 ? " ▲" : " ▼") : ""))));
    const body = shown.map((r) => h("tr", { "data-trial": r.trial }, ...keys.map((k) => {
      const v = this.value(r, k);
      const td = h("td", {}, typeof v === "number" ? fmtNum(v) : v === undefined ? "" : String(v));
      if (k === "run") td.prepend(swatch(r.trial));
      return td;
    })));
    this.table.replaceChildren(...this.errors, h("table", { class: "hparams-table" }, h("thead", {}, head), h("tbody", {}, ...body)));
    this.table.dataset.rows = String(shown.length);
    this.table.dataset.total = String(this.rows.length);
    const filtering = [...this.brush.values()].some((v) => v.length);
    this.clear.hidden = !filtering;
    this.status.textContent = filtering ? `${shown.length} of ${this.rows.length} trials in the brushed ranges` : `${this.rows.length} trials`;
    if (!this.rows.length && !this.errors.length) this.table.append(h("div", { class: "muted" }, "no hyperparameters in the selected runs"));
    this.renderMatrix(cols, filtering ? new Set(shown.map((r) => r.trial)) : null);
  }

  private renderMatrix(cols: ReturnType<typeof hparamColumns>, inside: Set<string> | null): void {
    const metrics = cols.filter((c) => c.kind === "metric").length;
    this.matrix.el.style.height = `${matrixHeight(metrics)}px`;
    this.matrix.chart?.resize();
    this.matrix.set(scatterMatrixOption(this.rows, cols, inside, runColor));
    this.matrix.el.dataset.cells = String(cols.filter((c) => c.kind === "hparam").length * metrics);
    this.matrix.el.dataset.faded = inside ? String(this.rows.filter((r) => !inside.has(r.trial)).length) : "0";
  }

  private renderChart(): void {
    const cols = hparamColumns(this.rows);
    if (!cols.length) {
      this.chart.set({ title: { text: "no hyperparameters", left: "center", top: "middle", textStyle: { color: "#999", fontSize: 13 } } });
      return;
    }
    const parallelAxis = cols.map((c, i) => (c.numeric
      ? { dim: i, name: c.name, type: "value", scale: true, nameTextStyle: { color: c.kind === "metric" ? "#c0392b" : "#333" } }
      : { dim: i, name: c.name, type: "category", data: c.categories }));
    const data = this.rows.map((r) => ({
      value: cols.map((c) => {
        const v = columnValue(r, c);
        if (c.numeric) return v === undefined ? null : Number(v);
        return v === undefined ? null : String(v);
      }),
      name: `${r.trial} · ${r.group}`,
      run: r.trial,
      group: r.group,
      lineStyle: { color: runColor(r.trial) },
    }));
    this.chart.set({
      animation: false,
      tooltip: { trigger: "item", formatter: tip((p: any) => html`<b>${p.data?.run}</b> · ${p.data?.group}`) },
      parallel: { left: 60, right: 80, top: 40, bottom: 30 },
      parallelAxis,
      series: [{ type: "parallel", data, lineStyle: { width: 2, opacity: 0.85 }, inactiveOpacity: 0.08, activeOpacity: 1, emphasis: { lineStyle: { width: 4, opacity: 1 } } }],
    });
    // A re-render (new data) drops ECharts' brush: apply the kept ranges again.
    const brush = this.brush;
    this.chart.whenReady((c) => cols.forEach((col, i) => {
      const iv = brush.get(col.name);
      if (iv?.length) c.dispatchAction({ type: "axisAreaSelect", parallelAxisIndex: i, intervals: iv });
    }));
  }

  destroy(): void {
    this.stop();
    this.chart.destroy();
    this.matrix.destroy();
  }
}
