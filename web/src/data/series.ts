/**
 * Scalar series held by the client: sorted upserts, bounded memory, per-point bands
 * (unit-tested in test/series.test.ts).
 */
import { nums } from "./numbers";

export interface Series {
  steps: number[];
  wall: number[];
  values: number[];
  smoothed: number[];
  bandMin: number[] | null;
  bandMax: number[] | null;
}

export function emptySeries(): Series {
  return { steps: [], wall: [], values: [], smoothed: [], bandMin: null, bandMax: null };
}

/** First index of a sorted array whose value is >= x. */
export function lowerBound(a: readonly number[], x: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (a[m] < x) lo = m + 1; else hi = m;
  }
  return lo;
}

/**
 * Insert one point keeping steps sorted; a point at an existing step replaces it.
 * Returns "append" when it went to the end (the EMA may continue), else "insert"/"replace".
 */
export function upsertPoint(s: Series, wall: number, step: number, value: number, smoothed: number): "append" | "insert" | "replace" {
  const n = s.steps.length;
  if (n === 0 || step > s.steps[n - 1]) {
    s.steps.push(step); s.wall.push(wall); s.values.push(value); s.smoothed.push(smoothed);
    if (s.bandMin) s.bandMin.push(value);
    if (s.bandMax) s.bandMax.push(value);
    return "append";
  }
  const i = lowerBound(s.steps, step);
  if (s.steps[i] === step) {
    s.wall[i] = wall; s.values[i] = value; s.smoothed[i] = smoothed;
    if (s.bandMin) s.bandMin[i] = value;
    if (s.bandMax) s.bandMax[i] = value;
    return "replace";
  }
  s.steps.splice(i, 0, step); s.wall.splice(i, 0, wall); s.values.splice(i, 0, value); s.smoothed.splice(i, 0, smoothed);
  if (s.bandMin) s.bandMin.splice(i, 0, value);
  if (s.bandMax) s.bandMax.splice(i, 0, value);
  return "insert";
}

/**
 * Bound memory for a live series: when longer than `max`, merge the oldest points
 * into buckets that keep the band (min/max) and the last value, always keeping the final
 * `keepTail` points untouched. Returns the (possibly new) series.
 */
export function decimate(s: Series, max: number, keepTail = 64): Series {
  const n = s.steps.length;
  if (n <= max) return s;
  const head = n - keepTail;
  const out = emptySeries();
  out.bandMin = [];
  out.bandMax = [];
  const bmin = s.bandMin || s.values;
  const bmax = s.bandMax || s.values;
  // Bucket size so that the head fits in (max - keepTail) buckets; at least pairs.
  const size = Math.max(2, Math.ceil(head / Math.max(1, max - keepTail)));
  for (let i = 0; i < head; i += size) {
    const j = Math.min(i + size - 1, head - 1);
    let lo = bmin[i], hi = bmax[i];
    for (let q = i + 1; q <= j; q++) { lo = nanMin(lo, bmin[q]); hi = nanMax(hi, bmax[q]); }
    out.steps.push(s.steps[j]); out.wall.push(s.wall[j]); out.values.push(s.values[j]); out.smoothed.push(s.smoothed[j]);
    out.bandMin.push(lo);
    out.bandMax.push(hi);
  }
  for (let i = head; i < n; i++) {
    out.steps.push(s.steps[i]); out.wall.push(s.wall[i]); out.values.push(s.values[i]); out.smoothed.push(s.smoothed[i]);
    out.bandMin.push(bmin[i]); out.bandMax.push(bmax[i]);
  }
  return out;
}

function nanMin(a: number, b: number): number {
  if (Number.isNaN(a)) return b;
  if (Number.isNaN(b)) return a;
  return Math.min(a, b);
}
function nanMax(a: number, b: number): number {
  if (Number.isNaN(a)) return b;
  if (Number.isNaN(b)) return a;
  return Math.max(a, b);
}

/**
 * Per-point min/max band from the server's bucket bands ({step_start, step_end, min, max}):
 * each point gets the band of the bucket containing its step (its own value outside any).
 */
export function bandPerPoint(
  steps: number[], values: number[], band: { step_start?: unknown; step_end?: unknown; min?: unknown; max?: unknown },
): { min: number[]; max: number[] } {
  const s0 = nums(band.step_start), s1 = nums(band.step_end), lo = nums(band.min), hi = nums(band.max);
  const min = values.slice(), max = values.slice();
  let b = 0;
  for (let i = 0; i < steps.length; i++) {
    const st = steps[i];
    while (b < s1.length && s1[b] < st) b++;
    if (b < s0.length && s0[b] <= st && st <= s1[b]) {
      min[i] = Math.min(lo[b], values[i]);
      max[i] = Math.max(hi[b], values[i]);
    }
  }
  return { min, max };
}
