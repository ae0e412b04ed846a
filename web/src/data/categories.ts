/**
 * Which runs hold which tags of each kind, merged from /api/getCategory and live `category`
 * messages (unit-tested in test/categories.test.ts).
 */
import { naturalCompare } from "./natsort";

/** The kinds as named by `category` messages (getCategory sections flattened). */
export type Kind =
  | "scalar" | "histogram" | "distribution" | "image" | "audio" | "text" | "graph"
  | "embedding" | "exception" | "hyperparm" | "roc" | "custom";

/** run -> kind -> tags */
export type Categories = Map<string, Map<string, Set<string>>>;

function addTags(cat: Categories, run: string, kind: string, tags: Iterable<string>): boolean {
  let r = cat.get(run);
  let changed = false;
  if (!r) { cat.set(run, (r = new Map())); changed = true; }
  let s = r.get(kind);
  if (!s) { r.set(kind, (s = new Set())); changed = true; }
  for (const t of tags) {
    if (!s.has(t)) { s.add(t); changed = true; }
  }
  return changed;
}

function flatTags(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  if (v && typeof v === "object") {
    const out: string[] = [];
    for (const x of Object.values(v as Record<string, unknown>)) out.push(...flatTags(x));
    return out;
  }
  return [];
}

/** Merge a /api/getCategory payload into `cat`. Returns true when something new appeared. */
export function mergeGetCategory(cat: Categories, data: unknown): boolean {
  let changed = false;
  if (!data || typeof data !== "object") return false;
  for (const [run, sections] of Object.entries(data as Record<string, any>)) {
    if (!cat.has(run)) { cat.set(run, new Map()); changed = true; }
    if (!sections || typeof sections !== "object") continue;
    for (const [sec, val] of Object.entries(sections as Record<string, unknown>)) {
      if (sec === "media" || sec === "statistic") {
        for (const [k, tags] of Object.entries((val as Record<string, unknown>) || {})) {
          changed = addTags(cat, run, k, flatTags(tags)) || changed;
        }
      } else {
        changed = addTags(cat, run, sec, flatTags(val)) || changed;
      }
    }
  }
  return changed;
}

/** Kinds whose `category` message tags are the same tags getCategory lists. */
const DIRECT_KINDS = new Set(["scalar", "histogram", "image", "audio", "text", "embedding", "exception", "roc"]);
/** Stored kinds whose getCategory section has another name. */
const SECTION_OF: Record<string, string> = { pr_curve: "roc" };

/**
 * Apply one `category` message ({run, kind, series_kind?, tags}). `kind: "run"` announces a
 * run. Histograms imply distributions. Returns whether something changed and whether the
 * message is of a kind whose getCategory tags differ from the raw ones (graph, hparams...),
 * in which case the caller should re-read getCategory.
 */
export function applyCategoryMessage(
  cat: Categories,
  msg: { run: string; kind: string; series_kind?: string; tags?: unknown[] },
): { changed: boolean; refresh: boolean } {
  let changed = false;
  if (!cat.has(msg.run)) {
    cat.set(msg.run, new Map());
    changed = true;
  }
  if (msg.kind === "run") return { changed, refresh: false };
  const stored = msg.series_kind || msg.kind;
  const kind = SECTION_OF[stored] ?? stored;
  if (!DIRECT_KINDS.has(kind)) return { changed, refresh: true };
  const tags = (msg.tags || []).map(String);
  changed = addTags(cat, msg.run, kind, tags) || changed;
  if (kind === "histogram") changed = addTags(cat, msg.run, "distribution", tags) || changed;
  return { changed, refresh: false };
}

export function tagsOf(cat: Categories, kind: string, runs?: Iterable<string>): string[] {
  const out = new Set<string>();
  const rs = runs ? [...runs] : [...cat.keys()];
  for (const r of rs) {
    const s = cat.get(r)?.get(kind);
    if (s) for (const t of s) out.add(t);
  }
  return [...out].sort(naturalCompare);
}

export function runsWith(cat: Categories, kind: string, tag?: string): string[] {
  const out: string[] = [];
  for (const [r, kinds] of cat) {
    const s = kinds.get(kind);
    if (s && s.size && (tag === undefined || s.has(tag))) out.push(r);
  }
  return out.sort(naturalCompare);
}
