import { describe, expect, it } from "vitest";
import { bandPerPoint, decimate, emptySeries, upsertPoint } from "../src/data/series";

describe("series", () => {
  it("upserts in step order and replaces duplicates", () => {
    const s = emptySeries();
    expect(upsertPoint(s, 1, 1, 10, 10)).toBe("append");
    expect(upsertPoint(s, 3, 3, 30, 30)).toBe("append");
    expect(upsertPoint(s, 2, 2, 20, 20)).toBe("insert");
    expect(upsertPoint(s, 2, 2, 21, 21)).toBe("replace");
    expect(s.steps).toEqual([1, 2, 3]);
    expect(s.values).toEqual([10, 21, 30]);
  });
  it("decimation bounds length and keeps extremes and the tail", () => {
    let s = emptySeries();
    for (let i = 0; i < 1000; i++) upsertPoint(s, i, i, i === 100 ? 1e6 : i % 7, 0);
    s = decimate(s, 500, 10);
    expect(s.steps.length).toBeLessThanOrEqual(500);
    expect(s.steps[s.steps.length - 1]).toBe(999);
    expect(Math.max(...(s.bandMax as number[]))).toBe(1e6);
    expect(s.steps.slice(-10)).toEqual([990, 991, 992, 993, 994, 995, 996, 997, 998, 999]);
  });
});

describe("bands", () => {
  it("maps bucket bands onto points", () => {
    const r = bandPerPoint([0, 5, 9, 10, 20], [1, 2, 3, 4, 5], { step_start: [0, 10], step_end: [9, 19], min: [0, 3], max: [7, 8] });
    expect(r.min).toEqual([0, 0, 0, 3, 5]);
    expect(r.max).toEqual([7, 7, 7, 8, 5]);
  });
});
