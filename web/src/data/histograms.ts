/** Histograms and distributions (unit-tested in test/histograms.test.ts). */
import { num } from "./numbers";

export interface HistPoint {
  wall: number;
  step: number;
  min: number;
  max: number;
  buckets: Array<[number, number, number]>; // [left, right, count]
}

export function parseHistPoint(p: unknown[]): HistPoint {
  const buckets = Array.isArray(p[4]) ? (p[4] as unknown[][]).map((b) => [num(b[0]), num(b[1]), num(b[2])] as [number, number, number]) : [];
  return { wall: num(p[0]), step: num(p[1]), min: num(p[2]), max: num(p[3]), buckets };
}

/** Basis points of the distribution view (standard normal percentiles). */
export const BASIS_POINTS = [0, 668, 1587, 3085, 5000, 6915, 8413, 9332, 10000];

/**
 * Percentiles of a histogram at BASIS_POINTS, TensorBoard's compress_histogram:
 * linear interpolation inside the bucket where the cumulative count crosses the bp,
 * clamped to [min, max].
 */
export function histogramPercentiles(h: HistPoint, bps: number[] = BASIS_POINTS): number[] {
  const b = h.buckets;
  const total = b.reduce((a, x) => a + (Number.isFinite(x[2]) ? x[2] : 0), 0);
  if (!b.length || total <= 0) return bps.map(() => (Number.isFinite(h.min) ? h.min : 0));
  const cum: number[] = [];
  let c = 0;
  for (const x of b) { c += Number.isFinite(x[2]) ? x[2] : 0; cum.push(c); }
  const lo = Number.isFinite(h.min) ? h.min : b[0][0];
  const hiV = Number.isFinite(h.max) ? h.max : b[b.length - 1][1];
  const out: number[] = [];
  let i = 0;
  for (const bp of bps) {
    const target = (total * bp) / 10000;
    while (i < b.length && cum[i] < target) i++;
    if (i >= b.length) { out.push(hiV); continue; }
    const prev = i > 0 ? cum[i - 1] : 0;
    const cnt = b[i][2];
    const left = Math.max(b[i][0], lo);
    const right = Math.min(b[i][1], hiV);
    const frac = cnt > 0 ? (target - prev) / cnt : 0;
    let v = left + (right - left) * Math.min(1, Math.max(0, frac));
    v = Math.min(Math.max(v, lo), hiV);
    out.push(v);
  }
  return out;
}

export function upsertHist(list: HistPoint[], p: HistPoint): void {
  const n = list.length;
  if (n === 0 || p.step > list[n - 1].step) { list.push(p); return; }
  let lo = 0, hi = n;
  while (lo < hi) { const m = (lo + hi) >> 1; if (list[m].step < p.step) lo = m + 1; else hi = m; }
  if (lo < n && list[lo].step === p.step) list[lo] = p; else list.splice(lo, 0, p);
}

/** Evenly pick at most k items, always keeping the first and the last. */
export function pickEven<T>(a: T[], k: number): T[] {
  if (a.length <= k) return a.slice();
  if (k <= 1) return [a[a.length - 1]];
  const out: T[] = [];
  for (let i = 0; i < k; i++) out.push(a[Math.round((i * (a.length - 1)) / (k - 1))]);
  return out;
}

/** Re-bin histogram buckets onto `n` uniform bins over [lo, hi] (counts split by overlap). */
export function rebin(buckets: Array<[number, number, number]>, lo: number, hi: number, n: number): number[] {
  const out = new Array<number>(n).fill(0);
  if (!(hi > lo) || n <= 0) {
    const total = buckets.reduce((a, b) => a + (Number.isFinite(b[2]) ? b[2] : 0), 0);
    if (n > 0) out[Math.floor(n / 2)] = total;
    return out;
  }
  const w = (hi - lo) / n;
  for (const [l0, r0, c] of buckets) {
    if (!Number.isFinite(c) || c === 0) continue;
    const l = Math.max(lo, Number.isFinite(l0) ? l0 : lo);
    const r = Math.min(hi, Number.isFinite(r0) ? r0 : hi);
    if (r <= l) {
      // Degenerate (zero-width) bucket: all its count in one bin.
      const i = Math.min(n - 1, Math.max(0, Math.floor((l - lo) / w)));
      out[i] += c;
      continue;
    }
    const i0 = Math.max(0, Math.floor((l - lo) / w));
    const i1 = Math.min(n - 1, Math.floor((r - lo) / w));
    for (let i = i0; i <= i1; i++) {
      const bl = lo + i * w, br = bl + w;
      const ov = Math.min(r, br) - Math.max(l, bl);
      if (ov > 0) out[i] += (c * ov) / (r - l);
    }
  }
  return out;
}
