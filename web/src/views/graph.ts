/** Structure (s_graph) and computation (c_graph) graphs: collapsible name scopes, pan/zoom. */
import { getJSON, maybeParse } from "../api";
import { App, Change, h, View } from "../app";
import { PALETTE } from "../colors";
import { EChart } from "../echarts";
import { html, tip } from "../escape";
import { hierarchicalLayout } from "../graphlayout";
import { ancestors, buildModel, categoryOf, netModels, shownAs, visibleNodes, type GModel } from "../graphmodel";
import { errorBox, picker } from "./common";

const CATEGORY_COLORS: Record<string, string> = {
  Convolution: "#e15759", Normalization: "#76b7b2", "Math&Activation&Pooling": "#4e79a7",
  "Sparse Tensors&Tensor Transformations": "#f28e2b", ControlFlow: "#b07aa1", "Losses&Metrics": "#edc948",
  InputsandReaders: "#59a14f", other: "#9c9c9c", scope: "#d4dbe6",
};

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
        h("button", { class: "btn", onclick: () => this.expandAll() }, "expand all"),
        h("button", { class: "btn", onclick: () => { this.expanded.clear(); this.draw(); } }, "collapse all"),
        this.status),
      h("div", { class: "graph-layout" }, this.chart.el, this.details),
    );
    this.search.addEventListener("change", () => this.find(this.search.value));
    this.chart.whenReady((c) => {
      c.on("click", (p: any) => {
        if (p.seriesIndex === 0 && p.data?.id !== undefined) this.onNode(String(p.data.id));
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

  private expandAll(): void {
    if (!this.model) return;
    for (const n of this.model.nodes.values()) if (n.isScope) this.expanded.add(n.uid);
    this.draw();
  }

  private onNode(uid: string): void {
    if (!this.model) return;
    const n = this.model.nodes.get(uid);
    if (!n) return;
    this.selected = uid;
    // A closed scope opens; an open scope's frame only selects it (its details can collapse it).
    if (n.isScope && !this.expanded.has(uid)) {
      this.expanded.add(uid);
      this.draw(n.children[0]);
    } else this.draw();
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
    hit = this.model.folded.get(hit) ?? hit; // a folded constant: show its op
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
    const folded = (m.foldedInto.get(uid) || []).map((c) => {
      const cn = m.nodes.get(c)!;
      const v = cn.attrs.attr ?? cn.attrs.value;
      return `${cn.label}${v !== undefined ? ` = ${typeof v === "string" ? v : JSON.stringify(v)}` : ""}`;
    });
    const ins = n.inputs.map(String);
    const outs = n.targets.map((t) => `${t.id}${t.info ? ` ${t.info}` : ""}${t.control ? " (control)" : ""}`);
    const parent = n.parent;
    this.details.replaceChildren(h("div", {},
      h("h4", {}, n.label),
      h("table", { class: "kv" }, ...rows.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v)))),
      folded.length ? h("div", { class: "graph-folded" }, h("b", {}, `constants (${folded.length})`), h("ul", {}, ...folded.slice(0, 50).map((s) => h("li", {}, s)))) : null,
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

  /** Draw the visible nodes, expanded scopes as frames around them; `focus` is highlighted. */
  private draw(focus?: string): void {
    const m = this.model;
    if (!m) return;
    const ids = visibleNodes(m, this.expanded);
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
    const lay = hierarchicalLayout(m, this.expanded);
    const layoutMs = performance.now() - t0;
    const scopeColors = new Map<string, string>();
    const boxes = lay.boxes.map((b) => {
      const n = m.nodes.get(b.id)!;
      const cat = categoryOf(m, n.op);
      const par = n.parent;
      if (par && !scopeColors.has(par)) scopeColors.set(par, PALETTE[scopeColors.size % PALETTE.length]);
      const hot = b.id === this.selected || b.id === focus;
      return {
        value: [b.x, b.y, b.w, b.h], id: b.id, open: b.open,
        // Shown literally (text of a zrender element, never HTML).
        text: b.open ? n.label : n.isScope ? `${n.label} (${n.leafCount})` : n.label,
        op: n.op || (b.open ? "name scope (expanded)" : "name scope: click to expand"),
        fill: b.open ? "rgba(212, 219, 230, 0.28)" : CATEGORY_COLORS[cat] || CATEGORY_COLORS.other,
        stroke: hot ? "#000" : b.open ? "#8d9bb0" : par ? scopeColors.get(par)! : "#fff",
        lineWidth: hot ? 3 : b.open ? 1 : par ? 2 : 1,
      };
    });
    const edges = lay.edges.map((e) => ({ value: [0], points: e.points, source: e.source, target: e.target, info: e.info, num: e.num, control: e.control }));
    // Equal scales on x and y: the layout is in pixels at zoom 1, fitted into the chart.
    const W = Math.max(1, lay.width), H = Math.max(1, lay.height);
    const gw = Math.max(200, (this.chart.el.clientWidth || 900) - 20), gh = 620 - 20;
    const k = Math.min(gw / W, gh / H, 1.5);
    const spanX = gw / k, spanY = gh / k;
    const x0 = (W - spanX) / 2, y0 = (H - spanY) / 2;
    this.chart.set({
      animation: false,
      grid: { left: 10, right: 10, top: 10, bottom: 10 },
      xAxis: { type: "value", min: x0, max: x0 + spanX, show: false },
      yAxis: { type: "value", min: y0, max: y0 + spanY, inverse: true, show: false },
      dataZoom: [
        { type: "inside", xAxisIndex: 0, filterMode: "none", minSpan: 0.05 },
        { type: "inside", yAxisIndex: 0, filterMode: "none", minSpan: 0.05 },
      ],
      tooltip: {
        confine: true,
        formatter: tip((p: any) => (p.seriesIndex === 1
          ? html`${p.data.source} → ${p.data.target}${p.data.info ? html`<br>${p.data.info}` : ""}${p.data.num > 1 ? html`<br>${p.data.num} edges` : ""}`
          : html`${p.data.id}<br>${p.data.op}`)),
      },
      series: [
        {
          type: "custom", coordinateSystem: "cartesian2d", clip: true, data: boxes, encode: { x: [0], y: [1] }, z: 2,
          renderItem: (_params: any, api: any) => {
            const d = boxes[_params.dataIndex];
            const [x, y, w, hh] = d.value;
            const p0 = api.coord([x, y]), p1 = api.coord([x + w, y + hh]);
            const pw = p1[0] - p0[0], ph = p1[1] - p0[1];
            const showText = pw > 24 && ph > 9;
            return {
              type: "rect",
              shape: { x: p0[0], y: p0[1], width: pw, height: ph, r: Math.min(4, ph / 4) },
              style: { fill: d.fill, stroke: d.stroke, lineWidth: d.lineWidth },
              textContent: showText ? { style: { text: d.text, fontSize: 10, fill: "#1d232a", width: Math.max(10, pw - 6), overflow: "truncate" } } : undefined,
              textConfig: showText ? { position: d.open ? "insideTopLeft" : "inside" } : undefined,
            };
          },
        },
        {
          type: "custom", coordinateSystem: "cartesian2d", clip: true, data: edges, z: 3, silent: false,
          renderItem: (_params: any, api: any) => {
            const e = edges[_params.dataIndex];
            const pts = e.points.map((q) => api.coord(q));
            if (pts.length < 2) return null;
            const [ax, ay] = pts[pts.length - 2], [bx, by] = pts[pts.length - 1];
            const len = Math.hypot(bx - ax, by - ay) || 1, ux = (bx - ax) / len, uy = (by - ay) / len, s = 5;
            const width = Math.min(4, 0.8 + Math.log2(e.num));
            return {
              type: "group",
              children: [
                { type: "polyline", shape: { points: pts }, style: { stroke: "#8a8a8a", lineWidth: width, fill: null, opacity: 0.8, lineDash: e.control ? [4, 3] : null } },
                { type: "polygon", shape: { points: [[bx, by], [bx - s * ux + s * 0.6 * uy, by - s * uy - s * 0.6 * ux], [bx - s * ux - s * 0.6 * uy, by - s * uy + s * 0.6 * ux]] }, style: { fill: "#8a8a8a" } },
              ],
            };
          },
        },
      ],
    });
    this.chart.el.dataset.nodes = String(ids.length);
    this.chart.el.dataset.boxes = String(boxes.length);
    this.chart.el.dataset.edges = String(edges.length);
    this.chart.el.dataset.total = String(m.nodes.size);
    this.chart.el.dataset.layoutMs = String(Math.round(layoutMs));
    this.status.textContent = `${ids.length} shown of ${m.nodes.size} nodes · layout ${Math.round(layoutMs)} ms`;
  }

  destroy(): void {
    this.chart.destroy();
  }
}
