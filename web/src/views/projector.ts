/** Projector: PCA / t-SNE of embeddings in 2-D (ECharts) or 3-D (rotatable canvas). */
import { getJSON, maybeParse } from "../api";
import { App, Change, h, View } from "../app";
import { labelColor } from "../colors";
import { EChart } from "../echarts";
import { html, tip } from "../escape";
import { num } from "../shape";
import { errorBox, picker } from "./common";

/**
 * A dependency-free 3-D scatter: orthographic-with-perspective projection on a 2-D canvas,
 * drag to rotate, wheel to zoom, hover for the nearest point. (echarts-gl would need WebGL,
 * which headless/--disable-gpu browsers and some remote desktops lack.)
 */
export class Scatter3D {
  el: HTMLCanvasElement;
  private pts = new Float32Array(0);
  private colors: string[] = [];
  private yaw = 0.6;
  private pitch = 0.35;
  private zoom = 1;
  private proj = new Float32Array(0);
  private hover = -1;
  private raf = 0;
  onHover: (i: number) => void = () => undefined;

  constructor(height = 520) {
    this.el = h("canvas", { class: "scatter3d", height: height });
    this.el.style.height = `${height}px`;
    let drag: { x: number; y: number } | null = null;
    this.el.addEventListener("pointerdown", (e) => {
      drag = { x: e.clientX, y: e.clientY };
      this.el.setPointerCapture(e.pointerId);
    });
    this.el.addEventListener("pointerup", () => (drag = null));
    this.el.addEventListener("pointermove", (e) => {
      if (drag) {
        this.yaw += (e.clientX - drag.x) * 0.01;
        this.pitch = Math.max(-1.5, Math.min(1.5, this.pitch + (e.clientY - drag.y) * 0.01));
        drag = { x: e.clientX, y: e.clientY };
        this.request();
      } else this.pick(e);
    });
    this.el.addEventListener("wheel", (e) => {
      e.preventDefault();
      this.zoom = Math.max(0.2, Math.min(20, this.zoom * Math.exp(-e.deltaY * 0.001)));
      this.request();
    }, { passive: false });
  }

  setData(points: number[][], colors: string[]): void {
    const n = points.length;
    this.pts = new Float32Array(n * 3);
    const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
    points.forEach((p) => { for (let d = 0; d < 3; d++) { const v = p[d] ?? 0; if (v < lo[d]) lo[d] = v; if (v > hi[d]) hi[d] = v; } });
    const span = Math.max(1e-12, ...[0, 1, 2].map((d) => hi[d] - lo[d]));
    points.forEach((p, i) => { for (let d = 0; d < 3; d++) this.pts[i * 3 + d] = (((p[d] ?? 0) - (lo[d] + hi[d]) / 2) / span) * 2; });
    this.colors = colors;
    this.request();
  }

  private request(): void {
    if (!this.raf) this.raf = requestAnimationFrame(() => { this.raf = 0; this.draw(); });
  }

  draw(): void {
    const c = this.el;
    const w = c.clientWidth || 600, hgt = c.clientHeight || 520;
    const dpr = window.devicePixelRatio || 1;
    if (c.width !== Math.round(w * dpr)) { c.width = Math.round(w * dpr); c.height = Math.round(hgt * dpr); }
    const ctx = c.getContext("2d")!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, hgt);
    const n = this.pts.length / 3;
    const cy = Math.cos(this.yaw), sy = Math.sin(this.yaw), cp = Math.cos(this.pitch), sp = Math.sin(this.pitch);
    const scale = (Math.min(w, hgt) / 2.6) * this.zoom;
    this.proj = new Float32Array(n * 3);
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const x = this.pts[i * 3], y = this.pts[i * 3 + 1], z = this.pts[i * 3 + 2];
      const x1 = x * cy - z * sy, z1 = x * sy + z * cy;
      const y2 = y * cp - z1 * sp, z2 = y * sp + z1 * cp;
      const persp = 3 / (3 + z2);
      this.proj[i * 3] = w / 2 + x1 * scale * persp;
      this.proj[i * 3 + 1] = hgt / 2 - y2 * scale * persp;
      this.proj[i * 3 + 2] = z2;
      order[i] = i;
    }
    order.sort((a, b) => this.proj[b * 3 + 2] - this.proj[a * 3 + 2]);
    // Axes.
    ctx.lineWidth = 1;
    const axis = (ax: number, ay: number, az: number, label: string) => {
      const x1 = ax * cy - az * sy, z1 = ax * sy + az * cy;
      const y2 = ay * cp - z1 * sp;
      ctx.strokeStyle = "#ccc";
      ctx.beginPath(); ctx.moveTo(w / 2, hgt / 2); ctx.lineTo(w / 2 + x1 * scale, hgt / 2 - y2 * scale); ctx.stroke();
      ctx.fillStyle = "#999"; ctx.fillText(label, w / 2 + x1 * scale + 3, hgt / 2 - y2 * scale);
    };
    axis(1.1, 0, 0, "x"); axis(0, 1.1, 0, "y"); axis(0, 0, 1.1, "z");
    for (const i of order) {
      const r = 2.5 * (3 / (3 + this.proj[i * 3 + 2]));
      ctx.fillStyle = this.colors[i] || "#1f77b4";
      ctx.globalAlpha = i === this.hover ? 1 : 0.8;
      ctx.beginPath();
      ctx.arc(this.proj[i * 3], this.proj[i * 3 + 1], i === this.hover ? r * 2.2 : r, 0, Math.PI * 2);
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    c.dataset.points = String(n);
    if (n) c.dataset.p0 = `${Math.round(this.proj[0])},${Math.round(this.proj[1])}`; // for tests
    c.dataset.rendered = String(Date.now());
  }

  private pick(e: PointerEvent): void {
    const rect = this.el.getBoundingClientRect();
    const x = e.clientX - rect.left, y = e.clientY - rect.top;
    let best = -1, bd = 36;
    const n = this.proj.length / 3;
    for (let i = 0; i < n; i++) {
      const dx = this.proj[i * 3] - x, dy = this.proj[i * 3 + 1] - y;
      const d = dx * dx + dy * dy;
      if (d < bd) { bd = d; best = i; }
    }
    if (best !== this.hover) {
      this.hover = best;
      this.request();
      if (best >= 0) this.onHover(best);
    }
  }
}

export class ProjectorView implements View {
  el: HTMLElement;
  private runP = picker("Run", "proj-run", () => this.loadMeta());
  private tagP = picker("Tag", "proj-tag", () => this.loadMeta());
  private stepP = picker("Step", "proj-step", () => this.loadData());
  private methodP = picker("Method", "proj-method", () => this.loadData());
  private dimsP = picker("Dims", "proj-dims", () => this.loadData());
  private chart2 = new EChart(520, "echart projector-2d");
  private chart3 = new Scatter3D(520);
  private stage = h("div", { class: "projector-stage" });
  private side = h("div", { class: "projector-side" }, h("div", { class: "muted" }, "Hover a point to see its sample."));
  private legend = h("div", { class: "projector-legend" });
  private status = h("span", { class: "muted" });
  private meta: any = null;
  private labels: string[] = [];
  private sampleCache = new Map<number, Promise<unknown>>();
  private seq = 0;

  constructor(private app: App) {
    this.methodP.set(["pca", "tsne"], ["PCA", "t-SNE"]);
    this.dimsP.set(["2", "3"], ["2-D", "3-D"]);
    this.el = h("section", { class: "view view-projector" },
      h("div", { class: "toolbar" }, this.runP.el, this.tagP.el, this.stepP.el, this.methodP.el, this.dimsP.el, this.status),
      h("div", { class: "projector-layout" }, this.stage, h("div", {}, this.legend, this.side)));
    this.chart2.whenReady((c) => c.on("mouseover", (p: any) => { if (p.data) this.showSample(p.data[2]); }));
    this.chart3.onHover = (i) => this.showSample(i);
    this.update("categories");
  }

  update(_c: Change): void {
    const runs = this.app.activeRuns().filter((r) => this.app.cat.get(r)?.get("embedding")?.size);
    const prev = `${this.runP.sel.value}|${this.tagP.sel.value}`;
    this.runP.set(runs);
    this.tagP.set([...(this.app.cat.get(this.runP.sel.value)?.get("embedding") || [])].sort());
    if (`${this.runP.sel.value}|${this.tagP.sel.value}` !== prev || !this.meta) this.loadMeta();
  }

  private async loadMeta(): Promise<void> {
    const run = this.runP.sel.value, tag = this.tagP.sel.value;
    if (!run || !tag) return;
    this.tagP.set([...(this.app.cat.get(run)?.get("embedding") || [])].sort());
    try {
      const m = maybeParse(await getJSON("projector", { run, tag }));
      this.meta = m;
      const steps: unknown[] = Array.isArray(m?.[tag]) ? m[tag] : [];
      this.stepP.set(steps.map(String));
      if (steps.length) this.stepP.sel.value = String(steps[steps.length - 1]);
      this.sampleCache.clear();
      this.loadData();
    } catch (e) {
      this.stage.replaceChildren(errorBox(e));
    }
  }

  private async loadData(): Promise<void> {
    const run = this.runP.sel.value, tag = this.tagP.sel.value, step = this.stepP.sel.value;
    if (!run || !tag || step === "") return;
    const dims = Number(this.dimsP.sel.value) || 2;
    const method = this.methodP.sel.value || "pca";
    const seq = ++this.seq;
    this.status.textContent = `computing ${method.toUpperCase()}…`;
    try {
      const d = await getJSON("projector_data", { run, tag, step, method, dims });
      if (seq !== this.seq) return;
      const entry = d?.[step] ?? Object.values(d || {})[0];
      const points: number[][] = (entry?.[0] || []).map((p: unknown[]) => p.map(num));
      const rawLabels: unknown[] = entry?.[1] || [];
      this.labels = points.map((_, i) => (rawLabels[i] === undefined || rawLabels[i] === null ? "NULL" : String(rawLabels[i])));
      this.status.textContent = `${points.length} points${this.meta?.shape ? ` · shape ${JSON.stringify(this.meta.shape)}` : ""}`;
      this.render(points, dims);
    } catch (e) {
      this.status.textContent = "";
      this.stage.replaceChildren(errorBox(e));
    }
  }

  private render(points: number[][], dims: number): void {
    const uniq = [...new Set(this.labels)];
    this.legend.replaceChildren(...uniq.slice(0, 30).map((l) => h("span", { class: "legend-item" }, h("span", { class: "swatch", style: { background: labelColor(l) } }), l)), uniq.length > 30 ? h("span", { class: "muted" }, ` +${uniq.length - 30} labels`) : "");
    if (dims === 3) {
      this.stage.replaceChildren(this.chart3.el);
      this.chart3.setData(points, this.labels.map(labelColor));
      requestAnimationFrame(() => this.chart3.draw());
      return;
    }
    this.stage.replaceChildren(this.chart2.el);
    const byLabel = new Map<string, Array<[number, number, number]>>();
    points.forEach((p, i) => {
      const l = uniq.length <= 30 ? this.labels[i] : "points";
      let a = byLabel.get(l);
      if (!a) byLabel.set(l, (a = []));
      a.push([p[0], p[1] ?? 0, i]);
    });
    this.chart2.set({
      animation: false,
      grid: { left: 40, right: 20, top: 20, bottom: 30 },
      tooltip: { trigger: "item", formatter: tip((q: any) => html`#${q.data[2]} · ${this.labels[q.data[2]]}`) },
      xAxis: { type: "value", scale: true, splitLine: { show: false } },
      yAxis: { type: "value", scale: true, splitLine: { show: false } },
      dataZoom: [{ type: "inside", xAxisIndex: 0 }, { type: "inside", yAxisIndex: 0 }],
      series: [...byLabel.entries()].map(([l, data]) => ({
        type: "scatter", name: l, data, symbolSize: 6, large: data.length > 5000,
        itemStyle: uniq.length <= 30 ? { color: labelColor(l) } : { color: (p: any) => labelColor(this.labels[p.data[2]]) },
      })),
    });
    this.chart2.el.dataset.points = String(points.length);
  }

  private async showSample(i: number): Promise<void> {
    const run = this.runP.sel.value, tag = this.tagP.sel.value;
    const head = h("div", {}, h("b", {}, `#${i}`), ` label: ${this.labels[i] ?? ""}`);
    if (!this.meta?.sample) {
      this.side.replaceChildren(head);
      return;
    }
    let p = this.sampleCache.get(i);
    if (!p) {
      p = getJSON("projector_sample", { run, tag, index: i });
      this.sampleCache.set(i, p);
    }
    try {
      const s = await p;
      const type = String(this.meta.sample_type || "");
      let body: HTMLElement;
      if (typeof s === "string" && (type === "image" || s.startsWith("data:image"))) body = h("img", { src: s, class: "sample-img" });
      else if (typeof s === "string" && (type === "audio" || s.startsWith("data:audio"))) body = h("audio", { controls: true, src: s });
      else body = h("div", { class: "text-value" }, typeof s === "string" ? s : JSON.stringify(s));
      this.side.replaceChildren(head, body);
      this.side.dataset.index = String(i);
    } catch (e) {
      this.side.replaceChildren(head, errorBox(e));
    }
  }

  destroy(): void {
    this.chart2.destroy();
  }
}
