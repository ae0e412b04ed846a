/** Pure data shaping used by the views (unit-tested in test/shape.test.ts). */

/** The server sends NaN/±Inf as strings; turn anything into a number. */
export function num(v: unknown): number {
  if (typeof v === "number") return v;
  if (v === "NaN") return NaN;
  if (v === "Infinity") return Infinity;
  if (v === "-Infinity") return -Infinity;
  if (v === null || v === undefined) return NaN;
  const n = Number(v);
  return n;
}

export function nums(a: unknown): number[] {
  if (!Array.isArray(a)) return [];
  const out = new Array<number>(a.length);
  for (let i = 0; i < a.length; i++) out[i] = num(a[i]);
  return out;
}

/** Compare by Unicode code point (JS `<` compares UTF-16 units: U+1F600 < U+FFFD there). */
function cmpCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i), y = b.charCodeAt(i);
    if (x !== y) return (a.codePointAt(i) as number) - (b.codePointAt(i) as number);
  }
  return a.length - b.length;
}

/** Digit runs by value, exactly (no float rounding past 2^53): fewer digits is smaller. */
function cmpDigits(a: string, b: string): number {
  const x = a.replace(/^0+/, ""), y = b.replace(/^0+/, "");
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

const foldAscii = (s: string) => s.replace(/[A-Z]+/g, (c) => c.toLowerCase());

/**
 * Natural sort, the same order as `natural_key` in tsvis_live/compute/natsort.py (both pass
 * tests/natsort_vectors.json): text and ASCII-digit runs alternate (text first, maybe empty);
 * text compares by code point with only A-Z folded, digit runs by value; a prefix comes
 * first; names equal so far compare by raw code points ("A1" < "a01" < "a1").
 */
export function naturalCompare(a: string, b: string): number {
  if (a === b) return 0;
  const pa = a.split(/([0-9]+)/), pb = b.split(/([0-9]+)/);
  const n = Math.min(pa.length, pb.length);
  for (let i = 0; i < n; i++) {
    const d = i % 2 ? cmpDigits(pa[i], pb[i]) : cmpCodePoints(foldAscii(pa[i]), foldAscii(pb[i]));
    if (d !== 0) return d;
  }
  if (pa.length !== pb.length) return pa.length - pb.length;
  return cmpCodePoints(a, b);
}

export interface Filter {
  test: (s: string) => boolean;
  valid: boolean;
}

/** A case-insensitive regex filter; an invalid pattern falls back to a substring match. */
export function compileFilter(pattern: string): Filter {
  const p = pattern.trim();
  if (!p) return { test: () => true, valid: true };
  try {
    const re = new RegExp(p, "i");
    return { test: (s) => re.test(s), valid: true };
  } catch {
    const low = p.toLowerCase();
    return { test: (s) => s.toLowerCase().includes(low), valid: false };
  }
}

/** Group = the tag's part before its first "/" (the whole tag if it has none). */
export function tagGroup(tag: string): string {
  const i = tag.indexOf("/");
  return i < 0 ? tag : tag.slice(0, i);
}

export function groupTags(tags: Iterable<string>): Array<[string, string[]]> {
  const m = new Map<string, string[]>();
  for (const t of tags) {
    const g = tagGroup(t);
    let l = m.get(g);
    if (!l) m.set(g, (l = []));
    l.push(t);
  }
  const groups = [...m.entries()].sort((a, b) => naturalCompare(a[0], b[0]));
  for (const [, l] of groups) l.sort(naturalCompare);
  return groups;
}

// ---------------------------------------------------------------------------
// Categories

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

// ---------------------------------------------------------------------------
// Scalar series held by the client

export interface Series {
  steps: number[];
  wall: number[];
  values: number[];
  smoothed: number[];
  bandMin: number[] | null;
  bandMax: number[] | null;
}

export function emptySeries(): Series {
  return { steps: [], wall: [], values: [], smoothed: [], bandMin: null, bandMax: null };
}

/** First index of a sorted array whose value is >= x. */
export function lowerBound(a: readonly number[], x: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (a[m] < x) lo = m + 1; else hi = m;
  }
  return lo;
}

/**
 * Insert one point keeping steps sorted; a point at an existing step replaces it.
 * Returns "append" when it went to the end (the EMA may continue), else "insert"/"replace".
 */
export function upsertPoint(s: Series, wall: number, step: number, value: number, smoothed: number): "append" | "insert" | "replace" {
  const n = s.steps.length;
  if (n === 0 || step > s.steps[n - 1]) {
    s.steps.push(step); s.wall.push(wall); s.values.push(value); s.smoothed.push(smoothed);
    if (s.bandMin) s.bandMin.push(value);
    if (s.bandMax) s.bandMax.push(value);
    return "append";
  }
  const i = lowerBound(s.steps, step);
  if (s.steps[i] === step) {
    s.wall[i] = wall; s.values[i] = value; s.smoothed[i] = smoothed;
    if (s.bandMin) s.bandMin[i] = value;
    if (s.bandMax) s.bandMax[i] = value;
    return "replace";
  }
  s.steps.splice(i, 0, step); s.wall.splice(i, 0, wall); s.values.splice(i, 0, value); s.smoothed.splice(i, 0, smoothed);
  if (s.bandMin) s.bandMin.splice(i, 0, value);
  if (s.bandMax) s.bandMax.splice(i, 0, value);
  return "insert";
}

/**
 * Bound memory for a live series: when longer than `max`, merge the oldest points
 * into buckets that keep the band (min/max) and the last value, always keeping the final
 * `keepTail` points untouched. Returns the (possibly new) series.
 */
export function decimate(s: Series, max: number, keepTail = 64): Series {
  const n = s.steps.length;
  if (n <= max) return s;
  const head = n - keepTail;
  const out = emptySeries();
  out.bandMin = [];
  out.bandMax = [];
  const bmin = s.bandMin || s.values;
  const bmax = s.bandMax || s.values;
  // Bucket size so that the head fits in (max - keepTail) buckets; at least pairs.
  const size = Math.max(2, Math.ceil(head / Math.max(1, max - keepTail)));
  for (let i = 0; i < head; i += size) {
    const j = Math.min(i + size - 1, head - 1);
    let lo = bmin[i], hi = bmax[i];
    for (let q = i + 1; q <= j; q++) { lo = nanMin(lo, bmin[q]); hi = nanMax(hi, bmax[q]); }
    out.steps.push(s.steps[j]); out.wall.push(s.wall[j]); out.values.push(s.values[j]); out.smoothed.push(s.smoothed[j]);
    out.bandMin.push(lo);
    out.bandMax.push(hi);
  }
  for (let i = head; i < n; i++) {
    out.steps.push(s.steps[i]); out.wall.push(s.wall[i]); out.values.push(s.values[i]); out.smoothed.push(s.smoothed[i]);
    out.bandMin.push(bmin[i]); out.bandMax.push(bmax[i]);
  }
  return out;
}

function nanMin(a: number, b: number): number {
  if (Number.isNaN(a)) return b;
  if (Number.isNaN(b)) return a;
  return Math.min(a, b);
}
function nanMax(a: number, b: number): number {
  if (Number.isNaN(a)) return b;
  if (Number.isNaN(b)) return a;
  return Math.max(a, b);
}

export type XAxisMode = "step" | "relative" | "wall";

/** x values of a series for the x-axis mode (relative = hours since the run's first point). */
export function xValues(s: Series, mode: XAxisMode, runStart?: number): number[] {
  if (mode === "step") return s.steps;
  if (mode === "wall") return s.wall;
  const t0 = runStart ?? (s.wall.length ? s.wall[0] : 0);
  return s.wall.map((w) => (w - t0) / 3600);
}

/**
 * Align several (x sorted ascending) series on the union of their x values, as uPlot wants:
 * returns [xs, ys_0, ys_1, ...] with null where a series has no point at an x.
 */
export function alignSeries(xs: number[][], ys: number[][][]): [number[], ...(number | null)[][]] {
  // Fast path: all x arrays identical.
  const k = xs.length;
  if (k === 0) return [[]];
  let same = true;
  for (let i = 1; i < k && same; i++) {
    const a = xs[0], b = xs[i];
    if (a !== b && (a.length !== b.length || a[0] !== b[0] || a[a.length - 1] !== b[b.length - 1])) same = false;
    else if (a !== b) {
      for (let j = 0; j < a.length; j++) if (a[j] !== b[j]) { same = false; break; }
    }
  }
  if (same) {
    const out: [number[], ...(number | null)[][]] = [xs[0]];
    for (let i = 0; i < k; i++) for (const y of ys[i]) out.push(y.map(clean));
    return out;
  }
  // k-way merge of the sorted x arrays.
  const union: number[] = [];
  const idx = new Array<number>(k).fill(0);
  for (;;) {
    let best = Infinity;
    for (let i = 0; i < k; i++) if (idx[i] < xs[i].length && xs[i][idx[i]] < best) best = xs[i][idx[i]];
    if (best === Infinity) break;
    union.push(best);
    for (let i = 0; i < k; i++) while (idx[i] < xs[i].length && xs[i][idx[i]] === best) idx[i]++;
  }
  const out: [number[], ...(number | null)[][]] = [union];
  for (let i = 0; i < k; i++) {
    const x = xs[i];
    for (const y of ys[i]) {
      const col = new Array<number | null>(union.length).fill(null);
      let j = 0;
      for (let u = 0; u < union.length && j < x.length; u++) {
        if (union[u] === x[j]) {
          col[u] = clean(y[j]);
          j++;
          while (j < x.length && x[j] === x[j - 1]) j++;
        }
      }
      out.push(col);
    }
  }
  return out;
}

function clean(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/** Map an x range in the given axis mode back to a step range of one series. */
export function stepRangeForX(s: Series, mode: XAxisMode, x0: number, x1: number, runStart?: number): [number, number] | null {
  if (s.steps.length === 0) return null;
  if (mode === "step") return [Math.floor(x0), Math.ceil(x1)];
  const xv = xValues(s, mode, runStart);
  let lo = -1, hi = -1;
  for (let i = 0; i < xv.length; i++) {
    if (xv[i] >= x0 && lo < 0) lo = i;
    if (xv[i] <= x1) hi = i;
  }
  if (lo < 0 || hi < lo) return null;
  // Widen by one point either side so the line reaches the edges.
  lo = Math.max(0, lo - 1);
  hi = Math.min(xv.length - 1, hi + 1);
  return [s.steps[lo], s.steps[hi]];
}

// ---------------------------------------------------------------------------
// Histograms and distributions

export interface HistPoint {
  wall: number;
  step: number;
  min: number;
  max: number;
  buckets: Array<[number, number, number]>; // [left, right, count]
}

export function parseHistPoint(p: unknown[]): HistPoint {
  const buckets = Array.isArray(p[4]) ? (p[4] as unknown[][]).map((b) => [num(b[0]), num(b[1]), num(b[2])] as [number, number, number]) : [];
  return { wall: num(p[0]), step: num(p[1]), min: num(p[2]), max: num(p[3]), buckets };
}

/** Basis points of the distribution view (standard normal percentiles). */
export const BASIS_POINTS = [0, 668, 1587, 3085, 5000, 6915, 8413, 9332, 10000];

/**
 * Percentiles of a histogram at BASIS_POINTS, TensorBoard's compress_histogram:
 * linear interpolation inside the bucket where the cumulative count crosses the bp,
 * clamped to [min, max].
 */
export function histogramPercentiles(h: HistPoint, bps: number[] = BASIS_POINTS): number[] {
  const b = h.buckets;
  const total = b.reduce((a, x) => a + (Number.isFinite(x[2]) ? x[2] : 0), 0);
  if (!b.length || total <= 0) return bps.map(() => (Number.isFinite(h.min) ? h.min : 0));
  const cum: number[] = [];
  let c = 0;
  for (const x of b) { c += Number.isFinite(x[2]) ? x[2] : 0; cum.push(c); }
  const lo = Number.isFinite(h.min) ? h.min : b[0][0];
  const hiV = Number.isFinite(h.max) ? h.max : b[b.length - 1][1];
  const out: number[] = [];
  let i = 0;
  for (const bp of bps) {
    const target = (total * bp) / 10000;
    while (i < b.length && cum[i] < target) i++;
    if (i >= b.length) { out.push(hiV); continue; }
    const prev = i > 0 ? cum[i - 1] : 0;
    const cnt = b[i][2];
    const left = Math.max(b[i][0], lo);
    const right = Math.min(b[i][1], hiV);
    const frac = cnt > 0 ? (target - prev) / cnt : 0;
    let v = left + (right - left) * Math.min(1, Math.max(0, frac));
    v = Math.min(Math.max(v, lo), hiV);
    out.push(v);
  }
  return out;
}

export function upsertHist(list: HistPoint[], p: HistPoint): void {
  const n = list.length;
  if (n === 0 || p.step > list[n - 1].step) { list.push(p); return; }
  let lo = 0, hi = n;
  while (lo < hi) { const m = (lo + hi) >> 1; if (list[m].step < p.step) lo = m + 1; else hi = m; }
  if (lo < n && list[lo].step === p.step) list[lo] = p; else list.splice(lo, 0, p);
}

/** Evenly pick at most k items, always keeping the first and the last. */
export function pickEven<T>(a: T[], k: number): T[] {
  if (a.length <= k) return a.slice();
  if (k <= 1) return [a[a.length - 1]];
  const out: T[] = [];
  for (let i = 0; i < k; i++) out.push(a[Math.round((i * (a.length - 1)) / (k - 1))]);
  return out;
}

// ---------------------------------------------------------------------------
// Export

export function seriesToCSV(rows: Array<{ wall_time: number; step: number; value: number }>): string {
  const fmt = (v: number) => (Number.isNaN(v) ? "NaN" : v === Infinity ? "Infinity" : v === -Infinity ? "-Infinity" : String(v));
  return "wall_time,step,value\n" + rows.map((r) => `${fmt(r.wall_time)},${r.step},${fmt(r.value)}`).join("\n") + "\n";
}

export function parseCSV(text: string): string[][] {
  return text.trim().split(/\r?\n/).map((l) => l.split(","));
}

// ---------------------------------------------------------------------------
// Hyperparameters

export interface HparamRow {
  run: string;
  group: string;
  hparams: Record<string, unknown>;
  metrics: Record<string, number>;
  start: number | null;
}

/** Flatten /api/hyperparm payloads (one per run) into table rows. */
export function hparamRows(run: string, data: any): HparamRow[] {
  const rows: HparamRow[] = [];
  if (!data || typeof data !== "object") return rows;
  const infos: any[] = Array.isArray(data.hparamsInfo) ? data.hparamsInfo : [];
  infos.forEach((entry) => {
    if (!entry || typeof entry !== "object") return;
    for (const [group, g] of Object.entries<any>(entry)) {
      const hp: Record<string, unknown> = {};
      const list = Array.isArray(g?.hparams) ? g.hparams : [];
      for (const h of list) if (h && h.name !== undefined) hp[String(h.name)] = h.data;
      rows.push({ run, group, hparams: hp, metrics: {}, start: g?.start_time_secs != null ? num(g.start_time_secs) : null });
    }
  });
  const metrics: any[] = Array.isArray(data.metrics) ? data.metrics : [];
  for (const m of metrics) {
    const vals: unknown[] = Array.isArray(m?.value) ? m.value : [m?.value];
    rows.forEach((r, i) => {
      const v = vals.length === rows.length ? vals[i] : vals[vals.length - 1];
      if (v !== undefined) r.metrics[String(m.tag)] = num(v);
    });
  }
  return rows;
}

/** Columns for the parallel-coordinates view: numeric or categorical. */
export function hparamColumns(rows: HparamRow[]): Array<{ name: string; kind: "hparam" | "metric"; numeric: boolean; categories: string[] }> {
  const cols: Array<{ name: string; kind: "hparam" | "metric"; numeric: boolean; categories: string[] }> = [];
  const hnames = new Set<string>();
  const mnames = new Set<string>();
  for (const r of rows) {
    Object.keys(r.hparams).forEach((k) => hnames.add(k));
    Object.keys(r.metrics).forEach((k) => mnames.add(k));
  }
  for (const name of [...hnames].sort(naturalCompare)) {
    const vals = rows.map((r) => r.hparams[name]).filter((v) => v !== undefined);
    const numeric = vals.every((v) => typeof v === "number" || (typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v))));
    const categories = numeric ? [] : [...new Set(vals.map((v) => String(v)))].sort(naturalCompare);
    cols.push({ name, kind: "hparam", numeric, categories });
  }
  for (const name of [...mnames].sort(naturalCompare)) cols.push({ name, kind: "metric", numeric: true, categories: [] });
  return cols;
}

/** Re-bin histogram buckets onto `n` uniform bins over [lo, hi] (counts split by overlap). */
export function rebin(buckets: Array<[number, number, number]>, lo: number, hi: number, n: number): number[] {
  const out = new Array<number>(n).fill(0);
  if (!(hi > lo) || n <= 0) {
    const total = buckets.reduce((a, b) => a + (Number.isFinite(b[2]) ? b[2] : 0), 0);
    if (n > 0) out[Math.floor(n / 2)] = total;
    return out;
  }
  const w = (hi - lo) / n;
  for (const [l0, r0, c] of buckets) {
    if (!Number.isFinite(c) || c === 0) continue;
    const l = Math.max(lo, Number.isFinite(l0) ? l0 : lo);
    const r = Math.min(hi, Number.isFinite(r0) ? r0 : hi);
    if (r <= l) {
      // Degenerate (zero-width) bucket: all its count in one bin.
      const i = Math.min(n - 1, Math.max(0, Math.floor((l - lo) / w)));
      out[i] += c;
      continue;
    }
    const i0 = Math.max(0, Math.floor((l - lo) / w));
    const i1 = Math.min(n - 1, Math.floor((r - lo) / w));
    for (let i = i0; i <= i1; i++) {
      const bl = lo + i * w, br = bl + w;
      const ov = Math.min(r, br) - Math.max(l, bl);
      if (ov > 0) out[i] += (c * ov) / (r - l);
    }
  }
  return out;
}

/**
 * Per-point min/max band from the server's bucket bands ({step_start, step_end, min, max}):
 * each point gets the band of the bucket containing its step (its own value outside any).
 */
export function bandPerPoint(
  steps: number[], values: number[], band: { step_start?: unknown; step_end?: unknown; min?: unknown; max?: unknown },
): { min: number[]; max: number[] } {
  const s0 = nums(band.step_start), s1 = nums(band.step_end), lo = nums(band.min), hi = nums(band.max);
  const min = values.slice(), max = values.slice();
  let b = 0;
  for (let i = 0; i < steps.length; i++) {
    const st = steps[i];
    while (b < s1.length && s1[b] < st) b++;
    if (b < s0.length && s0[b] <= st && st <= s1[b]) {
      min[i] = Math.min(lo[b], values[i]);
      max[i] = Math.max(hi[b], values[i]);
    }
  }
  return { min, max };
}

/** Relative time (hours) as a short duration: 12s, 4.5m, 3.2h, 2.1d. */
export function fmtHours(hrs: number): string {
  if (hrs === null || hrs === undefined || !Number.isFinite(hrs)) return "";
  const s = hrs * 3600;
  const a = Math.abs(s);
  const r = (v: number) => String(Math.round(v * 100) / 100);
  if (a < 60) return `${r(s)}s`;
  if (a < 3600) return `${r(s / 60)}m`;
  if (a < 86400 * 2) return `${r(s / 3600)}h`;
  return `${r(s / 86400)}d`;
}
