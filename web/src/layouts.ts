/**
 * Custom-scalar layouts (`add_custom_scalars`, from `/api/getCustom`) as TensorBoard's
 * custom_scalars plugin reads them (unit-tested in test/layouts.test.ts): the layouts of all
 * runs merged (categories of one title become one, identical charts kept once), multiline
 * charts match tags with Python's `re.match` (anchored at the start only), margin charts draw
 * a value with a band from a lower to an upper tag.
 */
import { PALETTE } from "./colors";
import { naturalCompare } from "./data/natsort";

export interface MarginSeries {
  value: string;
  lower: string;
  upper: string;
}

export interface LayoutChart {
  title: string;
  multiline?: string[];
  margin?: MarginSeries[];
}

export interface LayoutCategory {
  title: string;
  closed: boolean;
  charts: LayoutChart[];
}

const str = (v: unknown) => (v === undefined || v === null ? "" : String(v));

function parseChart(c: any): LayoutChart | null {
  if (!c || typeof c !== "object") return null;
  const title = str(c.title);
  if (c.multiline && typeof c.multiline === "object") {
    const tags = Array.isArray(c.multiline.tag) ? c.multiline.tag.map(str) : [];
    return { title, multiline: tags };
  }
  if (c.margin && typeof c.margin === "object") {
    const series = (Array.isArray(c.margin.series) ? c.margin.series : [])
      .filter((s: any) => s && typeof s === "object")
      .map((s: any) => ({ value: str(s.value), lower: str(s.lower), upper: str(s.upper) }));
    return { title, margin: series };
  }
  return null;
}

/** Merge the stored layouts, in store order, the way TensorBoard merges the runs' layouts. */
export function mergeLayouts(layouts: unknown): LayoutCategory[] {
  const out: LayoutCategory[] = [];
  const byTitle = new Map<string, { cat: LayoutCategory; seen: Set<string> }>();
  for (const layout of Array.isArray(layouts) ? layouts : []) {
    const cats: any[] = Array.isArray((layout as any)?.category) ? (layout as any).category : [];
    for (const c of cats) {
      if (!c || typeof c !== "object") continue;
      const title = str(c.title);
      let entry = byTitle.get(title);
      if (!entry) {
        entry = { cat: { title, closed: !!c.closed, charts: [] }, seen: new Set() };
        byTitle.set(title, entry);
        out.push(entry.cat);
      }
      for (const raw of Array.isArray(c.chart) ? c.chart : []) {
        const chart = parseChart(raw);
        if (!chart) continue;
        const key = JSON.stringify(chart);
        if (entry.seen.has(key)) continue;
        entry.seen.add(key);
        entry.cat.charts.push(chart);
      }
    }
  }
  return out;
}

/** Python's `re.match(pattern, tag)` in JavaScript: anchored at the start; null if invalid. */
export function tagMatcher(pattern: string): ((tag: string) => boolean) | null {
  try {
    const re = new RegExp(`^(?:${pattern})`);
    return (t) => re.test(t);
  } catch {
    return null;
  }
}

/** A line of a scalar chart (views/scalarchart.ts): a (run, tag) series, maybe with a band. */
export interface ChartLine {
  /** Unique in the chart: the key of `data-last-steps` (the run, in a chart of one tag). */
  id: string;
  run: string;
  tag: string;
  /** Name in the tooltip and the download picker. */
  label: string;
  /** A fixed colour; else the run's colour. */
  color?: string;
  dash?: number[];
  /** Margin charts: tags of the same run drawn as a band around the line. */
  lower?: string;
  upper?: string;
}

const DASHES: Array<number[] | undefined> = [undefined, [6, 3], [2, 3], [10, 3, 2, 3], [4, 4]];

/**
 * The lines of a chart over `runs` (in run order), each run's scalar tags given by `tagsOf`.
 * Lines of one run are told apart by colour (palette order); lines of several runs take
 * their run's colour and a dash pattern per tag (or margin series). Invalid regexes are
 * returned in `invalid`.
 */
export function chartLines(chart: LayoutChart, runs: readonly string[], tagsOf: (run: string) => Iterable<string>): { lines: ChartLine[]; invalid: string[] } {
  const invalid: string[] = [];
  const found: Array<{ run: string; tag: string; k: number; m?: MarginSeries }> = [];
  if (chart.multiline) {
    const ms = chart.multiline.map((p) => {
      const m = tagMatcher(p);
      if (!m) invalid.push(p);
      return m;
    }).filter((m): m is (t: string) => boolean => !!m);
    const allTags = new Set<string>();
    const per = runs.map((run) => {
      const tags = [...tagsOf(run)].filter((t) => ms.some((m) => m(t))).sort(naturalCompare);
      tags.forEach((t) => allTags.add(t));
      return { run, tags };
    });
    const tagIdx = new Map([...allTags].sort(naturalCompare).map((t, i) => [t, i]));
    for (const { run, tags } of per) for (const tag of tags) found.push({ run, tag, k: tagIdx.get(tag)! });
  } else if (chart.margin) {
    for (const run of runs) {
      const have = new Set(tagsOf(run));
      chart.margin.forEach((m, k) => {
        // A band needs both bounds in the run.
        const band = have.has(m.lower) && have.has(m.upper) ? m : undefined;
        if (have.has(m.value)) found.push({ run, tag: m.value, k, m: band });
      });
    }
  }
  const oneRun = new Set(found.map((f) => f.run)).size <= 1;
  const lines = found.map((f) => ({
    id: `${f.run} · ${f.tag}`,
    run: f.run,
    tag: f.tag,
    label: `${f.run} · ${f.tag}`,
    color: oneRun ? PALETTE[f.k % PALETTE.length] : undefined,
    dash: oneRun ? undefined : DASHES[f.k % DASHES.length],
    lower: f.m?.lower,
    upper: f.m?.upper,
  }));
  return { lines, invalid };
}
