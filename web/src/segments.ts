/**
 * A run's own past (unit-tested in test/beyond.test.ts): every stored write of a series, in
 * write order (`/api/live/scalars?all_writes=1`), split where the step goes back, i.e. where a
 * job was resumed from a checkpoint. The newest segment is what the normal view shows after the
 * steps it did not reach; the older ones are what the resumed job overwrote.
 */
import type { Series } from "./data/series";
import { smooth } from "./smoothing";

/** Split the writes (in write order) at each step decrease: one Series per segment. */
export function splitSegments(steps: readonly number[], wall: readonly number[], values: readonly number[]): Series[] {
  const out: Series[] = [];
  let cur: Series | null = null;
  for (let i = 0; i < steps.length; i++) {
    if (!cur || steps[i] < steps[i - 1]) {
      cur = { steps: [], wall: [], values: [], smoothed: [], bandMin: null, bandMax: null };
      out.push(cur);
    }
    cur.steps.push(steps[i]);
    cur.wall.push(wall[i]);
    cur.values.push(values[i]);
  }
  return out;
}

/** Whether the writes go back in steps anywhere (a restarted run). */
export function hasRestart(steps: readonly number[]): boolean {
  for (let i = 1; i < steps.length; i++) if (steps[i] < steps[i - 1]) return true;
  return false;
}

/** The segments before the newest, each smoothed on its own (TensorBoard's debiased EMA). */
export function olderSegments(segs: readonly Series[], weight: number): Series[] {
  return segs.slice(0, -1).map((s) => ({ ...s, smoothed: weight > 0 ? smooth(s.values, weight).smoothed : s.values.slice() }));
}

/** Median of the gaps between consecutive wall times (seconds), or null with fewer than 2. */
export function medianGap(wall: readonly number[]): number | null {
  const gaps: number[] = [];
  for (let i = 1; i < wall.length; i++) {
    const g = wall[i] - wall[i - 1];
    if (Number.isFinite(g) && g >= 0) gaps.push(g);
  }
  if (!gaps.length) return null;
  gaps.sort((a, b) => a - b);
  const m = gaps.length >> 1;
  return gaps.length % 2 ? gaps[m] : (gaps[m - 1] + gaps[m]) / 2;
}

/** Seconds without a point after which a run counts as stalled: 5x its median gap, at least `minSec`. */
export function stallAfter(median: number | null, minSec: number, factor = 5): number {
  return Math.max(minSec, median === null ? 0 : factor * median);
}

/** Drop the points of `s` from index `i` on (a write at an older step supersedes them). */
export function truncateFrom(s: Series, i: number): void {
  if (i >= s.steps.length) return;
  s.steps.length = i;
  s.wall.length = i;
  s.values.length = i;
  s.smoothed.length = i;
  if (s.bandMin) s.bandMin.length = i;
  if (s.bandMax) s.bandMax.length = i;
}
