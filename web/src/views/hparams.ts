/** Hyperparameters: a sortable table and a parallel-coordinates view against the metrics. */
import { getJSON } from "../api";
import { App, Change, h, swatch, View, fmtNum } from "../app";
import { runColor } from "../colors";
import { EChart } from "../echarts";
import { html, tip } from "../escape";
import { hparamColumns, hparamRows, naturalCompare, type HparamRow } from "../shape";
import { errorBox } from "./common";

export class HparamsView implements View {
  el: HTMLElement;
  private chart = new EChart(380, "echart hparams-parallel");
  private table = h("div", { class: "hparams-table-wrap" });
  private rows: HparamRow[] = [];
  private sortKey = "run";
  private sortDir = 1;
  private loadedRuns = "";
  private seq = 0;

  constructor(private app: App) {
    this.el = h("section", { class: "view view-hparams" }, h("div", { class: "card" }, h("div", { class: "card-head" }, h("span", { class: "card-title" }, "Parallel coordinates")), this.chart.el), h("div", { class: "card" }, h("div", { class: "card-head" }, h("span", { class: "card-title" }, "Table")), this.table));
    this.update("categories");
  }

  update(c: Change): void {
    if (c === "colors") {
      this.renderTable();
      this.renderChart();
      return;
    }
    const runs = this.app.activeRuns().filter((r) => {
      const k = this.app.cat.get(r);
      return k?.get("hyperparm")?.size || k?.get("hparams")?.size;
    });
    const key = runs.join("\u0000");
    if (key === this.loadedRuns) return;
    this.loadedRuns = key;
    this.load(runs);
  }

  private async load(runs: string[]): Promise<void> {
    const seq = ++this.seq;
    const all: HparamRow[] = [];
    const errors: HTMLElement[] = [];
    await Promise.all(
      runs.map(async (run) => {
        try {
          all.push(...hparamRows(run, await getJSON("hyperparm", { run })));
        } catch (e) {
          errors.push(errorBox(`${run}: ${e}`));
        }
      }),
    );
    if (seq !== this.seq) return;
    this.rows = all.sort((a, b) => naturalCompare(a.run, b.run) || naturalCompare(a.group, b.group));
    this.renderTable(errors);
    this.renderChart();
  }

  private value(r: HparamRow, key: string): unknown {
    if (key === "run") return r.run;
    if (key === "group") return r.group;
    if (key.startsWith("h:")) return r.hparams[key.slice(2)];
    return r.metrics[key.slice(2)];
  }

  private renderTable(errors: HTMLElement[] = []): void {
    const cols = hparamColumns(this.rows);
    const keys = ["run", "group", ...cols.map((c) => (c.kind === "hparam" ? "h:" : "m:") + c.name)];
    const labels = ["run", "group", ...cols.map((c) => c.name)];
    const rows = this.rows.slice().sort((a, b) => {
      const x = this.value(a, this.sortKey), y = this.value(b, this.sortKey);
      if (typeof x === "number" && typeof y === "number") return (x - y) * this.sortDir;
      return naturalCompare(String(x ?? ""), String(y ?? "")) * this.sortDir;
    });
    const head = h("tr", {}, ...keys.map((k, i) => h("th", { class: (k.startsWith("m:") ? "metric" : "") + (k === this.sortKey ? " sorted" : ""), onclick: () => { this.sortDir = k === this.sortKey ? -this.sortDir : 1; this.sortKey = k; this.renderTable(); } }, labels[i] + (k === this.sortKey ? (this.sortDir > 0 ? " ▲" : " ▼") : ""))));
    const body = rows.map((r) => h("tr", {}, ...keys.map((k) => {
      const v = this.value(r, k);
      const td = h("td", {}, typeof v === "number" ? fmtNum(v) : v === undefined ? "" : String(v));
      if (k === "run") td.prepend(swatch(r.run));
      return td;
    })));
    this.table.replaceChildren(...errors, h("table", { class: "hparams-table" }, h("thead", {}, head), h("tbody", {}, ...body)));
    this.table.dataset.rows = String(rows.length);
    if (!rows.length && !errors.length) this.table.append(h("div", { class: "muted" }, "no hyperparameters in the selected runs"));
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
        const v = c.kind === "hparam" ? r.hparams[c.name] : r.metrics[c.name];
        if (c.numeric) return v === undefined ? null : Number(v);
        return v === undefined ? null : String(v);
      }),
      name: `${r.run} · ${r.group}`,
      run: r.run,
      group: r.group,
      lineStyle: { color: runColor(r.run) },
    }));
    this.chart.set({
      animation: false,
      tooltip: { trigger: "item", formatter: tip((p: any) => html`<b>${p.data?.run}</b> · ${p.data?.group}`) },
      parallel: { left: 60, right: 80, top: 40, bottom: 30 },
      parallelAxis,
      series: [{ type: "parallel", data, lineStyle: { width: 2, opacity: 0.8 }, emphasis: { lineStyle: { width: 4, opacity: 1 } } }],
    });
  }

  destroy(): void {
    this.chart.destroy();
  }
}
