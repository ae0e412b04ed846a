/** Live alerts, a run's own past (segments), stored thresholds, the scatter matrix and sprites. */
import { describe, expect, it } from "vitest";
import { AlertBook, fmtSeconds } from "../src/alerts";
import { hasRestart, medianGap, olderSegments, splitSegments, stallAfter, truncateFrom } from "../src/segments";
import { emptySeries } from "../src/data/series";
import { parseThresholds } from "../src/watchstate";
import { logAxis, scatterMatrixOption } from "../src/views/hparamsmatrix";
import { thumbSize } from "../src/views/sprites";
import { watchTag } from "../src/views/runwatch";

type P = readonly [number, number, number];
const pts = (...a: P[]) => a;

describe("segments of a resumed run", () => {
  it("splits at each step decrease, not at a repeated step", () => {
    const steps = [0, 1, 2, 3, 1, 2, 2, 3, 0];
    const segs = splitSegments(steps, steps.map((_, i) => 100 + i), steps.map((s) => s * 10));
    expect(segs.map((s) => s.steps)).toEqual([[0, 1, 2, 3], [1, 2, 2, 3], [0]]);
    expect(segs[1].wall).toEqual([104, 105, 106, 107]);
    expect(hasRestart(steps)).toBe(true);
    expect(hasRestart([0, 1, 1, 2])).toBe(false);
    expect(splitSegments([], [], [])).toEqual([]);
  });
  it("smooths each older segment on its own and drops the newest", () => {
    const segs = splitSegments([0, 1, 0, 1], [0, 1, 2, 3], [1, 3, 5, 7]);
    const older = olderSegments(segs, 0.5);
    expect(older).toHaveLength(1);
    expect(older[0].smoothed[0]).toBeCloseTo(1);
    expect(older[0].smoothed[1]).toBeCloseTo((0.5 * 0.5 * 1 + 0.5 * 3) / 0.75);
    expect(olderSegments(segs, 0)[0].smoothed).toEqual([1, 3]);
  });
  it("truncates a live series from a step on", () => {
    const s = emptySeries();
    s.steps = [0, 1, 2, 3]; s.wall = [0, 1, 2, 3]; s.values = [5, 6, 7, 8]; s.smoothed = [5, 6, 7, 8];
    truncateFrom(s, 2);
    expect([s.steps, s.values, s.smoothed, s.wall]).toEqual([[0, 1], [5, 6], [5, 6], [0, 1]]);
  });
  it("a run's usual interval and when it counts as stalled", () => {
    expect(medianGap([0, 1, 2, 10])).toBe(1);
    expect(medianGap([0, 1, 3])).toBe(1.5);
    expect(medianGap([5])).toBeNull();
    expect(stallAfter(2, 30)).toBe(30);
    expect(stallAfter(10, 30)).toBe(50);
    expect(stallAfter(null, 30)).toBe(30);
  });
});

describe("AlertBook", () => {
  it("raises NaN and Inf once per turn, and again after a dismissal only on a new turn", () => {
    const b = new AlertBook();
    expect(b.notePoints("r", "loss", pts([1, 0, 1], [2, 1, 0.5]), 10, undefined, 0)).toBe(false);
    expect(b.notePoints("r", "loss", pts([3, 2, NaN]), 11, undefined, 5)).toBe(true);
    const [a] = b.list();
    expect([a.kind, a.run, a.tag, a.step, a.detail, a.count]).toEqual(["nan", "r", "loss", 2, "NaN at step 2", 1]);
    b.notePoints("r", "loss", pts([4, 3, NaN]), 12, undefined, 6);
    expect(b.list()[0].count).toBe(1); // still NaN: the same turn
    b.dismiss(a.id);
    b.notePoints("r", "loss", pts([5, 4, NaN]), 13, undefined, 7);
    expect(b.list()).toHaveLength(0);
    b.notePoints("r", "loss", pts([6, 5, 1], [7, 6, -Infinity]), 14, undefined, 8);
    expect(b.list().map((x) => [x.kind, x.detail])).toEqual([["inf", "−Inf at step 6"]]);
  });
  it("skips a replay of points already seen (a resubscription from an older cursor)", () => {
    const b = new AlertBook();
    b.notePoints("r", "t", pts([1, 0, NaN]), 10, undefined, 0);
    b.dismiss(b.list()[0].id);
    expect(b.notePoints("r", "t", pts([1, 0, NaN]), 10, undefined, 1)).toBe(false); // same cursor
    // A replay from before: everything up to the last point seen is old, what follows is new.
    expect(b.notePoints("r", "t", pts([0.5, -1, NaN], [1, 0, NaN], [2, 1, 3], [3, 2, NaN]), 20, undefined, 2)).toBe(true);
    expect(b.list().map((a) => a.step)).toEqual([2]);
  });
  it("thresholds alert when crossed, not while the values stay beyond", () => {
    const b = new AlertBook();
    const thr = { above: 0.9, below: 0.1 };
    b.notePoints("r", "acc", pts([1, 0, 0.5], [2, 1, 0.95]), 1, thr, 0);
    expect(b.list().map((a) => [a.kind, a.detail])).toEqual([["above", "above 0.9: 0.95 at step 1"]]);
    b.dismiss(b.list()[0].id);
    b.notePoints("r", "acc", pts([3, 2, 0.97]), 2, thr, 1);
    expect(b.list()).toHaveLength(0);
    b.notePoints("r", "acc", pts([4, 3, 0.5], [5, 4, 0.05]), 3, thr, 2);
    expect(b.list().map((a) => a.kind)).toEqual(["below"]);
    b.notePoints("r", "acc", pts([6, 5, 0.5], [7, 6, 0.01]), 4, thr, 3);
    expect(b.list()[0].count).toBe(2);
  });
  it("a run writing while the page is open stalls after 5x its interval (at least the minimum), and resumes", () => {
    const b = new AlertBook();
    const now = 1_000_000; // ms: wall time 1000 s
    // Still writing at load: points every 2 s, the last one a second ago.
    b.seedRun("live", "loss", [990, 992, 994, 996, 998, 999], now, 3);
    // Finished long before the page opened: never "stalled".
    b.seedRun("done", "loss", [10, 11, 12], now, 3);
    expect(b.checkStalls(now + 9_000, 3)).toBe(false); // 10 s silent: not more than 5 x 2 s
    expect(b.checkStalls(now + 11_500, 3)).toBe(true);
    const [a] = b.list();
    expect([a.kind, a.run, a.tag]).toEqual(["stalled", "live", "loss"]);
    expect(a.detail).toContain("(usually a point every 2.0 s)");
    expect(b.isStalled("live")).toBe(true);
    expect(b.checkStalls(now + 20_000, 3)).toBe(false); // said once
    b.notePoints("live", "loss", pts([1012, 7, 1]), 50, undefined, now + 21_000);
    expect(b.list()).toHaveLength(0);
    expect(b.isStalled("live")).toBe(false);
    expect(b.isStalled("done")).toBe(false);
  });
  it("a run first heard live stalls after the minimum when its interval is short", () => {
    const b = new AlertBook();
    b.seedRun("r", "loss", [0, 1], 1e12, 30); // old: not live
    b.notePoints("r", "loss", pts([1e9, 2, 1], [1e9 + 0.5, 3, 1], [1e9 + 1, 4, 1]), 5, undefined, 1e12);
    expect(b.checkStalls(1e12 + 20_000, 30)).toBe(false);
    expect(b.checkStalls(1e12 + 31_000, 30)).toBe(true);
  });
  it("a run that is not watched (no scalar series) never stalls", () => {
    const b = new AlertBook();
    b.noteActivity("hparams-only", 0);
    b.noteActivity("hparams-only", 1);
    expect(b.checkStalls(1e9, 30)).toBe(false);
  });
  it("formats durations", () => {
    expect([fmtSeconds(0.4), fmtSeconds(45), fmtSeconds(600), fmtSeconds(7200)]).toEqual(["0.4 s", "45 s", "10.0 min", "2.0 h"]);
  });
});

describe("stored thresholds and the watched tag", () => {
  it("keeps finite numbers only", () => {
    const m = parseThresholds('{"a": {"above": 1, "below": "x"}, "b": {}, "c": {"below": -2}, "d": 3}');
    expect([...m]).toEqual([["a", { above: 1 }], ["c", { below: -2 }]]);
    expect(parseThresholds("not json").size).toBe(0);
    expect(parseThresholds("[1]").size).toBe(0);
  });
  it("watches a loss if the run has one, else its first tag", () => {
    expect(watchTag(["acc", "train/Loss", "a"])).toBe("train/Loss");
    expect(watchTag(["b10", "b9"])).toBe("b9");
    expect(watchTag([])).toBeUndefined();
  });
});

describe("scatter matrix and sprites", () => {
  const trial = (t: string, lr: number, opt: string, acc: number) => ({ run: t, trial: t, group: "", hparams: { lr, opt }, metrics: { acc }, start: null });
  const cols = [
    { name: "lr", kind: "hparam" as const, numeric: true, categories: [] },
    { name: "opt", kind: "hparam" as const, numeric: false, categories: ["adam", "sgd"] },
    { name: "acc", kind: "metric" as const, numeric: true, categories: [] },
  ];
  it("one cell per (hparam, metric), log axes for values spanning decades, brushed-out trials faded", () => {
    const rows = [trial("a", 1e-4, "adam", 0.5), trial("b", 1e-1, "sgd", 0.9)];
    const o = scatterMatrixOption(rows, cols, new Set(["b"]), (r) => (r === "a" ? "#111111" : "#222222"));
    expect(o.grid).toHaveLength(2);
    expect(o.xAxis.map((a: any) => [a.type, a.name])).toEqual([["log", "lr"], ["category", "opt"]]);
    expect(o.yAxis.map((a: any) => a.name)).toEqual(["acc", ""]);
    expect(o.series[1].data.map((d: any) => [d.value, d.itemStyle.color, d.itemStyle.opacity])).toEqual([
      [["adam", 0.5], "#111111", 0.12], [["sgd", 0.9], "#222222", 0.95]]);
    expect(scatterMatrixOption(rows, cols.slice(0, 2), null, () => "#000").title.text).toBe("no metrics to plot against");
  });
  it("log axes and thumbnail sizes", () => {
    expect(logAxis([0.001, 0.1])).toBe(true);
    expect(logAxis([0.01, 0.1])).toBe(false);
    expect(logAxis([0, 1, 1000])).toBe(false);
    expect([thumbSize(40), thumbSize(400), thumbSize(1000), thumbSize(5000)]).toEqual([36, 28, 20, 14]);
  });
});
