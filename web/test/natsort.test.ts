/** The dashboard's natural sort against the vectors tests/test_compute_natsort.py checks the server's. */
import { describe, expect, it } from "vitest";
import vectors from "../../tests/natsort_vectors.json";
import { naturalCompare } from "../src/data/natsort";

const sign = (x: number) => (x > 0 ? 1 : x < 0 ? -1 : 0);

describe("natural sort (shared vectors)", () => {
  it("sorts the vector list into its order from any order", () => {
    const want: string[] = vectors.sorted;
    expect(want.length).toBeGreaterThan(30);
    for (const start of [want.slice().reverse(), [...want.slice(7), ...want.slice(0, 7)], want.slice().sort()]) {
      expect(start.sort(naturalCompare)).toEqual(want);
    }
    for (let i = 0; i + 1 < want.length; i++) expect(naturalCompare(want[i], want[i + 1]), `${want[i]} ${want[i + 1]}`).toBeLessThan(0);
  });

  it("gives each pair its order, both ways round", () => {
    for (const p of vectors.pairs) {
      expect(sign(naturalCompare(p.a, p.b)), `${p.a} ${p.b}`).toBe(p.order);
      expect(sign(naturalCompare(p.b, p.a)), `${p.b} ${p.a}`).toBe(0 - p.order || 0);
    }
  });
});

describe("natural sort", () => {
  it("sorts embedded numbers as numbers", () => {
    expect(["a10", "a2", "b1", "a1"].sort(naturalCompare)).toEqual(["a1", "a2", "a10", "b1"]);
  });
});
