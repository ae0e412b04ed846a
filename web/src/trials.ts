/**
 * HParams trials (unit-tested in test/trials.test.ts): which run a trial is, one row per
 * trial, and the rows inside the ranges brushed on the parallel-coordinates axes.
 */
import type { HparamRow } from "./data/hparamrows";

export interface Trial extends HparamRow {
  /** The run the trial's data is in: its own run, or the experiment's session run `run/group`. */
  trial: string;
}

/**
 * An experiment run (TF2 `hp.hparams_config` above `run-i/`) lists each session as a group
 * named by the session run's path below it; that session run also holds its own record.
 * Each trial is shown once, as the session run (whose colour it takes): the experiment's row
 * (it has the experiment's metric list) replaces the session run's own.
 */
export function trials(rows: readonly HparamRow[], known: (run: string) => boolean): Trial[] {
  const out: Trial[] = rows.map((r) => {
    const sub = r.run === "." ? r.group : `${r.run}/${r.group}`;
    return { ...r, trial: r.group && sub !== r.run && known(sub) ? sub : r.run };
  });
  const viaExperiment = new Set(out.filter((t) => t.trial !== t.run).map((t) => t.trial));
  return out.filter((t) => t.trial !== t.run || !viaExperiment.has(t.run));
}

export interface Column {
  name: string;
  kind: "hparam" | "metric";
  numeric: boolean;
  categories: string[];
}

/** Brushed intervals per column name, in axis values (category index on category axes). */
export type Brush = Map<string, Array<[number, number]>>;

export function columnValue(r: HparamRow, c: Column): unknown {
  return c.kind === "hparam" ? r.hparams[c.name] : r.metrics[c.name];
}

/** Rows inside every brushed axis' intervals (any interval of an axis; no brush: all rows). */
export function brushed<T extends HparamRow>(rows: readonly T[], cols: readonly Column[], brush: Brush): T[] {
  const active = cols.filter((c) => (brush.get(c.name) ?? []).length);
  if (!active.length) return rows.slice();
  return rows.filter((r) => active.every((c) => {
    const v = columnValue(r, c);
    if (v === undefined || v === null) return false;
    const x = c.numeric ? Number(v) : c.categories.indexOf(String(v));
    if (!Number.isFinite(x) || (x < 0 && !c.numeric)) return false;
    return brush.get(c.name)!.some(([a, b]) => x >= Math.min(a, b) && x <= Math.max(a, b));
  }));
}
