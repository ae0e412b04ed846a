/** Chart option builders that run without a DOM: their tooltips escape what they show. */
import { describe, expect, it } from "vitest";
import { distOption, histOption } from "../src/views/statistic";
import type { HistPoint } from "../src/data/histograms";

const points: HistPoint[] = [0, 1, 2].map((step) => ({ step, wall: 0, min: 0, max: 1, buckets: [[0, 0.5, 3], [0.5, 1, 4]] } as any));

describe("histogram and distribution tooltips", () => {
  it("escape the series name they show", () => {
    for (const mode of ["offset", "overlay"] as const) {
      const opt = histOption(points, "<img src=x onerror=alert(1)>", mode);
      const out: string = opt.tooltip.formatter({ seriesName: "<svg onload=alert(1)>", data: [0.5, 1, 2] });
      expect(out).toContain("&lt;svg onload=alert(1)&gt;<br>");
      expect(out).not.toContain("<svg");
    }
  });
  it("distribution tooltip lists the percentiles of a step", () => {
    const opt = distOption(points, "run");
    const out: string = opt.tooltip.formatter([{ dataIndex: 1 }]);
    expect(out.startsWith("step 1<br>p100.00:")).toBe(true);
    expect(out.split("<br>").length).toBe(10);
  });
});
