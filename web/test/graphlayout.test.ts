import { describe, expect, it } from "vitest";
import { buildModel, shownAs, visibleNodes } from "../src/graphmodel";
import { hierarchicalLayout, overlaps, type Box } from "../src/graphlayout";

/** A torch-like net: `blocks` scopes in a chain, each with a linear op, its weight and bias
 * constants, an activation and a nested scope of two ops. */
function net(blocks: number): any[] {
  const top: any[] = [{ uid: "input", label: "input", op: "Placeholder", targets: [{ id: "b0/linear" }], sub_net: [] }];
  for (let i = 0; i < blocks; i++) {
    const b = `b${i}`, next = i + 1 < blocks ? `b${i + 1}/linear` : "output";
    top.push({
      uid: b, label: b, op: "", targets: [], sub_net: [
        { uid: `${b}/weight`, label: "weight", op: "prim::Constant", parent: b, targets: [{ id: `${b}/linear` }], sub_net: [] },
        { uid: `${b}/bias`, label: "bias", op: "prim::Constant", parent: b, targets: [{ id: `${b}/linear` }], sub_net: [] },
        { uid: `${b}/linear`, label: "linear", op: "aten::linear", parent: b, targets: [{ id: `${b}/act/relu` }], sub_net: [] },
        { uid: `${b}/act`, label: "act", op: "", parent: b, targets: [], sub_net: [
          { uid: `${b}/act/relu`, label: "relu", op: "aten::relu", parent: `${b}/act`, targets: [{ id: `${b}/act/drop` }], sub_net: [] },
          { uid: `${b}/act/drop`, label: "dropout_with_a_long_name", op: "aten::dropout", parent: `${b}/act`, targets: [{ id: next }], sub_net: [] },
        ] },
      ],
    });
  }
  top.push({ uid: "output", label: "output", op: "Identity", targets: [], sub_net: [] });
  return top;
}

function inside(child: Box, parent: Box): boolean {
  return child.x >= parent.x - 0.5 && child.y >= parent.y - 0.5 && child.x + child.w <= parent.x + parent.w + 0.5 && child.y + child.h <= parent.y + parent.h + 0.5;
}

describe("constants fold into their op", () => {
  const m = buildModel(net(2), []);
  it("a constant feeding one op is not drawn; the op lists it", () => {
    const all = new Set([...m.nodes.values()].filter((n) => n.isScope).map((n) => n.uid));
    const v = visibleNodes(m, all);
    expect(v).not.toContain("b0/weight");
    expect(v).toContain("b0/linear");
    expect(m.foldedInto.get("b0/linear")).toEqual(["b0/weight", "b0/bias"]);
    expect(shownAs(m, all, "b0/bias")).toBe("b0/linear");
    expect(shownAs(m, new Set(), "b0/bias")).toBe("b0");
  });
  it("a constant feeding two ops stays a node", () => {
    const n2 = net(1);
    n2[1].sub_net[0].targets.push({ id: "b0/act/relu" });
    const m2 = buildModel(n2, []);
    expect(m2.folded.has("b0/weight")).toBe(false);
    expect(m2.folded.has("b0/bias")).toBe(true);
  });
});

describe("hierarchical graph layout (dagre per scope)", () => {
  const m = buildModel(net(40), []);
  const scopes = [...m.nodes.values()].filter((n) => n.isScope).map((n) => n.uid);
  const levels: Array<[string, Set<string>]> = [
    ["collapsed", new Set()],
    ["one level", new Set(scopes.filter((s) => !s.includes("/")))],
    ["every other block", new Set(scopes.filter((s, i) => i % 2 === 0))],
    ["all", new Set(scopes)],
  ];
  for (const [name, expanded] of levels) {
    it(`no two boxes overlap, children inside their scope: ${name}`, () => {
      const l = hierarchicalLayout(m, expanded);
      const drawn = l.boxes.filter((b) => !b.open).map((b) => b.id).sort();
      expect(drawn).toEqual(visibleNodes(m, expanded).sort());
      expect(overlaps(l.boxes)).toEqual([]);
      const byId = new Map(l.boxes.map((b) => [b.id, b]));
      for (const b of l.boxes) if (b.parent) expect(inside(b, byId.get(b.parent)!), `${b.id} in ${b.parent}`).toBe(true);
      for (const e of l.edges) expect(e.points.length).toBeGreaterThanOrEqual(2);
    });
  }
  it("the overlap check finds overlaps", () => {
    const a: Box = { id: "a", x: 0, y: 0, w: 10, h: 10, open: false, depth: 0, parent: "" };
    expect(overlaps([a, { ...a, id: "b", x: 5, y: 5 }])).toEqual([["a", "b"]]);
    expect(overlaps([{ ...a, open: true, w: 50, h: 50 }, { ...a, id: "a/c", x: 5, y: 5, parent: "a" }])).toEqual([]);
  });
  it("a 2.7k-node graph expanded lays out in seconds at most", () => {
    const big = buildModel(net(300), []);
    const all = new Set([...big.nodes.values()].filter((n) => n.isScope).map((n) => n.uid));
    const t0 = performance.now();
    const l = hierarchicalLayout(big, all);
    const ms = performance.now() - t0;
    expect(big.nodes.size).toBeGreaterThan(2000);
    expect(overlaps(l.boxes)).toEqual([]);
    expect(ms).toBeLessThan(20000);
    console.log(`layout of ${big.nodes.size} nodes, all expanded: ${Math.round(ms)} ms`);
  });
});
