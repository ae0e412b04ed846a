/** Application state shared by the sidebar and the views. */
import { getJSON } from "./api";
import { runColor, runColors } from "./colors";
import { applyCategoryMessage, mergeGetCategory, type Categories } from "./data/categories";
import { compileFilter, type Filter } from "./data/names";
import { naturalCompare } from "./data/natsort";
import type { XAxisMode } from "./data/xaxis";
import { Live } from "./live";

export type Change = "categories" | "runs" | "filter" | "settings" | "colors";

export interface Settings {
  smoothing: number;
  xMode: XAxisMode;
  logY: boolean;
  /** TensorBoard's "ignore outliers in chart scaling": y from the 5th to 95th percentile. */
  ignoreOutliers: boolean;
  maxPoints: number;
  /** Draw the earlier writes of restarted runs (each segment before a step went back), dashed. */
  pastWrites: boolean;
}

const SETTINGS_KEY = "tsvis-live.settings";
const DESELECTED_KEY = "tsvis-live.deselected";

export class App {
  cat: Categories = new Map();
  /** Runs the user switched off; every other run (including new ones) is shown. */
  deselected = new Set<string>();
  runFilter: Filter = compileFilter("");
  tagFilter: Filter = compileFilter("");
  runPattern = "";
  tagPattern = "";
  settings: Settings = { smoothing: 0.6, xMode: "step", logY: false, ignoreOutliers: true, maxPoints: 600, pastWrites: false };
  live: Live;
  private listeners: Array<(c: Change) => void> = [];

  constructor(live: Live) {
    this.live = live;
    try {
      const s = JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}");
      Object.assign(this.settings, s);
      for (const r of JSON.parse(localStorage.getItem(DESELECTED_KEY) || "[]")) this.deselected.add(String(r));
    } catch {
      /* ignore */
    }
    const p = new URLSearchParams(window.location.search);
    if (p.has("smoothing")) this.settings.smoothing = Number(p.get("smoothing"));
    if (p.has("max_points")) this.settings.maxPoints = Number(p.get("max_points"));
    if (p.has("outliers")) this.settings.ignoreOutliers = p.get("outliers") !== "show";
    live.onCategory((m) => {
      const r = applyCategoryMessage(this.cat, m);
      if (r.changed) this.emit("categories");
      if (r.refresh) this.scheduleCategoryRefresh();
    });
  }

  on(f: (c: Change) => void): () => void {
    this.listeners.push(f);
    return () => {
      this.listeners = this.listeners.filter((x) => x !== f);
    };
  }

  emit(c: Change): void {
    // New runs get their colour in run order before any view draws them.
    if (c === "categories") runColors.assign(this.allRuns());
    for (const f of this.listeners.slice()) f(c);
  }

  private refreshTimer: number | null = null;

  scheduleCategoryRefresh(delay = 300): void {
    if (this.refreshTimer !== null) return;
    this.refreshTimer = window.setTimeout(() => {
      this.refreshTimer = null;
      this.refreshCategories().catch(() => undefined);
    }, delay);
  }

  async refreshCategories(): Promise<void> {
    // extensions=1: also the sections the TS-VIS frontend does not know (meshes).
    const [data] = await Promise.all([getJSON("getCategory", { extensions: 1 }), this.refreshLayouts().catch(() => undefined)]);
    if (mergeGetCategory(this.cat, data)) this.emit("categories");
  }

  /** Custom-scalar layouts (`/api/getCustom`) as stored; "categories" is emitted when they change. */
  layouts: unknown[] = [];
  private layoutsSig = "[]";

  async refreshLayouts(): Promise<void> {
    const d = await getJSON("getCustom");
    const l: unknown[] = Array.isArray(d?.layouts) ? d.layouts : [];
    const sig = JSON.stringify(l);
    if (sig === this.layoutsSig) return;
    this.layoutsSig = sig;
    this.layouts = l;
    this.emit("categories");
  }

  allRuns(): string[] {
    return [...this.cat.keys()].sort(naturalCompare);
  }

  /** Runs that are selected and pass the run filter. */
  activeRuns(): string[] {
    return this.allRuns().filter((r) => !this.deselected.has(r) && this.runFilter.test(r));
  }

  isActive(run: string): boolean {
    return !this.deselected.has(run) && this.runFilter.test(run);
  }

  setRunSelected(run: string, on: boolean): void {
    if (on) this.deselected.delete(run);
    else this.deselected.add(run);
    localStorage.setItem(DESELECTED_KEY, JSON.stringify([...this.deselected]));
    this.emit("runs");
  }

  setAllRuns(on: boolean): void {
    for (const r of this.allRuns()) {
      if (!this.runFilter.test(r)) continue;
      if (on) this.deselected.delete(r);
      else this.deselected.add(r);
    }
    localStorage.setItem(DESELECTED_KEY, JSON.stringify([...this.deselected]));
    this.emit("runs");
  }

  setRunFilter(p: string): void {
    this.runPattern = p;
    this.runFilter = compileFilter(p);
    this.emit("runs");
  }

  setTagFilter(p: string): void {
    this.tagPattern = p;
    this.tagFilter = compileFilter(p);
    this.emit("filter");
  }

  /** The user's colour for `run` (`#rrggbb`), remembered across reloads. */
  setRunColor(run: string, color: string): void {
    runColors.set(run, color);
    this.emit("colors");
  }

  setSettings(s: Partial<Settings>): void {
    Object.assign(this.settings, s);
    localStorage.setItem(SETTINGS_KEY, JSON.stringify(this.settings));
    this.emit("settings");
  }

  /** Tags of a kind among the active runs that pass the tag filter. */
  tags(kind: string): string[] {
    const out = new Set<string>();
    for (const r of this.activeRuns()) {
      const s = this.cat.get(r)?.get(kind);
      if (s) for (const t of s) if (this.tagFilter.test(t)) out.add(t);
    }
    return [...out].sort(naturalCompare);
  }

  /** Active runs having `tag` of `kind`. */
  runsFor(kind: string, tag: string): string[] {
    return this.activeRuns().filter((r) => this.cat.get(r)?.get(kind)?.has(tag));
  }

  hasKind(kind: string): boolean {
    for (const k of this.cat.values()) {
      const s = k.get(kind);
      if (s && s.size) return true;
    }
    return false;
  }
}

/** Small DOM helper. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, any> = {},
  ...children: Array<Node | string | null | undefined | false>
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = String(v);
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k in el && typeof v !== "string") (el as any)[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/**
 * Make `els` the children of `parent` in this order, moving only what is out of place (a run
 * created while the page is open goes to its sorted place, not to the end).
 */
export function placeInOrder(parent: HTMLElement, els: readonly HTMLElement[]): void {
  let prev: HTMLElement | null = null;
  for (const el of els) {
    const want: ChildNode | null = prev ? prev.nextSibling : parent.firstChild;
    if (want !== el) {
      if (prev) prev.after(el);
      else parent.prepend(el);
    }
    prev = el;
  }
}

/** What `syncRunBlocks` keeps: a per-run element with its own teardown. */
export interface RunBlock {
  el: HTMLElement;
  destroy(): void;
}

/**
 * Make `blocks` hold one block per run of `runs` inside `parent`, in that order: blocks of runs
 * no longer shown are destroyed, new runs get `make(run)`, the rest stay (and keep their state).
 */
export function syncRunBlocks<B extends RunBlock>(blocks: Map<string, B>, runs: readonly string[], parent: HTMLElement,
  make: (run: string) => B): void {
  for (const [r, b] of blocks) {
    if (!runs.includes(r)) {
      b.destroy();
      b.el.remove();
      blocks.delete(r);
    }
  }
  for (const r of runs) {
    if (!blocks.has(r)) {
      const b = make(r);
      blocks.set(r, b);
      parent.append(b.el);
    }
  }
  placeInOrder(parent, runs.map((r) => blocks.get(r)!.el));
}

/** A run's colour swatch; `data-swatch-run` lets a colour change repaint every swatch. */
export function swatch(run: string): HTMLElement {
  return h("span", { class: "swatch", "data-swatch-run": run, style: { background: runColor(run) } });
}

/** Repaint every swatch under `root` with its run's current colour. */
export function repaintSwatches(root: ParentNode): void {
  for (const el of root.querySelectorAll<HTMLElement>(".swatch[data-swatch-run]")) el.style.background = runColor(el.dataset.swatchRun ?? "");
}

export interface View {
  el: HTMLElement;
  update(c: Change): void;
  destroy(): void;
}

/**
 * Collapsible tag groups: reuses one <details> per group and one card per key so updates
 * only add what is new. `make(tag)` builds a card, `keep(tag)` lists tags to show.
 */
export class TagGroups<T extends { el: HTMLElement; destroy(): void }> {
  el = h("div", { class: "groups" });
  private groups = new Map<string, { details: HTMLDetailsElement; body: HTMLElement; count: HTMLElement }>();
  items = new Map<string, T>();
  private collapsed: Set<string>;

  constructor(private storageKey: string, private make: (tag: string) => T, private onToggle?: (group: string, open: boolean) => void) {
    let c: string[] = [];
    try {
      c = JSON.parse(localStorage.getItem(storageKey) || "[]");
    } catch {
      /* ignore */
    }
    this.collapsed = new Set(c);
  }

  isOpen(group: string): boolean {
    return !this.collapsed.has(group);
  }

  sync(grouped: Array<[string, string[]]>): void {
    const wantGroups = new Set(grouped.map((g) => g[0]));
    const wantTags = new Set<string>();
    for (const [, tags] of grouped) tags.forEach((t) => wantTags.add(t));
    for (const [tag, item] of this.items) {
      if (!wantTags.has(tag)) {
        item.destroy();
        item.el.remove();
        this.items.delete(tag);
      }
    }
    for (const [g, grp] of this.groups) {
      if (!wantGroups.has(g)) {
        grp.details.remove();
        this.groups.delete(g);
      }
    }
    let prev: HTMLElement | null = null;
    for (const [g, tags] of grouped) {
      let grp = this.groups.get(g);
      if (!grp) {
        const count = h("span", { class: "count" });
        const details = h("details", { class: "group", "data-group": g }, h("summary", {}, h("span", { class: "gname" }, g), count)) as HTMLDetailsElement;
        details.open = !this.collapsed.has(g);
        const body = h("div", { class: "cards" });
        details.append(body);
        details.addEventListener("toggle", () => {
          if (details.open) this.collapsed.delete(g);
          else this.collapsed.add(g);
          localStorage.setItem(this.storageKey, JSON.stringify([...this.collapsed]));
          this.onToggle?.(g, details.open);
        });
        grp = { details, body, count };
        this.groups.set(g, grp);
      }
      if (prev) prev.after(grp.details);
      else this.el.prepend(grp.details);
      prev = grp.details;
      grp.count.textContent = String(tags.length);
      let prevCard: HTMLElement | null = null;
      for (const t of tags) {
        let item = this.items.get(t);
        if (!item) {
          item = this.make(t);
          this.items.set(t, item);
        }
        if (item.el.parentElement !== grp.body || (prevCard ? prevCard.nextSibling !== item.el : grp.body.firstChild !== item.el)) {
          if (prevCard) prevCard.after(item.el);
          else grp.body.prepend(item.el);
        }
        prevCard = item.el;
      }
    }
  }

  destroy(): void {
    for (const i of this.items.values()) i.destroy();
    this.items.clear();
  }
}

/** Visible-in-viewport tracking so charts far off-screen neither fetch nor redraw. */
export const visibility = (() => {
  const cbs = new WeakMap<Element, (v: boolean) => void>();
  const io = typeof IntersectionObserver !== "undefined"
    ? new IntersectionObserver((entries) => {
        for (const e of entries) cbs.get(e.target)?.(e.isIntersecting);
      }, { rootMargin: "150px" })
    : null;
  return {
    observe(el: Element, cb: (v: boolean) => void) {
      cbs.set(el, cb);
      if (io) io.observe(el);
      else cb(true);
    },
    unobserve(el: Element) {
      cbs.delete(el);
      io?.unobserve(el);
    },
  };
})();

export function download(name: string, text: string, type = "text/plain"): void {
  const a = h("a", { href: URL.createObjectURL(new Blob([text], { type })), download: name });
  document.body.append(a);
  a.click();
  setTimeout(() => {
    URL.revokeObjectURL(a.href);
    a.remove();
  }, 1000);
}

export function fmtNum(v: number | null | undefined): string {
  if (v === null || v === undefined) return "–";
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "-∞";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(4);
  return String(Math.round(v * 1e6) / 1e6);
}

export function fmtTime(sec: number): string {
  const d = new Date(sec * 1000);
  return d.toLocaleString();
}
