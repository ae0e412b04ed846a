/** Images, audio and text: a step slider per (run, tag), all samples of the step, lazy-loaded. */
import { getPaged, url } from "../api";
import { App, Change, h, placeInOrder, swatch, TagGroups, View, visibility, fmtTime } from "../app";
import { setHtml } from "../escape";
import { markdown } from "../markdown";
import { groupTags, naturalCompare, num } from "../shape";

type MediaKind = "image" | "audio" | "text";

const MEDIA_POLL_MS = 4000;

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

  constructor(private kind: MediaKind, public run: string, public tag: string) {
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
    const items = entries.map((e) => {
      if (this.kind === "image") {
        const src = url("blob", { run: this.run, tag: this.tag, step: e.step, index: e.index, kind: "image" });
        // Small images are scaled up by an integer factor (pixelated) to stay readable.
        const w = Number(e.width) || 0, ht = Number(e.height) || 0;
        const f = w > 0 && w < 192 ? Math.ceil(192 / w) : 1;
        return h("figure", {}, h("img", { loading: "lazy", src, alt: `${this.tag} step ${e.step} #${e.index}`, width: w ? w * f : undefined, height: ht ? ht * f : undefined, class: "media-img" }), entries.length > 1 ? h("figcaption", {}, `#${e.index}`) : null);
      }
      if (this.kind === "audio") {
        const src = url("blob", { run: this.run, tag: this.tag, step: e.step, index: e.index, kind: "audio" });
        return h("figure", {}, h("audio", { controls: true, preload: "none", src }), h("figcaption", {}, e.label ? String(e.label) : `#${e.index}`));
      }
      return renderText(e.value);
    });
    this.content.replaceChildren(...items);
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
  constructor(private kind: MediaKind, public tag: string) {
    this.el = h("div", { class: `card ${kind}-card`, "data-tag": tag }, h("div", { class: "card-head" }, h("span", { class: "card-title", title: tag }, tag)), this.body);
  }
  sync(runs: string[]): void {
    for (const [r, b] of this.blocks) {
      if (!runs.includes(r)) {
        b.destroy();
        b.el.remove();
        this.blocks.delete(r);
      }
    }
    for (const r of runs) {
      if (!this.blocks.has(r)) {
        const b = new MediaBlock(this.kind, r, this.tag);
        this.blocks.set(r, b);
        this.body.append(b.el);
      }
    }
    placeInOrder(this.body, runs.map((r) => this.blocks.get(r)!.el));
  }
  destroy(): void {
    for (const b of this.blocks.values()) b.destroy();
  }
}

class MediaView implements View {
  el: HTMLElement;
  private groups: TagGroups<MediaCard>;
  private lastRefresh = 0;
  private timer: number | null = null;
  private offCursor: () => void;
  private poller: number;

  constructor(private app: App, private kind: MediaKind) {
    this.groups = new TagGroups<MediaCard>(`tsvis-live.collapsed.${kind}`, (tag) => new MediaCard(kind, tag));
    this.el = h("section", { class: `view view-${kind}` }, this.groups.el);
    this.update("categories");
    // Media have no live stream of their own: refresh visible blocks when the cursor moves.
    this.offCursor = app.live.onCursor(() => this.scheduleRefresh());
    // Not every commit moves the pushed cursor (heartbeats may lag for media), so visible
    // blocks also re-read their lists every few seconds while the page is visible.
    this.poller = window.setInterval(() => {
      if (document.visibilityState === "visible") this.scheduleRefresh();
    }, MEDIA_POLL_MS);
  }

  private scheduleRefresh(): void {
    if (this.timer !== null) return;
    const wait = Math.max(0, 2000 - (Date.now() - this.lastRefresh));
    this.timer = window.setTimeout(() => {
      this.timer = null;
      this.lastRefresh = Date.now();
      for (const card of this.groups.items.values()) for (const b of card.blocks.values()) if (b.visible) b.refresh();
    }, wait);
  }

  update(_c: Change): void {
    const tags = this.app.tags(this.kind).sort(naturalCompare);
    this.groups.sync(groupTags(tags));
    for (const [tag, card] of this.groups.items) card.sync(this.app.runsFor(this.kind, tag));
  }

  destroy(): void {
    this.offCursor();
    clearInterval(this.poller);
    if (this.timer !== null) clearTimeout(this.timer);
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
