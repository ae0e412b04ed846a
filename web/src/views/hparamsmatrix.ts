/**
 * HParams scatter matrix (TensorBoard's "scatter plot matrix view"): one small scatter plot per
 * (hyperparameter, metric) pair, hyperparameters across, metrics down; each trial a point in its
 * run's colour. Trials outside the ranges brushed on the parallel coordinates are faded.
 * A numeric axis whose positive values span two decades or more is logarithmic (learning rates).
 */
import { html, tip } from "../escape";
import { columnValue, type Column, type Trial } from "../trials";

const CELL_H = 150;

/** Whether a numeric column reads better on a log axis: all positive, max/min >= 100. */
export function logAxis(values: readonly number[]): boolean {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length < 2 || v.some((x) => x <= 0)) return false;
  return Math.max(...v) / Math.min(...v) >= 100;
}

function axis(c: Column, rows: readonly Trial[], gridIndex: number, named: boolean, horizontal: boolean): any {
  const common = {
    gridIndex,
    name: named ? c.name : "",
    nameLocation: "middle",
    nameGap: horizontal ? 24 : 44,
    nameTextStyle: { color: c.kind === "metric" ? "#c0392b" : "#333", fontSize: 11 },
    axisLabel: { show: named, fontSize: 10, hideOverlap: true },
    splitLine: { lineStyle: { color: "#f0f0f0" } },
  };
  if (!c.numeric) return { ...common, type: "category", data: c.categories, boundaryGap: true };
  const vals = rows.map((r) => Number(columnValue(r, c)));
  return { ...common, type: logAxis(vals) ? "log" : "value", scale: true };
}

/** Height (px) of the matrix chart for `metrics` rows. */
export function matrixHeight(metrics: number): number {
  return Math.max(1, metrics) * CELL_H + 70;
}

/**
 * The ECharts option of the matrix. `inside`: trials inside the brushed ranges (null: no brush);
 * `color`: a trial's colour.
 */
export function scatterMatrixOption(rows: readonly Trial[], cols: readonly Column[], inside: Set<string> | null, color: (run: string) => string): any {
  const hp = cols.filter((c) => c.kind === "hparam");
  const mt = cols.filter((c) => c.kind === "metric");
  if (!hp.length || !mt.length) {
    return { title: { text: hp.length ? "no metrics to plot against" : "no hyperparameters", left: "center", top: "middle", textStyle: { color: "#999", fontSize: 13 } } };
  }
  const left = 9, right = 2, top = 3, bottom = 60 / matrixHeight(mt.length) * 100;
  const cw = (100 - left - right) / hp.length, ch = (100 - top - bottom) / mt.length;
  const grid: any[] = [], xAxis: any[] = [], yAxis: any[] = [], series: any[] = [];
  mt.forEach((m, i) => hp.forEach((p, j) => {
    const k = grid.length;
    grid.push({ left: `${left + j * cw + 0.8}%`, width: `${cw - 1.6}%`, top: `${top + i * ch + 1}%`, height: `${ch - 3}%`, show: true, borderColor: "#dde1e6" });
    xAxis.push(axis(p, rows, k, i === mt.length - 1, true));
    yAxis.push(axis(m, rows, k, j === 0, false));
    const data = [];
    for (const r of rows) {
      const x = columnValue(r, p), y = columnValue(r, m);
      if (x === undefined || x === null || y === undefined || y === null) continue;
      const faded = inside !== null && !inside.has(r.trial);
      data.push({
        value: [p.numeric ? Number(x) : String(x), Number(y)],
        trial: r.trial, hparam: p.name, metric: m.name, hv: String(x), mv: Number(y),
        itemStyle: { color: color(r.trial), opacity: faded ? 0.12 : 0.95, borderColor: faded ? "transparent" : "#fff", borderWidth: 1 },
      });
    }
    series.push({ type: "scatter", xAxisIndex: k, yAxisIndex: k, symbolSize: 9, data, name: `${p.name} × ${m.name}`, emphasis: { scale: 1.6 } });
  }));
  return {
    animation: false,
    tooltip: { trigger: "item", formatter: tip((q: any) => html`<b>${q.data?.trial}</b><br>${q.data?.hparam} = ${q.data?.hv}<br>${q.data?.metric} = ${q.data?.mv}`) },
    grid, xAxis, yAxis, series,
  };
}
