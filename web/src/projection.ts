/** Projector helpers without a DOM (unit-tested in test/projection.test.ts). */
import { compileFilter } from "./data/names";

/**
 * Indices of the labels matching `pattern` (case-insensitive regex, or a substring when it is
 * not a valid regex); null for an empty pattern (no search).
 */
export function searchLabels(labels: readonly string[], pattern: string): number[] | null {
  if (!pattern.trim()) return null;
  const f = compileFilter(pattern);
  const out: number[] = [];
  labels.forEach((l, i) => {
    if (f.test(l)) out.push(i);
  });
  return out;
}

/**
 * Expected t-SNE time (ms) for `n` points from earlier runs `[points, ms]` on this server:
 * the nearest size, scaled by n log n (Barnes-Hut). Null when nothing is known.
 */
export function tsneEstimate(history: ReadonlyArray<readonly [number, number]>, n: number): number | null {
  let best: readonly [number, number] | null = null;
  for (const h of history) if (h[0] > 1 && h[1] > 0 && (!best || Math.abs(Math.log(h[0] / n)) < Math.abs(Math.log(best[0] / n)))) best = h;
  if (!best || !(n > 1)) return null;
  return best[1] * ((n * Math.log(n)) / (best[0] * Math.log(best[0])));
}
