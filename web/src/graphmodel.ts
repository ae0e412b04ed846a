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
}

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
  return { nodes, top, opCategory };
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
    if (!n) return;
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
 * What stands for `uid` on screen: itself when every scope above it is expanded, else the
 * outermost collapsed scope holding it (the box it disappeared into).
 */
export function shownAs(m: GModel, expanded: Set<string>, uid: string): string {
  for (const a of ancestors(m, uid)) if (!expanded.has(a)) return a;
  return uid;
}

/**
 * Layered (Sugiyama-style) layout: back edges of a DFS are reversed, layers by longest path,
 * order within layers by barycenter sweeps. O((V + E) * sweeps); fine for thousands of nodes.
 * Returns positions in layout units (x: slot, y: layer).
 */
export function layeredLayout(ids: string[], edges: Array<{ source: string; target: string }>, sweeps = 4): Map<string, { x: number; y: number; layer: number }> {
  const index = new Map<string, number>();
  ids.forEach((id, i) => index.set(id, i));
  const n = ids.length;
  const out: number[][] = Array.from({ length: n }, () => []);
  for (const e of edges) {
    const a = index.get(e.source), b = index.get(e.target);
    if (a === undefined || b === undefined || a === b) continue;
    out[a].push(b);
  }
  // Iterative DFS to find back edges.
  const state = new Uint8Array(n); // 0 new, 1 on stack, 2 done
  const dag: number[][] = Array.from({ length: n }, () => []);
  for (let s = 0; s < n; s++) {
    if (state[s]) continue;
    const stack: Array<[number, number]> = [[s, 0]];
    state[s] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [v, i] = top;
      if (i < out[v].length) {
        top[1]++;
        const w = out[v][i];
        if (state[w] === 1) dag[w].push(v); // back edge: reverse
        else {
          dag[v].push(w);
          if (state[w] === 0) {
            state[w] = 1;
            stack.push([w, 0]);
          }
        }
      } else {
        state[v] = 2;
        stack.pop();
      }
    }
  }
  // Longest-path layering via Kahn's algorithm.
  const indeg = new Int32Array(n);
  for (let v = 0; v < n; v++) for (const w of dag[v]) indeg[w]++;
  const layer = new Int32Array(n);
  const queue: number[] = [];
  for (let v = 0; v < n; v++) if (indeg[v] === 0) queue.push(v);
  for (let qi = 0; qi < queue.length; qi++) {
    const v = queue[qi];
    for (const w of dag[v]) {
      if (layer[v] + 1 > layer[w]) layer[w] = layer[v] + 1;
      if (--indeg[w] === 0) queue.push(w);
    }
  }
  // Pull sources down next to their first consumer (keeps constants near their use).
  const preds: number[][] = Array.from({ length: n }, () => []);
  for (let v = 0; v < n; v++) for (const w of dag[v]) preds[w].push(v);
  for (let v = 0; v < n; v++) {
    if (preds[v].length === 0 && dag[v].length) {
      let m = Infinity;
      for (const w of dag[v]) m = Math.min(m, layer[w]);
      layer[v] = Math.max(0, m - 1);
    }
  }
  const nl = n ? Math.max(...layer) + 1 : 0;
  const layers: number[][] = Array.from({ length: nl }, () => []);
  for (const v of queue) layers[layer[v]].push(v);
  const pos = new Float64Array(n);
  for (const l of layers) l.forEach((v, i) => (pos[v] = i));
  const bary = (l: number[], nb: number[][]) => {
    const key = new Map<number, number>();
    for (const v of l) {
      const ns = nb[v];
      if (ns.length) {
        let s = 0;
        for (const u of ns) s += pos[u];
        key.set(v, s / ns.length);
      } else key.set(v, pos[v]);
    }
    l.sort((a, b) => key.get(a)! - key.get(b)!);
    l.forEach((v, i) => (pos[v] = i));
  };
  for (let s = 0; s < sweeps; s++) {
    for (let i = 1; i < nl; i++) bary(layers[i], preds);
    for (let i = nl - 2; i >= 0; i--) bary(layers[i], dag);
  }
  const res = new Map<string, { x: number; y: number; layer: number }>();
  for (let li = 0; li < nl; li++) {
    const l = layers[li];
    const off = (l.length - 1) / 2;
    l.forEach((v, i) => res.set(ids[v], { x: i - off, y: li, layer: li }));
  }
  return res;
}
