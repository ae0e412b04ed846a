import { describe, expect, it } from "vitest";
import { continueEma, newEma, emaStep, smooth, stateFromSmoothed, clampWeight } from "../src/smoothing";

/** Reference: TensorBoard's implementation, written out independently. */
function tbSmooth(ys: number[], w: number): number[] {
  let last = 0;
  let n = 0;
  return ys.map((y) => {
    if (!Number.isFinite(y)) return y;
    last = last * w + (1 - w) * y;
    n++;
    const debias = w === 1 ? 1 : 1 - Math.pow(w, n);
    return last / debias;
  });
}

describe("debiased EMA", () => {
  it("weight 0 is the identity", () => {
    expect(smooth([1, 5, -2], 0).smoothed).toEqual([1, 5, -2]);
  });
  it("first point equals the value (debiased)", () => {
    expect(smooth([10, 0], 0.9).smoothed[0]).toBeCloseTo(10, 12);
  });
  it("matches TensorBoard's formula", () => {
    const ys = Array.from({ length: 200 }, (_, i) => Math.sin(i / 7) + (i % 5) * 0.1);
    const got = smooth(ys, 0.6).smoothed;
    const want = tbSmooth(ys, 0.6);
    got.forEach((g, i) => expect(g).toBeCloseTo(want[i], 12));
  });
  it("passes NaN through without advancing", () => {
    const got = smooth([1, NaN, 3], 0.5).smoothed;
    expect(got[1]).toBeNaN();
    expect(got[2]).toBeCloseTo(tbSmooth([1, 3], 0.5)[1], 12);
  });
  it("constant series stays constant", () => {
    smooth([2, 2, 2, 2], 0.99).smoothed.forEach((v) => expect(v).toBeCloseTo(2, 10));
  });
  it("clamps the weight to [0, 0.999]", () => {
    expect(clampWeight(1.5)).toBe(0.999);
    expect(clampWeight(-1)).toBe(0);
    expect(clampWeight(NaN)).toBe(0);
  });
  it("continues from server state exactly as a full recomputation", () => {
    const ys = Array.from({ length: 500 }, (_, i) => Math.cos(i / 11) * 3 + i * 0.01);
    const w = 0.95;
    const full = smooth(ys, w).smoothed;
    // Server smoothed the first 400, client continues with the last 100.
    const st = stateFromSmoothed(full[399], 400, w);
    const cont = continueEma(st, ys.slice(400));
    cont.forEach((v, i) => expect(v).toBeCloseTo(full[400 + i], 9));
  });
  it("emaStep mutates the state", () => {
    const st = newEma(0.5);
    emaStep(st, 4);
    expect(st.count).toBe(1);
    expect(st.last).toBeCloseTo(2);
  });
});
