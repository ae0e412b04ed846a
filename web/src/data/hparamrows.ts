/** Hyperparameter table rows and parallel-coordinates columns (unit-tested in test/hparamrows.test.ts). */
import { naturalCompare } from "./natsort";
import { num } from "./numbers";

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
