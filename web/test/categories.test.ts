import { describe, expect, it } from "vitest";
import { applyCategoryMessage, mergeGetCategory, runsWith, tagsOf, type Categories } from "../src/data/categories";

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
