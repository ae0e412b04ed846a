/**
 * The scalar charts' tooltip, as TensorBoard's: for each line its point nearest to the cursor,
 * with the smoothed and raw value, step, wall time and time since the run's first point.
 * Built from text nodes only (names are user data).
 */
import type uPlot from "uplot";
import { h, fmtNum, swatch, type Settings } from "../app";
import type { Series } from "../data/series";
import { fmtHours } from "../data/xaxis";
import { fmtRelative, fmtWall, nearestIndex } from "../scalarmath";

export interface TipLine {
  id: string;
  label: string;
  run: string;
  /** Fixed colour of the line (else the run's colour, repainted with the run list). */
  color?: string;
  s: Series;
  /** x of every point of `s` in the chart's x mode. */
  xv: number[];
  runStart: number | undefined;
}

function lineSwatch(l: TipLine): HTMLElement {
  return l.color ? h("span", { class: "swatch", style: { background: l.color } }) : swatch(l.run);
}

/** The tooltip's table for the cursor at x value `x`; `smoothing` adds the smoothed column. */
export function tipTable(lines: readonly TipLine[], x: number, smoothing: boolean): HTMLElement {
  const head = ["", ...(smoothing ? ["smoothed"] : []), "value", "step", "time", "relative"];
  const rows = lines.map((l) => {
    const i = nearestIndex(l.xv, x);
    if (i < 0) return null;
    const wall = l.s.wall[i];
    const rel = l.runStart !== undefined ? wall - l.runStart : NaN;
    return h("tr", { class: "tip-row", "data-line": l.id },
      h("td", { class: "tip-name" }, lineSwatch(l), h("span", { class: "tip-run" }, l.label)),
      smoothing ? h("td", { class: "tip-smoothed" }, h("b", {}, fmtNum(l.s.smoothed[i]))) : null,
      h("td", { class: smoothing ? "tip-raw" : "tip-value" }, smoothing ? fmtNum(l.s.values[i]) : h("b", {}, fmtNum(l.s.values[i]))),
      h("td", { class: "tip-step" }, String(l.s.steps[i])),
      h("td", { class: "tip-wall" }, fmtWall(wall)),
      h("td", { class: "tip-rel" }, fmtRelative(rel)),
    );
  });
  return h("table", { class: "tip-table" },
    h("thead", {}, h("tr", {}, ...head.map((t) => h("th", {}, t)))),
    h("tbody", {}, ...rows.filter((r): r is HTMLTableRowElement => r !== null)));
}

/** A chart's tooltip element and the lines it tells about (set at each draw). */
export class ChartTip {
  readonly el: HTMLElement = h("div", { class: "tooltip", hidden: true });
  lines: TipLine[] = [];

  constructor(private plotEl: HTMLElement) {}

  /** Follow uPlot's cursor: hidden off the plot, else beside the cursor inside `card`. */
  show(u: uPlot, card: HTMLElement, settings: Settings): void {
    const left = u.cursor.left;
    if (left === undefined || left === null || left < 0 || !this.lines.length) {
      this.el.hidden = true;
      return;
    }
    const cx = u.posToVal(left, "x");
    // The header names the drawn point nearest to the cursor (the rows are each line's nearest).
    let x = cx, best = Infinity;
    for (const l of this.lines) {
      const i = nearestIndex(l.xv, cx);
      if (i >= 0 && Math.abs(l.xv[i] - cx) < best) { best = Math.abs(l.xv[i] - cx); x = l.xv[i]; }
    }
    const mode = settings.xMode;
    const xs = mode === "wall" ? new Date(x * 1000).toLocaleString() : mode === "relative" ? fmtHours(x) : `step ${x}`;
    this.el.replaceChildren(h("div", { class: "tip-x" }, xs), tipTable(this.lines, cx, settings.smoothing > 0));
    this.el.hidden = false;
    const maxLeft = card.clientWidth - this.el.offsetWidth - 4;
    this.el.style.left = `${Math.max(0, Math.min(left + 72, maxLeft))}px`;
    this.el.style.top = `${(u.cursor.top ?? 0) + this.plotEl.offsetTop + 10}px`;
  }
}
