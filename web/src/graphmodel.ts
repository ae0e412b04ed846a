/**
 * Graph model for the TS-VIS net JSON (docs/frontend-shapes.md, tsvis_live/compute/graphs.py):
 * nodes {label, parent, uid, op, layer, attrs, inputs, targets: [{id, info, control, num}], sub_net}.
 * Edges exist between every pair of tiers, so the drawn edges are simply those whose two ends
 * are both visible. Pure code, unit-tested.
 */

export interface GNode {
  uid: string;
  label: string;
  op: string;
  parent: string;
  attrs: Record<string, unknown>;
  inputs: unknown[];
  children: string[];
  targets: Array<{ id: string; info: string; control: boolean; num: number }>;
  isScope: boolean;
  leafCount: number;
}

export interface GModel {
  nodes: Map<string, GNode>;
  top: string[];
  opCategory: Map<string, string>;
  /** Constants folded into the one op they feed (TensorBoard's habit): constant -> op. */
  folded: Map<string, string>;
  /** op -> the constants folded into it. */
  foldedInto: Map<string, string[]>;
}

/** Ops that only hold a value: drawn inside their consumer, not as nodes of their own. */
const CONSTANT_OPS = /^(prim::Constant|Const|Constant|onnx::Constant|HostConst)$/i;

function asArray(v: unknown): any[] {
  return Array.isArray(v) ? v : [];
}

/** `net` may be a node list (c_graph) or a list of node lists (s_graph: one per model). */
export function netModels(net: unknown): any[][] {
  const a = asArray(net);
  if (a.length && Array.isArray(a[0])) return a.map(asArray);
  return [a];
}

export function buildModel(nodesIn: any[], operator: unknown): GModel {
  const nodes = new Map<string, GNode>();
  const top: string[] = [];
  const walk = (n: any, parent: string): string => {
    const uid = String(n.uid ?? n.name ?? n.id ?? n.label ?? "");
    const kids = asArray(n.sub_net);
    const node: GNode = {
      uid,
      label: String(n.label ?? uid.split("/").pop() ?? uid),
      op: String(n.op ?? ""),
      parent: n.parent !== undefined ? String(n.parent) : parent,
      attrs: n.attrs && typeof n.attrs === "object" ? n.attrs : {},
      inputs: asArray(n.inputs),
      children: [],
      targets: asArray(n.targets).map((t: any) =>
        typeof t === "string"
          ? { id: t, info: "", control: false, num: 1 }
          : { id: String(t.id), info: String(t.info ?? ""), control: t.control === true || t.control === "true", num: Number(t.num ?? 1) || 1 },
      ),
      isScope: kids.length > 0,
      leafCount: 0,
    };
    nodes.set(uid, node);
    for (const k of kids) node.children.push(walk(k, uid));
    return uid;
  };
  for (const n of nodesIn) top.push(walk(n, ""));
  const count = (uid: string): number => {
    const n = nodes.get(uid)!;
    n.leafCount = n.children.length ? n.children.reduce((a, c) => a + count(c), 0) : 1;
    return n.leafCount;
  };
  top.forEach(count);
  const opCategory = new Map<string, string>();
  for (const c of asArray(operator)) {
    if (c && typeof c === "object") for (const o of asArray(c.list)) opCategory.set(String(o).toLowerCase(), String(c.op));
  }
  // A constant feeding exactly one op (targets list every tier: keep the ops) folds into it.
  const folded = new Map<string, string>();
  const foldedInto = new Map<string, string[]>();
  for (const n of nodes.values()) {
    if (n.isScope || !CONSTANT_OPS.test(n.op)) continue;
    const ops = new Set(n.targets.map((t) => t.id).filter((id) => nodes.has(id) && !nodes.get(id)!.isScope));
    if (ops.size !== 1) continue;
    const op = [...ops][0];
    if (CONSTANT_OPS.test(nodes.get(op)!.op)) continue;
    folded.set(n.uid, op);
    let l = foldedInto.get(op);
    if (!l) foldedInto.set(op, (l = []));
    l.push(n.uid);
  }
  return { nodes, top, opCategory, folded, foldedInto };
}

export function categoryOf(m: GModel, op: string): string {
  const k = op.toLowerCase();
  return m.opCategory.get(k) ?? m.opCategory.get(k.replace(/_/g, "")) ?? (op ? "other" : "scope");
}

/** Nodes drawn: children of expanded scopes (recursively from the top), not expanded scopes. */
export function visibleNodes(m: GModel, expanded: Set<string>): string[] {
  const out: string[] = [];
  const visit = (uid: string) => {
    const n = m.nodes.get(uid);
    if (!n || m.folded.has(uid)) return;
    if (n.isScope && expanded.has(uid)) n.children.forEach(visit);
    else out.push(uid);
  };
  m.top.forEach(visit);
  return out;
}

export function visibleEdges(m: GModel, visible: string[]): Array<{ source: string; target: string; info: string; control: boolean; num: number }> {
  const vis = new Set(visible);
  const out: Array<{ source: string; target: string; info: string; control: boolean; num: number }> = [];
  for (const uid of visible) {
    const n = m.nodes.get(uid)!;
    for (const t of n.targets) if (vis.has(t.id) && t.id !== uid) out.push({ source: uid, target: t.id, info: t.info, control: t.control, num: t.num });
  }
  return out;
}

export function ancestors(m: GModel, uid: string): string[] {
  const out: string[] = [];
  let p = m.nodes.get(uid)?.parent;
  while (p) {
    out.unshift(p);
    p = m.nodes.get(p)?.parent;
  }
  return out;
}

/**
 * What stands for `uid` on screen: itself (or, for a folded constant, its op) when every
 * scope above it is expanded, else the outermost collapsed scope holding it.
 */
export function shownAs(m: GModel, expanded: Set<string>, uid: string): string {
  const u = m.folded.get(uid) ?? uid; // a folded constant is drawn as its op
  for (const a of ancestors(m, u)) if (!expanded.has(a)) return a;
  return u;
}
