import { describe, expect, it } from "vitest";
import { histogramPercentiles, pickEven, rebin, upsertHist, type HistPoint } from "../src/data/histograms";

describe("histograms", () => {
  const h: HistPoint = { wall: 0, step: 0, min: 0, max: 10, buckets: [[0, 5, 50], [5, 10, 50]] };
  it("percentiles interpolate in cumulative counts", () => {
    const p = histogramPercentiles(h);
    expect(p[0]).toBe(0);
    expect(p[4]).toBeCloseTo(5, 9);
    expect(p[8]).toBe(10);
    for (let i = 1; i < p.length; i++) expect(p[i]).toBeGreaterThanOrEqual(p[i - 1]);
  });
  it("empty histogram gives min everywhere", () => {
    expect(histogramPercentiles({ ...h, buckets: [] })).toEqual(new Array(9).fill(0));
  });
  it("upsertHist keeps step order", () => {
    const l: HistPoint[] = [];
    upsertHist(l, { ...h, step: 2 });
    upsertHist(l, { ...h, step: 1 });
    upsertHist(l, { ...h, step: 2, max: 3 });
    expect(l.map((x) => x.step)).toEqual([1, 2]);
    expect(l[1].max).toBe(3);
  });
  it("pickEven keeps ends", () => {
    expect(pickEven([1, 2, 3, 4, 5], 3)).toEqual([1, 3, 5]);
  });
});

describe("rebin", () => {
  it("splits counts by overlap and keeps the total", () => {
    const r = rebin([[0, 2, 10], [2, 4, 6]], 0, 4, 4);
    expect(r).toEqual([5, 5, 3, 3]);
  });
  it("degenerate range puts everything in the middle", () => {
    expect(rebin([[1, 1, 7]], 1, 1, 3)).toEqual([0, 7, 0]);
  });
});
