import { describe, expect, it } from "vitest";
import { emptySeries, upsertPoint } from "../src/data/series";
import { alignSeries, fmtHours, stepRangeForX, xValues } from "../src/data/xaxis";

describe("x axis", () => {
  it("x values per axis mode", () => {
    const s = emptySeries();
    upsertPoint(s, 1000, 5, 1, 1);
    upsertPoint(s, 1000 + 3600, 6, 1, 1);
    expect(xValues(s, "step")).toEqual([5, 6]);
    expect(xValues(s, "relative")).toEqual([0, 1]);
    expect(xValues(s, "wall")).toEqual([1000, 4600]);
    expect(stepRangeForX(s, "wall", 999, 1001)).toEqual([5, 6]);
    expect(stepRangeForX(s, "step", 4.5, 5.5)).toEqual([4, 6]);
  });
  it("aligns series on the union of x values", () => {
    const out = alignSeries([[1, 2, 4], [2, 3]], [[[10, 20, 40]], [[200, 300]]]);
    expect(out).toEqual([[1, 2, 3, 4], [10, 20, null, 40], [null, 200, 300, null]]);
    const same = alignSeries([[1, 2], [1, 2]], [[[1, NaN]], [[3, 4]]]);
    expect(same).toEqual([[1, 2], [1, null], [3, 4]]);
  });
});

describe("fmtHours", () => {
  it("picks a readable unit", () => {
    expect(fmtHours(10 / 3600)).toBe("10s");
    expect(fmtHours(0.5)).toBe("30m");
    expect(fmtHours(3)).toBe("3h");
    expect(fmtHours(72)).toBe("3d");
  });
});
