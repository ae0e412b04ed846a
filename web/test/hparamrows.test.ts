import { describe, expect, it } from "vitest";
import { hparamColumns, hparamRows } from "../src/data/hparamrows";

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
