/**
 * Pure helpers of the scalar charts (unit-tested in test/scalarmath.test.ts): TensorBoard's
 * y-domain with and without outliers, non-finite point markers, nearest points for the
 * tooltip, and wall / relative time labels.
 */

/** The finite values (log10 of the positive ones for a log axis), ascending, in a typed array (fast to sort). */
function finiteSorted(values: Iterable<number | null | undefined>, log: boolean): Float64Array {
  const tmp: number[] = [];
  for (const x of values) if (x !== null && x !== undefined && Number.isFinite(x) && (!log || x > 0)) tmp.push(log ? Math.log10(x) : x);
  return Float64Array.from(tmp).sort();
}

/** d3.quantile of an ascending array: linear interpolation at (n - 1) * p. */
export function quantileSorted(a: ArrayLike<number>, p: number): number {
  const n = a.length;
  if (!n) return NaN;
  if (p <= 0 || n < 2) return a[0];
  if (p >= 1) return a[n - 1];
  const i = (n - 1) * p, i0 = Math.floor(i);
  return a[i0] + (a[i0 + 1] - a[i0]) * (i - i0);
}

/** d3's tickIncrement made positive: a 1, 2 or 5 x 10^k step giving about `count` ticks. */
export function niceStep(lo: number, hi: number, count = 10): number {
  const raw = (hi - lo) / count;
  if (!(raw > 0) || !Number.isFinite(raw)) return 0;
  const power = Math.floor(Math.log10(raw));
  const err = raw / Math.pow(10, power);
  const f = err >= Math.sqrt(50) ? 10 : err >= Math.sqrt(10) ? 5 : err >= Math.sqrt(2) ? 2 : 1;
  return f * Math.pow(10, power);
}

/** d3's `linear.nice()`: widen [lo, hi] to multiples of a nice step (until stable). */
export function nice(lo: number, hi: number, count = 10): [number, number] {
  let prev = 0;
  for (let k = 0; k < 10; k++) {
    const step = niceStep(lo, hi, count);
    if (!step || step === prev) break;
    lo = Math.floor(lo / step) * step;
    hi = Math.ceil(hi / step) * step;
    prev = step;
  }
  return [lo, hi];
}

/**
 * TensorBoard's y domain (vz_chart_helpers.computeDomain): finite values only; with
 * `ignoreOutliers`, from the 5th to the 95th percentile instead of min to max; 20 % padding
 * each side (a flat line: |a| * 1.1 + 1.1); zero included when that less than doubles the
 * span; then made nice. So one run that diverges for the last few percent of the points
 * no longer squashes every other run into a flat line at the bottom of the chart.
 * Null when there is no finite value.
 */
export function computeDomain(values: Iterable<number | null | undefined>, ignoreOutliers: boolean): [number, number] | null {
  const v = finiteSorted(values, false);
  if (!v.length) return null;
  const a = ignoreOutliers ? quantileSorted(v, 0.05) : v[0];
  const b = ignoreOutliers ? quantileSorted(v, 0.95) : v[v.length - 1];
  const span = b - a;
  const pad = span === 0 ? Math.abs(a) * 1.1 + 1.1 : span * 0.2;
  const lower = a >= 0 && a < span ? -0.1 * b : a - pad;
  return nice(lower, b + pad);
}

/**
 * The same on a log axis: the 5th-95th percentile (or min-max) of the positive values, in
 * log10; the chart widens it to whole decades as uPlot's log axes are.
 */
export function computeLogDomain(values: Iterable<number | null | undefined>, ignoreOutliers: boolean): [number, number] | null {
  const v = finiteSorted(values, true);
  if (!v.length) return null;
  const a = ignoreOutliers ? quantileSorted(v, 0.05) : v[0];
  const b = ignoreOutliers ? quantileSorted(v, 0.95) : v[v.length - 1];
  return [Math.pow(10, a), Math.pow(10, b)];
}

export type NonFiniteKind = "nan" | "inf" | "-inf";

export interface NonFinitePoint {
  /** Index in the series. */
  i: number;
  kind: NonFiniteKind;
  /** For NaN: the nearest finite value before it (else after it), where its marker sits. */
  ref: number | null;
}

/**
 * The non-finite points of `values` (written NaN or +-Inf, which a line cannot show), with the
 * value a NaN marker is drawn at: TensorBoard's line chart drew NaN at the last finite value.
 */
export function nonFinitePoints(values: readonly number[], ref: readonly number[] = values): NonFinitePoint[] {
  const out: NonFinitePoint[] = [];
  let last: number | null = null;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v)) {
      if (Number.isFinite(ref[i])) last = ref[i];
      continue;
    }
    if (v === null || v === undefined) continue;
    const kind: NonFiniteKind = Number.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf";
    out.push({ i, kind, ref: last });
  }
  for (const p of out) {
    if (p.ref !== null) continue;
    for (let j = p.i + 1; j < ref.length; j++) if (Number.isFinite(values[j]) && Number.isFinite(ref[j])) { p.ref = ref[j]; break; }
  }
  return out;
}

/** Index of the x in ascending `xs` nearest to `x` (-1 when empty). */
export function nearestIndex(xs: readonly number[], x: number): number {
  const n = xs.length;
  if (!n || !Number.isFinite(x)) return n ? n - 1 : -1;
  let lo = 0, hi = n - 1;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (xs[m] < x) lo = m + 1; else hi = m;
  }
  if (lo > 0 && Math.abs(xs[lo - 1] - x) <= Math.abs(xs[lo] - x)) return lo - 1;
  return lo;
}

const pad2 = (n: number) => String(n).padStart(2, "0");

/** Wall time as `YYYY-MM-DD HH:MM:SS` in local time (the same text in every browser). */
export function fmtWall(sec: number): string {
  if (!Number.isFinite(sec)) return "";
  const d = new Date(sec * 1000);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** Seconds since the run's first point: `42s`, `3m 05s`, `2h 04m`, `3d 07h`. */
export function fmtRelative(sec: number): string {
  if (!Number.isFinite(sec)) return "";
  const neg = sec < 0 ? "-" : "";
  let s = Math.abs(sec);
  if (s < 60) return `${neg}${Math.round(s * 10) / 10}s`;
  s = Math.round(s);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  if (d) return `${neg}${d}d ${pad2(h)}h`;
  if (h) return `${neg}${h}h ${pad2(m)}m`;
  return `${neg}${m}m ${pad2(r)}s`;
}
