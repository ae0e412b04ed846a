import { describe, expect, it } from "vitest";
import { computeDomain, computeLogDomain, fmtRelative, fmtWall, nearestIndex, nice, nonFinitePoints, quantileSorted } from "../src/scalarmath";

describe("TensorBoard's y domain", () => {
  it("interpolates quantiles like d3", () => {
    expect(quantileSorted([0, 10], 0.05)).toBeCloseTo(0.5);
    expect(quantileSorted([1, 2, 3, 4, 5], 0.95)).toBeCloseTo(4.8);
  });
  it("makes ranges nice", () => {
    expect(nice(-0.23, 2.61)).toEqual([-0.5, 3]); // d3 v4+: steps 0.2, then 0.5
  });
  it("ignores a diverging tail of a few percent of the points", () => {
    const normal = Array.from({ length: 600 }, (_, i) => 2 * Math.exp(-(i % 200) / 50));
    const tail = Array.from({ length: 8 }, (_, i) => 10 ** i);
    const d = computeDomain([...normal, ...tail], true)!;
    expect(d[1]).toBeLessThan(5);
    expect(d[0]).toBeLessThanOrEqual(0);
    expect(computeDomain([...normal, ...tail], false)![1]).toBeGreaterThan(1e6);
  });
  it("includes zero when it less than doubles the span, pads a flat line, skips non-finite", () => {
    expect(computeDomain([1, 2, 3], false)).toEqual([-0.5, 3.5]);
    expect(computeDomain([5, 5, NaN, Infinity], false)).toEqual([-2, 12]);
    expect(computeDomain([NaN, null], true)).toBeNull();
  });
  it("works in log space on a log axis", () => {
    const d = computeLogDomain([1e-4, 1e-3, 1e-2, -1, 0], false)!;
    expect(d[0]).toBeCloseTo(1e-4);
    expect(d[1]).toBeCloseTo(1e-2);
    const spike = computeLogDomain([...Array(100).fill(1e-3), 1e6], true)!;
    expect(spike[1]).toBeCloseTo(1e-3);
  });
});

describe("non-finite points", () => {
  it("are found with the value a NaN marker sits at", () => {
    const v = [1, NaN, Infinity, -Infinity, 2.5];
    expect(nonFinitePoints(v)).toEqual([
      { i: 1, kind: "nan", ref: 1 }, { i: 2, kind: "inf", ref: 1 }, { i: 3, kind: "-inf", ref: 1 },
    ]);
    expect(nonFinitePoints([NaN, 3])).toEqual([{ i: 0, kind: "nan", ref: 3 }]);
    expect(nonFinitePoints([1, 2])).toEqual([]);
  });
});

describe("tooltip helpers", () => {
  it("find the nearest x", () => {
    expect(nearestIndex([0, 10, 20], 14)).toBe(1);
    expect(nearestIndex([0, 10, 20], 16)).toBe(2);
    expect(nearestIndex([0, 10, 20], -5)).toBe(0);
    expect(nearestIndex([], 1)).toBe(-1);
  });
  it("format relative time", () => {
    expect(fmtRelative(4)).toBe("4s");
    expect(fmtRelative(3000)).toBe("50m 00s");
    expect(fmtRelative(7440)).toBe("2h 04m");
    expect(fmtRelative(3 * 86400 + 7 * 3600)).toBe("3d 07h");
  });
  it("format wall time with date and seconds", () => {
    expect(fmtWall(NaN)).toBe("");
    expect(fmtWall(1_700_000_000)).toMatch(/^2023-11-1[45] \d\d:\d\d:20$/);
  });
});
