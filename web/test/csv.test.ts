import { describe, expect, it } from "vitest";
import { seriesToCSV } from "../src/data/csv";

describe("csv", () => {
  it("csv", () => {
    expect(seriesToCSV([{ wall_time: 1.5, step: 1, value: NaN }])).toBe("wall_time,step,value\n1.5,1,NaN\n");
  });
});
