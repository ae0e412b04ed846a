/**
 * Meshes (tensorboardX add_mesh, tensorboard.plugins.mesh): a card per mesh name, a block per
 * run with a step slider (like images), the mesh of the step drawn by MeshCanvas. Follows new
 * steps live (the newest step is shown unless the user moved the slider back).
 */
import { getJSON } from "../api";
import { App, Change, fmtTime, h, swatch, syncRunBlocks, TagGroups, View, visibility } from "../app";
import { runColor } from "../colors";
import { groupTags } from "../data/names";
import { naturalCompare } from "../data/natsort";
import { num } from "../data/numbers";
import { decodePart, makeMesh, type MeshPart } from "../mesh3d";
import { errorBox, onNewData } from "./common";
import { MeshCanvas } from "./meshcanvas";

export const MESH_KIND = "mesh";

interface StepInfo {
  step: number;
  wall_time: number;
  samples: number;
  vertices: number;
  faces: number;
  colors: boolean;
}

function hexRgb(hex: string): [number, number, number] {
  const m = /^#([0-9a-f]{6})$/i.exec(hex);
  if (!m) return [31, 119, 180];
  const v = parseInt(m[1], 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

class MeshBlock {
  el: HTMLElement;
  private slider = h("input", { type: "range", class: "step-slider", min: "0", max: "0", step: "1", value: "0" });
  private sampleSel = h("select", { class: "mesh-sample", hidden: true, title: "sample of the batch" });
  private stepLabel = h("span", { class: "step-label" });
  private info = h("div", { class: "mesh-info muted" });
  private canvas = new MeshCanvas();
  private steps: StepInfo[] = [];
  private follow = true;
  private shown = "";
  private loading = false;
  private pending = false;
  visible = false;

  constructor(public run: string, public tag: string) {
    this.canvas.base = hexRgb(runColor(run));
    this.el = h("div", { class: "media-block mesh-block", "data-run": run, "data-tag": tag },
      h("div", { class: "subtitle" }, swatch(run), run, h("span", { class: "spacer" }), this.sampleSel, this.stepLabel),
      this.slider, this.canvas.el, this.info);
    this.slider.addEventListener("input", () => {
      const i = Number(this.slider.value);
      this.follow = i === this.steps.length - 1;
      this.show().catch(() => undefined);
    });
    this.sampleSel.addEventListener("change", () => this.show().catch(() => undefined));
    visibility.observe(this.el, (v) => {
      this.visible = v;
      if (v && !this.steps.length) this.refresh();
    });
  }

  /** Re-read the steps; show the newest when following, else keep the step on show. */
  async refresh(): Promise<void> {
    if (this.loading) {
      this.pending = true;
      return;
    }
    this.loading = true;
    try {
      const d = await getJSON("mesh/steps", { run: this.run, tag: this.tag });
      const list: any[] = (d && Array.isArray(d[this.tag]) ? d[this.tag] : []);
      const current = this.steps[Number(this.slider.value)]?.step;
      this.steps = list.map((s) => ({ step: num(s.step), wall_time: num(s.wall_time), samples: Number(s.samples) || 1,
        vertices: Number(s.vertices) || 0, faces: Number(s.faces) || 0, colors: !!s.colors }));
      this.slider.max = String(Math.max(0, this.steps.length - 1));
      this.slider.disabled = this.steps.length <= 1;
      let idx = this.steps.length - 1;
      if (!this.follow && current !== undefined) {
        const j = this.steps.findIndex((s) => s.step === current);
        if (j >= 0) idx = j;
      }
      this.slider.value = String(Math.max(0, idx));
      this.el.dataset.steps = String(this.steps.length);
      await this.show();
    } catch (e) {
      this.info.replaceChildren(errorBox(e));
    } finally {
      this.loading = false;
      if (this.pending) {
        this.pending = false;
        this.refresh();
      }
    }
  }

  private async show(): Promise<void> {
    const s = this.steps[Number(this.slider.value)];
    if (!s) {
      this.canvas.setMesh(null);
      this.info.textContent = "no data";
      return;
    }
    const opts = Array.from({ length: s.samples }, (_v, i) => String(i));
    if (this.sampleSel.options.length !== opts.length) {
      this.sampleSel.replaceChildren(...opts.map((o) => h("option", { value: o }, `sample ${o}`)));
    }
    this.sampleSel.hidden = s.samples <= 1;
    const sample = Math.min(Number(this.sampleSel.value) || 0, s.samples - 1);
    const sig = `${s.step}:${s.wall_time}:${sample}`;
    this.stepLabel.textContent = `step ${s.step}${s.wall_time ? ` · ${fmtTime(s.wall_time)}` : ""}`;
    if (sig === this.shown) return;
    const d = await getJSON("mesh/data", { run: this.run, tag: this.tag, step: s.step, sample });
    const faces = d.faces ? (decodePart(d.faces as MeshPart) as Int32Array) : null;
    const colors = d.colors ? (decodePart(d.colors as MeshPart) as Uint8Array) : null;
    const mesh = makeMesh(decodePart(d.vertices as MeshPart) as Float32Array, faces, colors);
    this.shown = sig;
    this.el.dataset.step = String(s.step);
    this.el.dataset.vertices = String(mesh.vertexCount);
    this.el.dataset.faces = String(mesh.faceCount);
    this.canvas.setMesh(mesh);
    const what = mesh.faceCount ? `${mesh.vertexCount} vertices, ${mesh.faceCount} faces` : `${mesh.vertexCount} points`;
    const notes: string[] = Array.isArray(d.notes) ? d.notes.map(String) : [];
    this.info.textContent = [what + (colors ? ", vertex colours" : ""), ...notes].join(" · ");
  }

  /** The run's colour changed: a mesh without vertex colours is drawn in it. */
  recolor(): void {
    this.canvas.base = hexRgb(runColor(this.run));
    this.canvas.request();
  }

  destroy(): void {
    visibility.unobserve(this.el);
    this.canvas.destroy();
  }
}

class MeshCard {
  el: HTMLElement;
  private body = h("div", { class: "subcharts" });
  blocks = new Map<string, MeshBlock>();

  constructor(public tag: string) {
    this.el = h("div", { class: "card mesh-card", "data-tag": tag },
      h("div", { class: "card-head" }, h("span", { class: "card-title", title: tag }, tag)), this.body);
  }

  sync(runs: string[]): void {
    syncRunBlocks(this.blocks, runs, this.body, (r) => new MeshBlock(r, this.tag));
  }

  destroy(): void {
    for (const b of this.blocks.values()) b.destroy();
  }
}

export class MeshesView implements View {
  el: HTMLElement;
  private groups = new TagGroups<MeshCard>("tsvis-live.collapsed.mesh", (tag) => new MeshCard(tag));
  private stop: () => void;

  constructor(private app: App) {
    this.el = h("section", { class: "view view-mesh" }, this.groups.el);
    this.update("categories");
    // No live stream of their own: re-read the steps of visible blocks when data is committed.
    this.stop = onNewData(app, () => {
      for (const card of this.groups.items.values()) for (const b of card.blocks.values()) if (b.visible) b.refresh();
    });
  }

  update(c: Change): void {
    if (c === "colors") {
      for (const card of this.groups.items.values()) for (const b of card.blocks.values()) b.recolor();
      return;
    }
    const tags = this.app.tags(MESH_KIND).sort(naturalCompare);
    this.groups.sync(groupTags(tags));
    for (const [tag, card] of this.groups.items) card.sync(this.app.runsFor(MESH_KIND, tag));
  }

  destroy(): void {
    this.stop();
    this.groups.destroy();
  }
}
