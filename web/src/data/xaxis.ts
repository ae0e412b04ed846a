/**
 * The x axis of the scalar charts: x values per axis mode, series aligned for uPlot, an x
 * range back to steps, relative-time labels (unit-tested in test/xaxis.test.ts).
 */
import type { Series } from "./series";

export type XAxisMode = "step" | "relative" | "wall";

/** x values of a series for the x-axis mode (relative = hours since the run's first point). */
export function xValues(s: Series, mode: XAxisMode, runStart?: number): number[] {
  if (mode === "step") return s.steps;
  if (mode === "wall") return s.wall;
  const t0 = runStart ?? (s.wall.length ? s.wall[0] : 0);
  return s.wall.map((w) => (w - t0) / 3600);
}

/**
 * Align several (x sorted ascending) series on the union of their x values, as uPlot wants:
 * returns [xs, ys_0, ys_1, ...] with null where a series has no point at an x.
 */
export function alignSeries(xs: number[][], ys: number[][][]): [number[], ...(number | null)[][]] {
  // Fast path: all x arrays identical.
  const k = xs.length;
  if (k === 0) return [[]];
  let same = true;
  for (let i = 1; i < k && same; i++) {
    const a = xs[0], b = xs[i];
    if (a !== b && (a.length !== b.length || a[0] !== b[0] || a[a.length - 1] !== b[b.length - 1])) same = false;
    else if (a !== b) {
      for (let j = 0; j < a.length; j++) if (a[j] !== b[j]) { same = false; break; }
    }
  }
  if (same) {
    const out: [number[], ...(number | null)[][]] = [xs[0]];
    for (let i = 0; i < k; i++) for (const y of ys[i]) out.push(y.map(clean));
    return out;
  }
  // k-way merge of the sorted x arrays.
  const union: number[] = [];
  const idx = new Array<number>(k).fill(0);
  for (;;) {
    let best = Infinity;
    for (let i = 0; i < k; i++) if (idx[i] < xs[i].length && xs[i][idx[i]] < best) best = xs[i][idx[i]];
    if (best === Infinity) break;
    union.push(best);
    for (let i = 0; i < k; i++) while (idx[i] < xs[i].length && xs[i][idx[i]] === best) idx[i]++;
  }
  const out: [number[], ...(number | null)[][]] = [union];
  for (let i = 0; i < k; i++) {
    const x = xs[i];
    for (const y of ys[i]) {
      const col = new Array<number | null>(union.length).fill(null);
      let j = 0;
      for (let u = 0; u < union.length && j < x.length; u++) {
        if (union[u] === x[j]) {
          col[u] = clean(y[j]);
          j++;
          while (j < x.length && x[j] === x[j - 1]) j++;
        }
      }
      out.push(col);
    }
  }
  return out;
}

function clean(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/** Map an x range in the given axis mode back to a step range of one series. */
export function stepRangeForX(s: Series, mode: XAxisMode, x0: number, x1: number, runStart?: number): [number, number] | null {
  if (s.steps.length === 0) return null;
  if (mode === "step") return [Math.floor(x0), Math.ceil(x1)];
  const xv = xValues(s, mode, runStart);
  let lo = -1, hi = -1;
  for (let i = 0; i < xv.length; i++) {
    if (xv[i] >= x0 && lo < 0) lo = i;
    if (xv[i] <= x1) hi = i;
  }
  if (lo < 0 || hi < lo) return null;
  // Widen by one point either side so the line reaches the edges.
  lo = Math.max(0, lo - 1);
  hi = Math.min(xv.length - 1, hi + 1);
  return [s.steps[lo], s.steps[hi]];
}

/** Relative time (hours) as a short duration: 12s, 4.5m, 3.2h, 2.1d. */
export function fmtHours(hrs: number): string {
  if (hrs === null || hrs === undefined || !Number.isFinite(hrs)) return "";
  const s = hrs * 3600;
  const a = Math.abs(s);
  const r = (v: number) => String(Math.round(v * 100) / 100);
  if (a < 60) return `${r(s)}s`;
  if (a < 3600) return `${r(s / 60)}m`;
  if (a < 86400 * 2) return `${r(s / 3600)}h`;
  return `${r(s / 86400)}d`;
}
