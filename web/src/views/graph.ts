/** Structure (s_graph) and computation (c_graph) graphs: collapsible name scopes, pan/zoom. */
import { getJSON, maybeParse } from "../api";
import { App, Change, h, View } from "../app";
import { PALETTE } from "../colors";
import { EChart } from "../echarts";
import { html, tip } from "../escape";
import { ancestors, buildModel, categoryOf, layeredLayout, netModels, shownAs, visibleEdges, visibleNodes, type GModel } from "../graphmodel";
import { errorBox, picker } from "./common";

const CATEGORY_COLORS: Record<string, string> = {
  Convolution: "#e15759", Normalization: "#76b7b2", "Math&Activation&Pooling": "#4e79a7",
  "Sparse Tensors&Tensor Transformations": "#f28e2b", ControlFlow: "#b07aa1", "Losses&Metrics": "#edc948",
  InputsandReaders: "#59a14f", other: "#9c9c9c", scope: "#d4dbe6",
};

/**
 * Deep graphs (long chains of layers) would be fitted into the box as one unreadable column:
 * fold them into several columns of at most FOLD_ROWS layers, read top-down, left to right.
 */
const FOLD_ROWS = 40;
function foldLayers(pos: Map<string, { x: number; y: number; layer: number }>): Map<string, { x: number; y: number; layer: number }> {
  let layers = 0, minX = Infinity, maxX = -Infinity;
  for (const p of pos.values()) {
    layers = Math.max(layers, p.layer + 1);
    minX = Math.min(minX, p.x);
    maxX = Math.max(maxX, p.x);
  }
  if (layers <= FOLD_ROWS * 1.5) return pos;
  const colWidth = maxX - minX + 2.5;
  const out = new Map<string, { x: number; y: number; layer: number }>();
  for (const [id, p] of pos) {
    const col = Math.floor(p.layer / FOLD_ROWS);
    out.set(id, { x: p.x + col * colWidth, y: p.layer % FOLD_ROWS, layer: p.layer });
  }
  return out;
}

export class GraphView implements View {
  el: HTMLElement;
  private runP = picker("Run", "graph-run", () => this.load());
  private tagP = picker("Graph", "graph-tag", () => this.load());
  private modelP = picker("Model", "graph-model", () => this.pickModel());
  private search = h("input", { type: "search", class: "graph-search", placeholder: "find node…" });
  private chart = new EChart(620, "echart graph-canvas");
  private details = h("div", { class: "graph-details" });
  private status = h("span", { class: "muted graph-status" });
  private nets: any[][] = [];
  private operator: unknown = null;
  private model: GModel | null = null;
  private expanded = new Set<string>();
  private selected: string | null = null;
  private seq = 0;

  constructor(private app: App) {
    this.el = h(
      "section",
      { class: "view view-graph" },
      h("div", { class: "toolbar" }, this.runP.el, this.tagP.el, this.modelP.el, this.search,
        h("button", { class: "btn", onclick: () => this.expandLevel() }, "expand one level"),
        h("button", { class: "btn", onclick: () => { this.expanded.clear(); this.draw(); } }, "collapse all"),
        this.status),
      h("div", { class: "graph-layout" }, this.chart.el, this.details),
    );
    this.search.addEventListener("change", () => this.find(this.search.value));
    this.chart.whenReady((c) => {
      c.on("click", (p: any) => {
        if (p.dataType === "node" && !String(p.data.id).startsWith("\u0000")) this.onNode(p.data.id);
      });
    });
    this.clearDetails();
    this.update("categories");
  }

  update(_c: Change): void {
    const runs = this.app.activeRuns().filter((r) => this.app.cat.get(r)?.get("graph")?.size);
    const before = this.runP.sel.value;
    this.runP.set(runs);
    const run = this.runP.sel.value;
    const tags = [...(this.app.cat.get(run)?.get("graph") || [])].sort().reverse();
    const beforeTag = this.tagP.sel.value;
    this.tagP.set(tags, tags.map((t) => (t === "c_graph" ? "computation (c_graph)" : t === "s_graph" ? "structure (s_graph)" : t)));
    if (run && (run !== before || this.tagP.sel.value !== beforeTag || !this.model)) this.load();
    if (!runs.length) this.chart.el.dataset.nodes = "0";
  }

  private async load(): Promise<void> {
    const run = this.runP.sel.value, tag = this.tagP.sel.value;
    if (!run || !tag) return;
    const seq = ++this.seq;
    this.status.textContent = "loading…";
    try {
      const raw = maybeParse(await getJSON("graph", { run, tag }));
      if (seq !== this.seq) return;
      this.nets = netModels(raw?.net);
      this.operator = raw?.operator;
      this.modelP.set(this.nets.map((_, i) => String(i)), this.nets.map((n, i) => `#${i + 1} (${n.length} top nodes)`));
      this.modelP.el.hidden = this.nets.length <= 1;
      this.pickModel();
    } catch (e) {
      this.status.textContent = "";
      this.details.replaceChildren(errorBox(e));
    }
  }

  private pickModel(): void {
    const i = Number(this.modelP.sel.value) || 0;
    this.model = buildModel(this.nets[i] || [], this.operator);
    this.expanded.clear();
    this.selected = null;
    this.clearDetails();
    // Start expanded while the top level is tiny (e.g. a single wrapper scope).
    let vis = visibleNodes(this.model, this.expanded);
    while (vis.length < 4) {
      const scopes = vis.filter((u) => this.model!.nodes.get(u)!.isScope);
      if (!scopes.length) break;
      scopes.forEach((s) => this.expanded.add(s));
      vis = visibleNodes(this.model, this.expanded);
    }
    this.draw();
  }

  private expandLevel(): void {
    if (!this.model) return;
    for (const u of visibleNodes(this.model, this.expanded)) if (this.model.nodes.get(u)!.isScope) this.expanded.add(u);
    this.draw();
  }

  private onNode(uid: string): void {
    if (!this.model) return;
    const n = this.model.nodes.get(uid);
    if (!n) return;
    this.selected = uid;
    if (n.isScope) {
      this.expanded.add(uid);
      this.draw(n.children[0]);
    }
    this.showDetails(uid);
  }

  private find(q: string): void {
    if (!this.model || !q.trim()) return;
    const ql = q.trim().toLowerCase();
    let hit: string | null = null;
    for (const uid of this.model.nodes.keys()) {
      if (uid.toLowerCase() === ql) { hit = uid; break; }
      if (!hit && uid.toLowerCase().includes(ql)) hit = uid;
    }
    if (!hit) {
      this.status.textContent = `no node matches "${q}"`;
      return;
    }
    for (const a of ancestors(this.model, hit)) this.expanded.add(a);
    this.selected = hit;
    this.draw(hit);
    this.showDetails(hit);
  }

  private clearDetails(): void {
    this.details.replaceChildren(h("div", { class: "muted" }, "Click a node for details; click a name scope to expand or collapse it."));
    delete this.details.dataset.node;
  }

  private showDetails(uid: string): void {
    const m = this.model!;
    const n = m.nodes.get(uid)!;
    const rows: Array<[string, string]> = [
      ["name", n.uid], ["op", n.op || "(name scope)"], ["category", categoryOf(m, n.op)],
    ];
    if (n.isScope) rows.push(["contains", `${n.children.length} children, ${n.leafCount} ops`]);
    for (const [k, v] of Object.entries(n.attrs)) rows.push([`attr ${k}`, typeof v === "string" ? v : JSON.stringify(v)]);
    const ins = n.inputs.map(String);
    const outs = n.targets.map((t) => `${t.id}${t.info ? ` ${t.info}` : ""}${t.control ? " (control)" : ""}`);
    const parent = n.parent;
    this.details.replaceChildren(h("div", {},
      h("h4", {}, n.label),
      h("table", { class: "kv" }, ...rows.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v)))),
      ins.length ? h("div", {}, h("b", {}, `inputs (${ins.length})`), h("ul", {}, ...ins.slice(0, 50).map((s) => h("li", {}, s)))) : null,
      outs.length ? h("div", {}, h("b", {}, `outputs (${outs.length})`), h("ul", {}, ...outs.slice(0, 50).map((s) => h("li", {}, s)))) : null,
      n.isScope && this.expanded.has(uid) ? h("button", { class: "btn", onclick: () => { this.collapse(uid); } }, "collapse scope") : null,
      parent ? h("button", { class: "btn", onclick: () => this.collapse(parent) }, `collapse ${parent}`) : null,
    ));
    this.details.dataset.node = uid;
  }

  private collapse(uid: string): void {
    for (const u of [...this.expanded]) if (u === uid || u.startsWith(uid + "/")) this.expanded.delete(u);
    this.draw();
    this.showDetails(uid);
  }

  /** Draw the visible nodes; `focus` (a node id) is highlighted. */
  private draw(focus?: string): void {
    const m = this.model;
    if (!m) return;
    const ids = visibleNodes(m, this.expanded);
    const edges = visibleEdges(m, ids);
    // The details pane never describes a node that is no longer drawn: it moves to the
    // collapsed scope the node went into.
    if (this.selected && m.nodes.has(this.selected)) {
      const box = shownAs(m, this.expanded, this.selected);
      if (box !== this.selected) {
        this.selected = box;
        this.showDetails(box);
      }
    }
    const t0 = performance.now();
    const pos = foldLayers(layeredLayout(ids, edges));
    const big = ids.length > 400;
    const DX = 110, DY = 70;
    const scopeColors = new Map<string, string>();
    const nodes = ids.map((id) => {
      const n = m.nodes.get(id)!;
      const p = pos.get(id) || { x: 0, y: 0 };
      const cat = categoryOf(m, n.op);
      const par = n.parent;
      if (par && !scopeColors.has(par)) scopeColors.set(par, PALETTE[scopeColors.size % PALETTE.length]);
      return {
        id, name: n.label, x: p.x * DX, y: p.y * DY,
        symbol: n.isScope ? "roundRect" : "circle",
        symbolSize: n.isScope ? [Math.min(140, 40 + n.label.length * 6), 26] : 14,
        itemStyle: {
          color: CATEGORY_COLORS[cat] || CATEGORY_COLORS.other,
          borderColor: id === this.selected || id === focus ? "#000" : par ? scopeColors.get(par) : "#fff",
          borderWidth: id === this.selected || id === focus ? 3 : par ? 2 : 1,
        },
        // Shown literally by the series' label formatter (a formatter string would expand {b}).
        text: n.isScope ? `${n.label} (${n.leafCount})` : n.label,
        op: n.op || "name scope: click to expand",
        label: { show: !big || n.isScope, position: n.isScope ? "inside" : "bottom", fontSize: 10 },
      };
    });
    const links = edges.map((e) => ({
      source: e.source, target: e.target, value: e.num,
      lineStyle: { type: e.control ? "dashed" : "solid", width: Math.min(4, 0.8 + Math.log2(e.num)) },
      info: e.info, num: e.num,
    }));
    this.chart.set({
      animation: false,
      tooltip: {
        confine: true,
        formatter: tip((p: any) => (p.dataType === "edge"
          ? html`${p.data.source} → ${p.data.target}${p.data.info ? html`<br>${p.data.info}` : ""}${p.data.num > 1 ? html`<br>${p.data.num} edges` : ""}`
          : html`${p.data.id}<br>${p.data.op}`)),
      },
      series: [{
        type: "graph", layout: "none", roam: true, draggable: false, data: nodes, links,
        label: { formatter: (p: any) => String(p.data.text ?? "") },
        edgeSymbol: ["none", "arrow"], edgeSymbolSize: 6, lineStyle: { color: "#8a8a8a", opacity: 0.7, curveness: 0.05 },
        emphasis: { focus: big ? "none" : "adjacency", label: { show: true } }, labelLayout: { hideOverlap: true },
        scaleLimit: { min: 0.05, max: 200 }, nodeScaleRatio: 0.3, progressive: 0,
      }],
    });
    this.chart.el.dataset.nodes = String(ids.length);
    this.chart.el.dataset.edges = String(edges.length);
    this.chart.el.dataset.total = String(m.nodes.size);
    this.status.textContent = `${ids.length} shown of ${m.nodes.size} nodes · layout ${Math.round(performance.now() - t0)} ms`;
  }

  destroy(): void {
    this.chart.destroy();
  }
}
