import { describe, expect, it } from "vitest";
import {
  alignSeries, applyCategoryMessage, compileFilter, decimate, emptySeries, groupTags, histogramPercentiles,
  hparamColumns, hparamRows, mergeGetCategory, naturalCompare, num, nums, pickEven, runsWith, seriesToCSV,
  stepRangeForX, tagsOf, upsertHist, upsertPoint, xValues, type Categories, type HistPoint,
} from "../src/shape";
import { runColor, fnv1a } from "../src/colors";

describe("numbers", () => {
  it("decodes NaN/Infinity strings", () => {
    expect(num("NaN")).toBeNaN();
    expect(num("Infinity")).toBe(Infinity);
    expect(num("-Infinity")).toBe(-Infinity);
    expect(nums([1, "2", "NaN"])).toEqual([1, 2, NaN]);
  });
});

describe("natural sort and groups", () => {
  it("sorts embedded numbers as numbers", () => {
    expect(["a10", "a2", "b1", "a1"].sort(naturalCompare)).toEqual(["a1", "a2", "a10", "b1"]);
  });
  it("groups by the prefix before the first slash", () => {
    expect(groupTags(["loss/train", "acc", "loss/val", "lr/x/y"])).toEqual([
      ["acc", ["acc"]], ["loss", ["loss/train", "loss/val"]], ["lr", ["lr/x/y"]],
    ]);
  });
  it("regex filter, with a substring fallback for invalid patterns", () => {
    const f = compileFilter("^loss/(tr|va)");
    expect(f.valid).toBe(true);
    expect(f.test("loss/train")).toBe(true);
    expect(f.test("acc/train")).toBe(false);
    const g = compileFilter("loss(");
    expect(g.valid).toBe(false);
    expect(g.test("my loss(x)")).toBe(true);
    expect(compileFilter("").test("anything")).toBe(true);
  });
});

describe("colours", () => {
  it("are stable per run name", () => {
    expect(runColor("run_a")).toBe(runColor("run_a"));
    expect(fnv1a("")).toBe(0x811c9dc5);
  });
});

describe("categories", () => {
  it("merges getCategory and category messages", () => {
    const cat: Categories = new Map();
    const changed = mergeGetCategory(cat, {
      ".": { scalar: { loss: ["loss/train"] }, media: { image: ["img"] }, statistic: { histogram: ["w"], distribution: ["w"] }, graph: ["c_graph"], hyperparm: ["true"] },
      b: { scalar: { acc: ["acc"] } },
    });
    expect(changed).toBe(true);
    expect(tagsOf(cat, "scalar")).toEqual(["acc", "loss/train"]);
    expect(tagsOf(cat, "image")).toEqual(["img"]);
    expect(runsWith(cat, "graph")).toEqual(["."]);
    expect(mergeGetCategory(cat, { b: { scalar: { acc: ["acc"] } } })).toBe(false);
    expect(applyCategoryMessage(cat, { run: "c", kind: "statistic", series_kind: "histogram", tags: ["h"] }).changed).toBe(true);
    expect(tagsOf(cat, "distribution", ["c"])).toEqual(["h"]);
    expect(applyCategoryMessage(cat, { run: "c", kind: "statistic", series_kind: "histogram", tags: ["h"] }).changed).toBe(false);
    expect(applyCategoryMessage(cat, { run: "d", kind: "run", tags: [] })).toEqual({ changed: true, refresh: false });
    expect(cat.has("d")).toBe(true);
    expect(applyCategoryMessage(cat, { run: "d", kind: "graph", series_kind: "graph", tags: ["graphdef"] })).toEqual({ changed: false, refresh: true });
  });
});

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
  it("csv", () => {
    expect(seriesToCSV([{ wall_time: 1.5, step: 1, value: NaN }])).toBe("wall_time,step,value\n1.5,1,NaN\n");
  });
});

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

describe("hparams", () => {
  it("flattens groups and matches metrics by position", () => {
    const rows = hparamRows("r", {
      hparamsInfo: [{ g1: { hparams: [{ name: "lr", data: 0.1 }, { name: "opt", data: "adam" }], start_time_secs: 5 } }, { g2: { hparams: [{ name: "lr", data: 0.01 }, { name: "opt", data: "sgd" }] } }],
      metrics: [{ tag: "acc", value: [0.9, "NaN"] }],
    });
    expect(rows.length).toBe(2);
    expect(rows[0].metrics.acc).toBe(0.9);
    expect(rows[1].metrics.acc).toBeNaN();
    const cols = hparamColumns(rows);
    expect(cols.map((c) => [c.name, c.numeric])).toEqual([["lr", true], ["opt", false], ["acc", true]]);
    expect(cols[1].categories).toEqual(["adam", "sgd"]);
  });
});

import { rebin } from "../src/shape";
describe("rebin", () => {
  it("splits counts by overlap and keeps the total", () => {
    const r = rebin([[0, 2, 10], [2, 4, 6]], 0, 4, 4);
    expect(r).toEqual([5, 5, 3, 3]);
  });
  it("degenerate range puts everything in the middle", () => {
    expect(rebin([[1, 1, 7]], 1, 1, 3)).toEqual([0, 7, 0]);
  });
});

import { bandPerPoint } from "../src/shape";
describe("bands", () => {
  it("maps bucket bands onto points", () => {
    const r = bandPerPoint([0, 5, 9, 10, 20], [1, 2, 3, 4, 5], { step_start: [0, 10], step_end: [9, 19], min: [0, 3], max: [7, 8] });
    expect(r.min).toEqual([0, 0, 0, 3, 5]);
    expect(r.max).toEqual([7, 7, 7, 8, 5]);
  });
});

import { fmtHours } from "../src/shape";
describe("fmtHours", () => {
  it("picks a readable unit", () => {
    expect(fmtHours(10 / 3600)).toBe("10s");
    expect(fmtHours(0.5)).toBe("30m");
    expect(fmtHours(3)).toBe("3h");
    expect(fmtHours(72)).toBe("3d");
  });
});
