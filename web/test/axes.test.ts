import { describe, expect, it } from "vitest";
import { fmtTick, timeTickLabels, yAxisSize } from "../src/axes";

describe("axis labels", () => {
  it("numbers are short: no trailing zeros in exponent form", () => {
    expect([1e-4, 2e-4, 5e-4, 1.5e-5, 1e-3, 0.0125, 1, 2.5, 1234.5678, 1e5, 2.5e7, -3e-6, 0].map(fmtTick)).toEqual([
      "1e-4", "2e-4", "5e-4", "1.5e-5", "0.001", "0.0125", "1", "2.5", "1235", "1e5", "2.5e7", "-3e-6", "0",
    ]);
    expect(fmtTick(Infinity)).toBe("∞");
    expect(fmtTick(NaN)).toBe("");
  });

  it("a log axis is wide enough for its labels (a rough width without a canvas)", () => {
    const labels = ["1e-4", "2e-4", "5e-4"].map(String);
    expect(yAxisSize(labels)).toBeGreaterThanOrEqual(7.5 * 4 + 15);
    expect(yAxisSize(["1.0000e-4"])).toBeGreaterThan(56); // what the fixed 56 px axis cut off
  });

  it("wall-clock ticks say hour:minute, and the date where it changes", () => {
    const t = (d: number, h: number, m: number, s = 0) => new Date(2023, 10, d, h, m, s).getTime() / 1000;
    expect(timeTickLabels([t(14, 23, 0), t(14, 23, 30), t(15, 0, 0), t(15, 0, 30)])).toEqual([
      "23:00\nNov 14", "23:30", "00:00\nNov 15", "00:30",
    ]);
    expect(timeTickLabels([t(14, 23, 0, 0), t(14, 23, 0, 15)])).toEqual(["23:00:00\nNov 14", "23:00:15"]);
    expect(timeTickLabels([t(14, 0, 0), t(15, 0, 0), t(16, 0, 0)])).toEqual(["Nov 14", "Nov 15", "Nov 16"]);
    for (const l of timeTickLabels([t(14, 22, 30), t(14, 23, 0)])) expect(l).toMatch(/^\d\d:\d\d/);
  });
});
