/** Pure parts of the PR curves, custom scalars, images, hparams and projector views. */
import { describe, expect, it } from "vitest";
import { chartLines, mergeLayouts, tagMatcher } from "../src/layouts";
import { curvePoints, parseRoc } from "../src/prcurves";
import { searchLabels, tsneEstimate } from "../src/projection";
import { brushed, trials } from "../src/trials";
import { hparamColumns, type HparamRow } from "../src/data/hparamrows";
import { imageScale } from "../src/views/imagetools";

describe("PR curves", () => {
  const step = { wall_time: 1, step: 3, thresholds: [0, 0.5, 1], tp: [10, 6, 0], fp: [10, 1, 0], tn: [0, 9, 10], fn: [0, 4, 10],
    precision: [0.5, 0.857, 0], recall: [1, 0.6, 0], tpr: [1, 0.6, 0], fpr: [1, 0.1, 0], auc_pr: "NaN", auc_roc: 0.8 };
  it("drops the points where precision is undefined", () => {
    const [p] = parseRoc([step]);
    expect(p.aucPr).toBeNaN();
    expect(curvePoints(p, "pr")).toEqual([[1, 0.5, 0], [0.6, 0.857, 1]]);
  });
  it("closes ROC curves at (0, 0) once", () => {
    const [p] = parseRoc([step]);
    expect(curvePoints(p, "roc")).toEqual([[1, 1, 0], [0.1, 0.6, 1], [0, 0, 2]]);
    const open = curvePoints({ ...p, fpr: [1, 0.1, 0.05], tpr: [1, 0.6, 0.2] }, "roc");
    expect(open[open.length - 1]).toEqual([0, 0, -1]);
  });
  it("sorts steps", () => {
    expect(parseRoc([{ ...step, step: 5 }, step, null]).map((s) => s.step)).toEqual([3, 5]);
  });
});

describe("custom scalar layouts", () => {
  const one = { category: [{ title: "L", chart: [{ title: "a", multiline: { tag: ["loss/.*"] } }] }] };
  const two = { category: [{ title: "L", chart: [{ title: "a", multiline: { tag: ["loss/.*"] } }, { title: "m", margin: { series: [{ value: "v", lower: "lo", upper: "hi" }] } }] }, { title: "M", closed: true, chart: [] }] };
  it("merges categories by title and keeps identical charts once", () => {
    const cats = mergeLayouts([one, two]);
    expect(cats.map((c) => [c.title, c.closed, c.charts.map((x) => x.title)])).toEqual([["L", false, ["a", "m"]], ["M", true, []]]);
  });
  it("matches tags like Python's re.match", () => {
    expect(tagMatcher("loss/.*")!("xloss/a")).toBe(false);
    expect(tagMatcher("loss")!("loss/train")).toBe(true);
    expect(tagMatcher("(")).toBeNull();
  });
  it("gives lines colours by tag for one run, dashes by tag for several", () => {
    const tags: Record<string, string[]> = { r1: ["loss/a", "loss/b", "v", "lo", "hi"], r2: ["loss/a", "v"] };
    const [multi, margin] = mergeLayouts([two])[0].charts;
    const one = chartLines(multi, ["r1"], (r) => tags[r]).lines;
    expect(one.map((l) => l.id)).toEqual(["r1 · loss/a", "r1 · loss/b"]);
    expect(one[0].color).not.toEqual(one[1].color);
    const both = chartLines(multi, ["r1", "r2"], (r) => tags[r]).lines;
    expect(both.map((l) => [l.color, l.dash])).toEqual([[undefined, undefined], [undefined, [6, 3]], [undefined, undefined]]);
    const m = chartLines(margin, ["r1", "r2"], (r) => tags[r]).lines;
    expect(m.map((l) => [l.run, l.lower, l.upper])).toEqual([["r1", "lo", "hi"], ["r2", undefined, undefined]]);
    expect(chartLines({ title: "x", multiline: ["("] }, ["r1"], (r) => tags[r]).invalid).toEqual(["("]);
  });
});

describe("hparams trials", () => {
  const row = (run: string, group: string, lr: number, acc: number, opt = "adam"): HparamRow => ({ run, group, hparams: { lr, opt }, metrics: { acc }, start: null });
  const rows = [row("exp", "run-0", 0.1, 0.5), row("exp", "run-1", 0.01, 0.7, "sgd"), row("exp/run-0", "abc", 0.1, 0.5), row("solo", "default", 1, 0.2)];
  const known = new Set(["exp", "exp/run-0", "exp/run-1", "solo"]);
  it("shows each session of an experiment once, as its run", () => {
    expect(trials(rows, (r) => known.has(r)).map((t) => [t.trial, t.group])).toEqual([["exp/run-0", "run-0"], ["exp/run-1", "run-1"], ["solo", "default"]]);
  });
  it("keeps the rows inside every brushed axis", () => {
    const cols = hparamColumns(rows);
    expect(brushed(rows, cols, new Map([["lr", [[0.05, 0.2]]]])).map((r) => r.run)).toEqual(["exp", "exp/run-0"]);
    expect(brushed(rows, cols, new Map([["lr", [[0.05, 0.2]]], ["acc", [[0.6, 0.4]]]])).length).toBe(2);
    expect(brushed(rows, cols, new Map([["opt", [[0.5, 1.5]]]])).map((r) => r.group)).toEqual(["run-1"]);
    expect(brushed(rows, cols, new Map()).length).toBe(4);
  });
});

describe("projector", () => {
  it("searches labels by regex, or by substring when the regex is invalid", () => {
    expect(searchLabels(["cat", "dog", "Dogma"], "^dog")).toEqual([1, 2]);
    expect(searchLabels(["a(b", "c"], "a(")).toEqual([0]);
    expect(searchLabels(["x"], " ")).toBeNull();
  });
  it("estimates t-SNE time from the nearest earlier size", () => {
    expect(tsneEstimate([], 100)).toBeNull();
    expect(tsneEstimate([[100, 1000], [1000, 20000]], 100)).toBeCloseTo(1000);
    expect(tsneEstimate([[100, 1000]], 200)!).toBeCloseTo(1000 * (200 * Math.log(200)) / (100 * Math.log(100)));
  });
});

describe("image scale", () => {
  it("is one scale for the tag: the widest fills the block, whole factors when enlarging", () => {
    expect(imageScale(32, 530, "fit")).toBe(16);
    expect(imageScale(1000, 500, "fit")).toBe(0.5);
    expect(imageScale(32, 530, "actual")).toBe(1);
    expect(imageScale(32, 530, "fit", 4)).toBe(Math.floor((530 - 24) / 4 / 32));
  });
});
