import { describe, expect, it } from "vitest";
import { compileFilter, groupTags } from "../src/data/names";

describe("groups and filters", () => {
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
