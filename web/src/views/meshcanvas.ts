/** One mesh on a canvas: drag to rotate, wheel to zoom, double-click to reset (mesh3d.ts draws). */
import { h } from "../app";
import { DEFAULT_CAMERA, newFrame, project, rasterize, type Camera, type Frame, type Mesh } from "../mesh3d";

export class MeshCanvas {
  el: HTMLCanvasElement;
  private mesh: Mesh | null = null;
  private cam: Camera = { ...DEFAULT_CAMERA };
  private frame: Frame | null = null;
  private raf = 0;
  /** The colour (rgb) of a mesh without vertex colours: its run's. */
  base: [number, number, number] = [31, 119, 180];

  constructor(height = 360) {
    this.el = h("canvas", { class: "mesh-canvas", height, title: "drag to rotate, wheel to zoom, double-click to reset" });
    this.el.style.height = `${height}px`;
    let drag: { x: number; y: number } | null = null;
    this.el.addEventListener("pointerdown", (e) => {
      drag = { x: e.clientX, y: e.clientY };
      this.el.setPointerCapture(e.pointerId);
    });
    const end = () => (drag = null);
    this.el.addEventListener("pointerup", end);
    this.el.addEventListener("pointercancel", end);
    this.el.addEventListener("pointermove", (e) => {
      if (!drag) return;
      this.cam.yaw += (e.clientX - drag.x) * 0.01;
      this.cam.pitch = Math.max(-1.5, Math.min(1.5, this.cam.pitch + (e.clientY - drag.y) * 0.01));
      drag = { x: e.clientX, y: e.clientY };
      this.request();
    });
    this.el.addEventListener("wheel", (e) => {
      e.preventDefault();
      this.cam.zoom = Math.max(0.2, Math.min(20, this.cam.zoom * Math.exp(-e.deltaY * 0.001)));
      this.request();
    }, { passive: false });
    this.el.addEventListener("dblclick", () => {
      this.cam = { ...DEFAULT_CAMERA };
      this.request();
    });
  }

  setMesh(mesh: Mesh | null): void {
    this.mesh = mesh;
    this.request();
  }

  request(): void {
    if (!this.raf) this.raf = requestAnimationFrame(() => { this.raf = 0; this.draw(); });
  }

  draw(): void {
    const c = this.el;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round((c.clientWidth || 480) * dpr)), hgt = Math.max(1, Math.round((c.clientHeight || 360) * dpr));
    if (c.width !== w || c.height !== hgt) {
      c.width = w;
      c.height = hgt;
    }
    const ctx = c.getContext("2d")!;
    ctx.clearRect(0, 0, w, hgt);
    if (!this.mesh) return;
    const t0 = performance.now();
    if (!this.frame || this.frame.w !== w || this.frame.h !== hgt) this.frame = newFrame(w, hgt);
    const pr = project(this.mesh, this.cam, w, hgt);
    const drawn = rasterize(this.frame, this.mesh, pr, this.base, 2 * dpr);
    ctx.putImageData(new ImageData(this.frame.rgba, w, hgt), 0, 0);
    // For tests and the bench: what was drawn and how long it took.
    c.dataset.pixels = String(drawn);
    c.dataset.drawMs = (performance.now() - t0).toFixed(1);
    c.dataset.rendered = String(Date.now());
  }

  destroy(): void {
    if (this.raf) cancelAnimationFrame(this.raf);
  }
}
