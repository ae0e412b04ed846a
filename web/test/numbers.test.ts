import { describe, expect, it } from "vitest";
import { num, nums } from "../src/data/numbers";

describe("numbers", () => {
  it("decodes NaN/Infinity strings", () => {
    expect(num("NaN")).toBeNaN();
    expect(num("Infinity")).toBe(Infinity);
    expect(num("-Infinity")).toBe(-Infinity);
    expect(nums([1, "2", "NaN"])).toEqual([1, 2, NaN]);
  });
});
