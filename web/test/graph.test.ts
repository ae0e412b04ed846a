import { describe, expect, it } from "vitest";
import { ancestors, buildModel, categoryOf, netModels, shownAs, visibleEdges, visibleNodes } from "../src/graphmodel";

const net = [
  { uid: "in", label: "in", parent: "", op: "placeholder", targets: [{ id: "block", info: "{1,3}", control: "false", num: 1 }, { id: "block/conv", info: "{1,3}" }], sub_net: [] },
  {
    uid: "block", label: "block", parent: "", op: "", targets: [{ id: "out", info: "", num: 2 }],
    sub_net: [
      { uid: "block/conv", label: "conv", parent: "block", op: "conv2d", targets: [{ id: "block/relu" }, { id: "out" }], sub_net: [] },
      { uid: "block/relu", label: "relu", parent: "block", op: "relu", targets: [{ id: "out" }], sub_net: [] },
    ],
  },
  { uid: "out", label: "out", parent: "", op: "identity", targets: [], sub_net: [] },
];
const operator = [{ op: "Convolution", list: ["conv2d"] }];

describe("graph model", () => {
  const m = buildModel(net, operator);
  it("flattens the tiers", () => {
    expect(m.nodes.size).toBe(5);
    expect(m.nodes.get("block")!.isScope).toBe(true);
    expect(m.nodes.get("block")!.leafCount).toBe(2);
    expect(ancestors(m, "block/relu")).toEqual(["block"]);
    expect(categoryOf(m, "Conv2D")).toBe("Convolution");
  });
  it("collapsed scopes hide their children; edges follow the visible tier", () => {
    const v = visibleNodes(m, new Set());
    expect(v).toEqual(["in", "block", "out"]);
    expect(visibleEdges(m, v).map((e) => `${e.source}>${e.target}`)).toEqual(["in>block", "block>out"]);
    const v2 = visibleNodes(m, new Set(["block"]));
    expect(v2).toEqual(["in", "block/conv", "block/relu", "out"]);
    expect(visibleEdges(m, v2).map((e) => `${e.source}>${e.target}`).sort()).toEqual(["block/conv>block/relu", "block/conv>out", "block/relu>out", "in>block/conv"]);
  });
  it("a node inside a collapsed scope is shown as that scope", () => {
    expect(shownAs(m, new Set(["block"]), "block/relu")).toBe("block/relu");
    expect(shownAs(m, new Set(), "block/relu")).toBe("block");
    expect(shownAs(m, new Set(), "out")).toBe("out");
  });
  it("s_graph nets are lists of models", () => {
    expect(netModels([[1], [2]]).length).toBe(2);
    expect(netModels([{ uid: "a" }]).length).toBe(1);
  });
});
