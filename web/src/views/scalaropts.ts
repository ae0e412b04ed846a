/**
 * uPlot options of a scalar chart: axes (labels as wide as they need, wall-time ticks with the
 * date), the y range (TensorBoard's outlier-free domain when asked for), drag-to-zoom,
 * double-click reset, the tooltip and the extra drawing (NaN/Inf markers, thresholds).
 */
import uPlot from "uplot";
import type { Settings } from "../app";
import { AXIS_FONT, fmtTick, timeTickLabels, yAxisSize } from "../axes";
import { fmtHours } from "../data/xaxis";
import { computeDomain, computeLogDomain } from "../scalarmath";

export interface PlotHost {
  settings: Settings;
  /** The card: drawn tick labels, axis size and y range are noted on it for tests. */
  el: HTMLElement;
  width(): number;
  height(): number;
  yDomain(): [number, number] | null;
  setZoom(x0: number, x1: number): void;
  resetZoom(): void;
  tooltip(u: uPlot): void;
  /** After each redraw: draw on top of the lines. */
  drawn(u: uPlot): void;
}

/** TensorBoard's y domain over the drawn lines' points (columns `cols`) inside the x range shown. */
export function yDomainOf(data: uPlot.AlignedData, cols: number[], zoom: [number, number] | null, log: boolean): [number, number] | null {
  const x = data[0] as number[];
  const lo = zoom ? zoom[0] : -Infinity, hi = zoom ? zoom[1] : Infinity;
  const vals: number[] = [];
  for (const c of cols) {
    const a = data[c] as (number | null)[];
    for (let i = 0; i < x.length; i++) if (x[i] >= lo && x[i] <= hi && a[i] !== null) vals.push(a[i] as number);
  }
  return log ? computeLogDomain(vals, true) : computeDomain(vals, true);
}

export function plotOptions(p: PlotHost, series: uPlot.Series[], bands: uPlot.Band[]): uPlot.Options {
  const st = p.settings;
  const mode = st.xMode;
  const xlabel = mode === "step" ? "step" : mode === "relative" ? "relative time" : "";
  const y: uPlot.Scale = st.logY ? { distr: 3 } : {};
  if (st.ignoreOutliers) {
    y.range = st.logY
      ? (_u: uPlot, min: number, max: number) => uPlot.rangeLog(p.yDomain()?.[0] ?? min, p.yDomain()?.[1] ?? max, 10, true)
      : (_u: uPlot, min: number, max: number) => p.yDomain() ?? uPlot.rangeNum(min, max, 0.1, true);
  }
  /** Tick labels as drawn, on the card for tests (`data-x-ticks`, `data-y-ticks`). */
  const noteTicks = (key: "xTicks" | "yTicks", labels: string[]): string[] => {
    p.el.dataset[key] = JSON.stringify(labels);
    return labels;
  };
  return {
    width: p.width(),
    height: p.height(),
    series,
    bands,
    legend: { show: false },
    scales: { x: { time: mode === "wall" }, y },
    axes: [
      {
        label: xlabel, labelSize: xlabel ? 14 : 0, size: mode === "wall" ? 46 : xlabel ? 36 : 30, space: mode === "wall" ? 70 : 50, stroke: "#666", grid: { stroke: "#eee" }, font: AXIS_FONT,
        // Wall time: "HH:MM", plus the date on a second line where it changes.
        ...(mode === "step" ? {} : { values: (_u: uPlot, vals: number[]) => noteTicks("xTicks", mode === "wall" ? timeTickLabels(vals) : vals.map(fmtHours)) }),
      },
      {
        // As wide as the widest label: log-scale labels like "1e-4" were cut to "000e-4".
        size: (_u: uPlot, vals: string[]) => {
          const px = yAxisSize(vals);
          p.el.dataset.yAxisSize = String(px);
          return px;
        },
        stroke: "#666", grid: { stroke: "#eee" }, font: AXIS_FONT,
        values: (_u: uPlot, vals: number[]) => noteTicks("yTicks", vals.map(fmtTick)),
      },
    ],
    cursor: {
      drag: { x: true, y: false, setScale: false },
      points: { show: false },
      bind: { dblclick: (_u: uPlot, _t: HTMLElement, _h: any) => () => { p.resetZoom(); return null; } } as any,
    },
    hooks: {
      setSelect: [
        (u) => {
          const { left, width } = u.select;
          if (width > 4) {
            const x0 = u.posToVal(left, "x");
            const x1 = u.posToVal(left + width, "x");
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            p.setZoom(x0, x1);
          }
        },
      ],
      setCursor: [(u) => p.tooltip(u)],
      setScale: [(u, key) => { if (key === "y") p.el.dataset.yRange = JSON.stringify([u.scales.y.min, u.scales.y.max]); }],
      draw: [(u) => p.drawn(u)],
    },
  };
}
