/**
 * TensorBoard's debiased exponential moving average.
 *
 *   last = last * w + (1 - w) * y          (finite y only)
 *   smoothed = last / (1 - w^n)            (n = finite points so far)
 *
 * Non-finite values pass through unchanged and do not advance the state.
 * A constant series is returned unchanged (TensorBoard does the same, so a flat
 * line does not show the debias ramp caused by float rounding).
 */
export interface EmaState {
  last: number;
  count: number;
  weight: number;
}

export function newEma(weight: number): EmaState {
  return { last: 0, count: 0, weight: clampWeight(weight) };
}

export function clampWeight(w: number): number {
  if (!Number.isFinite(w) || w < 0) return 0;
  return Math.min(w, 0.999);
}

/** Feed one value; returns the smoothed value. Mutates `st`. */
export function emaStep(st: EmaState, y: number): number {
  if (!Number.isFinite(y)) return y;
  const w = st.weight;
  st.last = st.last * w + (1 - w) * y;
  st.count += 1;
  const debias = w === 0 ? 1 : 1 - Math.pow(w, st.count);
  return st.last / debias;
}

/** Smooth a whole series from scratch. */
export function smooth(values: ArrayLike<number>, weight: number): { smoothed: number[]; state: EmaState } {
  const st = newEma(weight);
  const out = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) out[i] = emaStep(st, values[i]);
  return { smoothed: out, state: st };
}

/**
 * Rebuild the EMA state from a server-smoothed series: the server gives the debiased
 * smoothed value of the last point and the number of points it smoothed over (`total`).
 * last = smoothed * (1 - w^n). Exact when the series has no non-finite values.
 */
export function stateFromSmoothed(lastSmoothed: number, total: number, weight: number): EmaState {
  const st = newEma(weight);
  if (!Number.isFinite(lastSmoothed) || total <= 0) return st;
  const debias = st.weight === 0 ? 1 : 1 - Math.pow(st.weight, total);
  st.last = lastSmoothed * debias;
  st.count = total;
  return st;
}

/** Continue smoothing `values` (appended live points) from `st`. Mutates `st`. */
export function continueEma(st: EmaState, values: ArrayLike<number>): number[] {
  const out = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) out[i] = emaStep(st, values[i]);
  return out;
}
