/**
 * Small shared stores with change listeners: the alert thresholds the user set on scalar
 * charts (per tag, for every run of it) and the pinned charts, both kept in localStorage, and
 * the runs seen restarting (steps going back) while the page is open.
 */
import type { Threshold } from "./alerts";

export const THRESHOLDS_KEY = "tsvis-live.thresholds";
export const PINNED_KEY = "tsvis-live.pinned";

/** `{tag: {above?, below?}}` from stored JSON, keeping only finite numbers. */
export function parseThresholds(text: string | null): Map<string, Threshold> {
  const out = new Map<string, Threshold>();
  let j: unknown;
  try {
    j = JSON.parse(text || "{}");
  } catch {
    return out;
  }
  if (!j || typeof j !== "object" || Array.isArray(j)) return out;
  for (const [tag, v] of Object.entries(j as Record<string, any>)) {
    const t: Threshold = {};
    if (v && typeof v === "object") {
      if (typeof v.above === "number" && Number.isFinite(v.above)) t.above = v.above;
      if (typeof v.below === "number" && Number.isFinite(v.below)) t.below = v.below;
    }
    if (t.above !== undefined || t.below !== undefined) out.set(tag, t);
  }
  return out;
}

type Listener = () => void;

function load(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function save(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    /* private mode: kept for this page only */
  }
}

class Thresholds {
  private map = parseThresholds(typeof localStorage === "undefined" ? null : load(THRESHOLDS_KEY));
  private listeners: Listener[] = [];

  get(tag: string): Threshold | undefined {
    return this.map.get(tag);
  }

  tags(): string[] {
    return [...this.map.keys()];
  }

  set(tag: string, t: Threshold): void {
    if (t.above === undefined && t.below === undefined) this.map.delete(tag);
    else this.map.set(tag, { ...t });
    save(THRESHOLDS_KEY, JSON.stringify(Object.fromEntries(this.map)));
    for (const f of this.listeners.slice()) f();
  }

  on(f: Listener): () => void {
    this.listeners.push(f);
    return () => {
      this.listeners = this.listeners.filter((x) => x !== f);
    };
  }
}

class Pins {
  private list: string[];
  private listeners: Listener[] = [];

  constructor() {
    let l: unknown = [];
    try {
      l = JSON.parse((typeof localStorage === "undefined" ? null : load(PINNED_KEY)) || "[]");
    } catch {
      /* ignore */
    }
    this.list = Array.isArray(l) ? l.filter((t): t is string => typeof t === "string") : [];
  }

  has(tag: string): boolean {
    return this.list.includes(tag);
  }

  /** Pinned tags in the order they were pinned. */
  tags(): string[] {
    return this.list.slice();
  }

  toggle(tag: string): void {
    this.list = this.has(tag) ? this.list.filter((t) => t !== tag) : [...this.list, tag];
    save(PINNED_KEY, JSON.stringify(this.list));
    for (const f of this.listeners.slice()) f();
  }

  on(f: Listener): () => void {
    this.listeners.push(f);
    return () => {
      this.listeners = this.listeners.filter((x) => x !== f);
    };
  }
}

export const thresholds = new Thresholds();
export const pins = new Pins();

/** Runs seen going back in steps (a resumed job), by the run watcher or a chart's live points. */
class Restarts {
  private runs = new Set<string>();
  private listeners: Array<(run: string) => void> = [];

  has(run: string): boolean {
    return this.runs.has(run);
  }

  mark(run: string): void {
    if (this.runs.has(run)) return;
    this.runs.add(run);
    for (const f of this.listeners.slice()) f(run);
  }

  on(f: (run: string) => void): () => void {
    this.listeners.push(f);
    return () => {
      this.listeners = this.listeners.filter((x) => x !== f);
    };
  }
}

export const restarts = new Restarts();
