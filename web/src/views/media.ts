/** Images, audio and text: a step slider per (run, tag), all samples of the step, lazy-loaded. */
import { getPaged, url } from "../api";
import { App, Change, h, swatch, syncRunBlocks, TagGroups, View, visibility, fmtTime } from "../app";
import { groupTags } from "../data/names";
import { naturalCompare } from "../data/natsort";
import { num } from "../data/numbers";
import { setHtml } from "../escape";
import { markdown } from "../markdown";
import { onNewData } from "./common";
import { cssFilter, imageScale, ImageToolbar, openLightbox, type ImageSettings } from "./imagetools";

type MediaKind = "image" | "audio" | "text";

interface Entry {
  wall_time: number;
  step: number;
  index: number;
  width?: number;
  height?: number;
  label?: string;
  contentType?: string;
  value?: unknown;
}

function parseEntries(list: any[]): Entry[] {
  const seen = new Map<number, number>();
  return list.map((e) => {
    const step = num(e.step);
    let index = e.index !== undefined ? Number(e.index) : NaN;
    if (!Number.isFinite(index)) {
      index = seen.get(step) ?? 0;
    }
    seen.set(step, index + 1);
    return { ...e, step, wall_time: num(e.wall_time), index };
  });
}

class MediaBlock {
  el: HTMLElement;
  private slider: HTMLInputElement;
  private stepLabel: HTMLElement;
  private content: HTMLElement;
  private steps: number[] = [];
  private byStep = new Map<number, Entry[]>();
  private follow = true;
  private shownStep: number | null = null;
  private loading = false;
  visible = false;
  loadedOnce = false;
  /** The images on show with their natural size (the card scales them all alike). */
  imgs: Array<{ img: HTMLImageElement; w: number; h: number }> = [];

  constructor(private kind: MediaKind, public run: string, public tag: string, private onShown: () => void = () => undefined, private filter: () => string = () => "none") {
    this.slider = h("input", { type: "range", class: "step-slider", min: "0", max: "0", step: "1", value: "0" });
    this.stepLabel = h("span", { class: "step-label" });
    this.content = h("div", { class: `media-content ${kind}-content` });
    this.el = h(
      "div",
      { class: "media-block", "data-run": run, "data-tag": tag },
      h("div", { class: "subtitle" }, swatch(run), run, h("span", { class: "spacer" }), this.stepLabel),
      this.slider,
      this.content,
    );
    this.slider.addEventListener("input", () => {
      const i = Number(this.slider.value);
      this.follow = i === this.steps.length - 1;
      this.show(this.steps[i]);
    });
    visibility.observe(this.el, (v) => {
      this.visible = v;
      if (v && !this.loadedOnce) this.refresh();
    });
  }

  async refresh(): Promise<void> {
    if (this.loading) return;
    this.loading = true;
    try {
      const list = parseEntries(await getPaged(this.kind, { run: this.run, tag: this.tag }, this.tag));
      this.byStep.clear();
      for (const e of list) {
        let l = this.byStep.get(e.step);
        if (!l) this.byStep.set(e.step, (l = []));
        l.push(e);
      }
      for (const l of this.byStep.values()) l.sort((a, b) => a.index - b.index);
      this.steps = [...this.byStep.keys()].sort((a, b) => a - b);
      this.slider.max = String(Math.max(0, this.steps.length - 1));
      this.slider.disabled = this.steps.length <= 1;
      let idx = this.steps.length - 1;
      if (!this.follow && this.shownStep !== null) {
        const j = this.steps.indexOf(this.shownStep);
        if (j >= 0) idx = j;
      }
      this.slider.value = String(Math.max(0, idx));
      this.loadedOnce = true;
      this.el.dataset.steps = String(this.steps.length);
      if (idx >= 0) this.show(this.steps[idx], true);
      else this.content.replaceChildren(h("div", { class: "muted" }, "no data"));
    } catch (e) {
      this.content.replaceChildren(h("div", { class: "error" }, String(e)));
    } finally {
      this.loading = false;
    }
  }

  private show(step: number, onlyIfChanged = false): void {
    const entries = this.byStep.get(step) || [];
    const sig = `${step}:${entries.length}:${entries.map((e) => e.wall_time).join(",")}`;
    if (onlyIfChanged && this.content.dataset.sig === sig) return;
    this.content.dataset.sig = sig;
    this.shownStep = step;
    this.el.dataset.step = String(step);
    const wall = entries[0]?.wall_time;
    this.stepLabel.textContent = `step ${step}${entries.length > 1 ? ` · ${entries.length} samples` : ""}${wall ? ` · ${fmtTime(wall)}` : ""}`;
    this.imgs = [];
    const items = entries.map((e) => {
      if (this.kind === "image") {
        const src = url("blob", { run: this.run, tag: this.tag, step: e.step, index: e.index, kind: "image" });
        const w = Number(e.width) || 0, ht = Number(e.height) || 0;
        const caption = `${this.run} · ${this.tag} · step ${e.step}${entries.length > 1 ? ` · #${e.index}` : ""}`;
        const img = h("img", { loading: "lazy", src, alt: `${this.tag} step ${e.step} #${e.index}`, class: "media-img", title: "click to enlarge" });
        const item = { img, w, h: ht };
        this.imgs.push(item);
        img.addEventListener("click", () => openLightbox(src, caption, item.w || img.naturalWidth, item.h || img.naturalHeight, this.filter()));
        if (!w) {
          // No size in the list: scale once the image tells it.
          img.addEventListener("load", () => {
            item.w = img.naturalWidth;
            item.h = img.naturalHeight;
            this.onShown();
          }, { once: true });
        }
        return h("figure", {}, img, entries.length > 1 ? h("figcaption", {}, `#${e.index}`) : null);
      }
      if (this.kind === "audio") {
        const src = url("blob", { run: this.run, tag: this.tag, step: e.step, index: e.index, kind: "audio" });
        return h("figure", {}, h("audio", { controls: true, preload: "none", src }), h("figcaption", {}, e.label ? String(e.label) : `#${e.index}`));
      }
      return renderText(e.value);
    });
    this.content.replaceChildren(...items);
    if (this.kind === "image") this.onShown();
  }

  destroy(): void {
    visibility.unobserve(this.el);
  }
}

/** Text summaries: strings (or lists / 2-D lists of strings, shown as a table), escaped. */
export function renderText(v: unknown): HTMLElement {
  if (Array.isArray(v) && v.length && v.every((r) => Array.isArray(r))) {
    return h("table", { class: "text-table" }, ...(v as unknown[][]).map((r) => h("tr", {}, ...r.map((c) => h("td", {}, String(c))))));
  }
  if (Array.isArray(v)) {
    if (v.length === 1) return renderText(v[0]);
    return h("div", { class: "text-list" }, ...v.map((x) => renderText(x)));
  }
  const el = h("div", { class: "text-value text-md" });
  setHtml(el, markdown(typeof v === "string" ? v : JSON.stringify(v)));
  return el;
}

class MediaCard {
  el: HTMLElement;
  private body = h("div", { class: "subcharts" });
  blocks = new Map<string, MediaBlock>();
  private ro: ResizeObserver | null = null;

  constructor(private kind: MediaKind, public tag: string, private images?: () => ImageSettings) {
    if (images) {
      let lastW = 0;
      this.ro = new ResizeObserver(() => {
        if (Math.abs(this.body.clientWidth - lastW) > 2) {
          lastW = this.body.clientWidth;
          this.layout();
        }
      });
      this.ro.observe(this.body);
    }
    this.el = h("div", { class: `card ${kind}-card`, "data-tag": tag }, h("div", { class: "card-head" }, h("span", { class: "card-title", title: tag }, tag)), this.body);
  }
  sync(runs: string[]): void {
    syncRunBlocks(this.blocks, runs, this.body, (r) => new MediaBlock(this.kind, r, this.tag, () => this.layout(),
      () => (this.images ? cssFilter(this.images()) : "none")));
  }

  /** One scale for every image of the tag, from the widest one shown in any run. */
  layout(): void {
    if (!this.images) return;
    const all = [...this.blocks.values()].flatMap((b) => b.imgs);
    const maxW = Math.max(0, ...all.map((i) => i.w));
    const mode = this.images().size;
    const perRow = Math.max(1, ...[...this.blocks.values()].map((b) => b.imgs.length));
    const scale = imageScale(maxW, this.body.clientWidth - 4 * perRow, mode, perRow); // - the 1 px borders
    for (const { img, w, h: ht } of all) {
      if (!w) continue;
      img.style.width = `${Math.round(w * scale * 100) / 100}px`;
      img.style.height = `${Math.round(ht * scale * 100) / 100}px`;
    }
    this.el.dataset.scale = String(scale);
    this.el.classList.toggle("actual-size", mode === "actual");
  }

  destroy(): void {
    this.ro?.disconnect();
    for (const b of this.blocks.values()) b.destroy();
  }
}

class MediaView implements View {
  el: HTMLElement;
  private groups: TagGroups<MediaCard>;
  private stop: () => void;
  private tools: ImageToolbar | null = null;

  constructor(private app: App, private kind: MediaKind) {
    if (kind === "image") this.tools = new ImageToolbar(() => this.applyImageSettings());
    const images = this.tools ? () => this.tools!.s : undefined;
    this.groups = new TagGroups<MediaCard>(`tsvis-live.collapsed.${kind}`, (tag) => new MediaCard(kind, tag, images));
    this.el = h("section", { class: `view view-${kind}` }, this.tools?.el, this.groups.el);
    this.applyImageSettings();
    this.update("categories");
    // Media have no live stream of their own: refresh visible blocks when new data is committed.
    this.stop = onNewData(app, () => {
      for (const card of this.groups.items.values()) for (const b of card.blocks.values()) if (b.visible) b.refresh();
    });
  }

  private applyImageSettings(): void {
    if (!this.tools) return;
    this.el.style.setProperty("--img-filter", cssFilter(this.tools.s));
    for (const card of this.groups?.items.values() ?? []) card.layout();
  }

  update(_c: Change): void {
    const tags = this.app.tags(this.kind).sort(naturalCompare);
    this.groups.sync(groupTags(tags));
    for (const [tag, card] of this.groups.items) card.sync(this.app.runsFor(this.kind, tag));
  }

  destroy(): void {
    this.stop();
    this.groups.destroy();
  }
}

export class ImagesView extends MediaView {
  constructor(app: App) {
    super(app, "image");
  }
}
export class AudioView extends MediaView {
  constructor(app: App) {
    super(app, "audio");
  }
}
export class TextView extends MediaView {
  constructor(app: App) {
    super(app, "text");
  }
}
