/**
 * The projector's 3-D scatter: a small canvas renderer (see docs/frontend.md for why not
 * echarts-gl). Points matching a search are drawn large and ringed, the others faint.
 */
import { h } from "../app";

/**
 * A dependency-free 3-D scatter: orthographic-with-perspective projection on a 2-D canvas,
 * drag to rotate, wheel to zoom, hover for the nearest point. (echarts-gl would need WebGL,
 * which headless/--disable-gpu browsers and some remote desktops lack.)
 */
export class Scatter3D {
  el: HTMLCanvasElement;
  private pts = new Float32Array(0);
  private colors: string[] = [];
  /** Indices matching the search (null: no search, every point drawn normally). */
  private marked: Set<number> | null = null;
  private yaw = 0.6;
  private pitch = 0.35;
  private zoom = 1;
  private proj = new Float32Array(0);
  private hover = -1;
  private raf = 0;
  onHover: (i: number) => void = () => undefined;
  /** Sprite thumbnails by point index: drawn instead of the dot once decoded. */
  images: Map<number, HTMLImageElement> | null = null;

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

  /** Draw point `i` as if hovered (a search result picked in the list). */
  showPoint(i: number): void {
    this.hover = i;
    this.request();
  }

  setMarked(m: Set<number> | null): void {
    this.marked = m;
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
    const m = this.marked;
    let thumbs = 0;
    for (const i of order) {
      const r = 2.5 * (3 / (3 + this.proj[i * 3 + 2]));
      const hit = m !== null && m.has(i);
      ctx.fillStyle = this.colors[i] || "#1f77b4";
      ctx.globalAlpha = i === this.hover || hit ? 1 : m ? 0.12 : 0.8;
      const img = this.images?.get(i);
      if (img && img.complete && img.naturalWidth) {
        const s = Math.max(8, 12 * r) * (i === this.hover ? 1.6 : 1);
        ctx.globalAlpha = i === this.hover || hit || !m ? 1 : 0.2;
        ctx.drawImage(img, this.proj[i * 3] - s / 2, this.proj[i * 3 + 1] - s / 2, s, s);
        thumbs++;
        continue;
      }
      ctx.beginPath();
      ctx.arc(this.proj[i * 3], this.proj[i * 3 + 1], i === this.hover ? r * 2.2 : hit ? r * 1.8 : r, 0, Math.PI * 2);
      ctx.fill();
      if (hit) {
        ctx.strokeStyle = "#263238";
        ctx.lineWidth = 1.5;
        ctx.stroke();
      }
    }
    ctx.globalAlpha = 1;
    c.dataset.points = String(n);
    c.dataset.thumbs = String(thumbs);
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
