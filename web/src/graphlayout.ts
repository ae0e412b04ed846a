/**
 * Graph layout as TensorBoard does it: each expanded name scope is a box laid out on its own
 * by dagre (a real layered-graph layout), its children inside it, bottom-up; a collapsed scope
 * or an op is a box sized to its label. dagre keeps the boxes of one level apart, and a scope's
 * box is as big as its children's layout plus a margin, so no two boxes overlap at any
 * expansion (only a scope box holds its children). Edges between different children of a
 * scope are routed by dagre at that scope's level (to the child boxes holding their ends).
 * Laying out scope by scope keeps each dagre run small: thousands of nodes lay out in well
 * under a second where one flat dagre run takes seconds.
 */
import dagre from "@dagrejs/dagre";
import { visibleEdges, visibleNodes, type GModel, type GNode } from "./graphmodel";

export interface Box {
  id: string;
  x: number; // top-left, layout units (px at zoom 1)
  y: number;
  w: number;
  h: number;
  /** An expanded scope (drawn as a frame holding its children). */
  open: boolean;
  depth: number;
  /** The scope box holding this one ("" at the top). */
  parent: string;
}

export interface RoutedEdge {
  source: string;
  target: string;
  points: Array<[number, number]>;
  control: boolean;
  num: number;
  info: string;
}

export interface Layout {
  boxes: Box[];
  edges: RoutedEdge[];
  width: number;
  height: number;
}

export const PAD = 12; // inside a scope frame
export const HEADER = 22; // a scope frame's title strip
const NODESEP = 18, RANKSEP = 34;
/** A scope whose layout is this many times taller than wide is folded into columns. */
const FOLD_RATIO = 2.5;

/** A box for a node drawn closed: wide enough for its label (at ~6.5 px a character). */
export function closedSize(n: GNode): { w: number; h: number } {
  const text = n.isScope ? `${n.label} (${n.leafCount})` : n.label;
  return { w: Math.max(n.isScope ? 60 : 40, Math.min(220, 16 + text.length * 6.5)), h: n.isScope ? 28 : 24 };
}

interface Inner {
  w: number;
  h: number;
  boxes: Box[]; // relative to the scope's content origin
  edges: RoutedEdge[];
}

/** Lay out the drawn graph: visible nodes, with expanded scopes as frames around their children. */
export function hierarchicalLayout(m: GModel, expanded: Set<string>): Layout {
  const visible = visibleNodes(m, expanded);
  const vis = new Set(visible);
  // Every visible edge is laid out in the innermost expanded scope holding both of its ends.
  const chain = (uid: string): string[] => {
    const out: string[] = [];
    for (let p = m.nodes.get(uid)?.parent; p; p = m.nodes.get(p)?.parent) out.unshift(p);
    return out;
  };
  const byScope = new Map<string, Array<{ a: string; b: string; e: { control: boolean; num: number; info: string } }>>();
  for (const e of visibleEdges(m, visible)) {
    const ca = [...chain(e.source), e.source], cb = [...chain(e.target), e.target];
    let i = 0;
    while (i < ca.length && i < cb.length && ca[i] === cb[i]) i++;
    if (i >= ca.length || i >= cb.length) continue; // one end inside the other: not drawn
    const scope = i === 0 ? "" : ca[i - 1];
    let l = byScope.get(scope);
    if (!l) byScope.set(scope, (l = []));
    l.push({ a: ca[i], b: cb[i], e });
  }

  const layoutScope = (scope: string, depth: number): Inner => {
    const kids = (scope ? m.nodes.get(scope)!.children : m.top).filter((k) => vis.has(k) || (expanded.has(k) && !m.folded.has(k)));
    const g = new dagre.graphlib.Graph({ multigraph: false });
    g.setGraph({ rankdir: "TB", nodesep: NODESEP, ranksep: RANKSEP, marginx: 0, marginy: 0 });
    g.setDefaultEdgeLabel(() => ({}));
    const inner = new Map<string, Inner>();
    for (const k of kids) {
      const n = m.nodes.get(k)!;
      if (n.isScope && expanded.has(k)) {
        const sub = layoutScope(k, depth + 1);
        inner.set(k, sub);
        g.setNode(k, { width: sub.w + 2 * PAD, height: sub.h + PAD + HEADER });
      } else {
        const s = closedSize(n);
        g.setNode(k, { width: s.w, height: s.h });
      }
    }
    const meta = new Map<string, { control: boolean; num: number; info: string; source: string; target: string }>();
    for (const { a, b, e } of byScope.get(scope) || []) {
      if (a === b || !g.hasNode(a) || !g.hasNode(b)) continue;
      const key = `${a}\u0000${b}`;
      const prev = meta.get(key);
      if (prev) prev.num += e.num;
      else {
        meta.set(key, { control: e.control, num: e.num, info: e.info, source: a, target: b });
        g.setEdge(a, b, { weight: 1 });
      }
    }
    if (kids.length) dagre.layout(g);
    const boxes: Box[] = [];
    const pos = new Map<string, { x: number; y: number; w: number; h: number }>();
    for (const k of kids) {
      const nd = g.node(k) as any;
      pos.set(k, { x: nd.x - nd.width / 2, y: nd.y - nd.height / 2, w: nd.width, h: nd.height });
    }
    const edges: RoutedEdge[] = [];
    for (const [, e] of meta) {
      const label = g.edge(e.source, e.target) as any;
      edges.push({ ...e, points: (label?.points || []).map((p: any) => [p.x, p.y] as [number, number]) });
    }
    let { w, h } = extent(pos);
    // A long chain (300 blocks in a row) would be one unreadable column: fold it into columns.
    if (h > FOLD_RATIO * Math.max(w, 200) && kids.length > 8) {
      const cols = Math.max(2, Math.round(Math.sqrt(h / (FOLD_RATIO * Math.max(w, 200)))));
      const band = h / cols, colW = w + 3 * NODESEP;
      const shift = (y: number) => Math.min(cols - 1, Math.floor(y / band));
      for (const p of pos.values()) {
        const c = shift(p.y + p.h / 2);
        p.x += c * colW;
        p.y -= c * band;
      }
      for (const e of edges) {
        // Keep the two ends on their boxes; the middle is a straight line.
        const a = pos.get(e.source)!, b = pos.get(e.target)!;
        e.points = [[a.x + a.w / 2, a.y + a.h], [b.x + b.w / 2, b.y]];
      }
      ({ w, h } = extent(pos));
    }
    for (const k of kids) {
      const p = pos.get(k)!;
      const sub = inner.get(k);
      boxes.push({ id: k, x: p.x, y: p.y, w: p.w, h: p.h, open: !!sub, depth, parent: scope });
      if (sub) {
        const ox = p.x + PAD, oy = p.y + HEADER;
        for (const b of sub.boxes) boxes.push({ ...b, x: b.x + ox, y: b.y + oy });
        for (const e of sub.edges) edges.push({ ...e, points: e.points.map(([x, y]) => [x + ox, y + oy] as [number, number]) });
      }
    }
    return { w, h, boxes, edges };
  };

  const root = layoutScope("", 0);
  return { boxes: root.boxes, edges: root.edges, width: root.w, height: root.h };
}

function extent(pos: Map<string, { x: number; y: number; w: number; h: number }>): { w: number; h: number } {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const p of pos.values()) {
    minX = Math.min(minX, p.x);
    minY = Math.min(minY, p.y);
    maxX = Math.max(maxX, p.x + p.w);
    maxY = Math.max(maxY, p.y + p.h);
  }
  if (!Number.isFinite(minX)) return { w: 0, h: 0 };
  // Normalise to a (0, 0) origin.
  for (const p of pos.values()) {
    p.x -= minX;
    p.y -= minY;
  }
  return { w: maxX - minX, h: maxY - minY };
}

/**
 * Pairs of boxes that overlap without one holding the other (a scope frame holds its
 * children): the layout's promise, checked by tests. Sweep over x: O(n log n + k).
 */
export function overlaps(boxes: readonly Box[], eps = 0.5): Array<[string, string]> {
  const idx = boxes.map((_, i) => i).sort((a, b) => boxes[a].x - boxes[b].x);
  const out: Array<[string, string]> = [];
  const active: number[] = [];
  const byId = new Map(boxes.map((b) => [b.id, b]));
  const holds = (a: Box, b: Box) => {
    for (let p = byId.get(b.parent); p; p = byId.get(p.parent)) if (p === a) return true;
    return false;
  };
  for (const i of idx) {
    const b = boxes[i];
    for (let k = active.length - 1; k >= 0; k--) if (boxes[active[k]].x + boxes[active[k]].w <= b.x + eps) active.splice(k, 1);
    for (const j of active) {
      const a = boxes[j];
      const ix = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
      const iy = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
      if (ix > eps && iy > eps && !holds(a, b) && !holds(b, a)) out.push([a.id, b.id]);
    }
    active.push(i);
  }
  return out;
}
