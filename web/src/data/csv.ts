/** CSV of a scalar series (unit-tested in test/csv.test.ts). */

export function seriesToCSV(rows: Array<{ wall_time: number; step: number; value: number }>): string {
  const fmt = (v: number) => (Number.isNaN(v) ? "NaN" : v === Infinity ? "Infinity" : v === -Infinity ? "-Infinity" : String(v));
  return "wall_time,step,value\n" + rows.map((r) => `${fmt(r.wall_time)},${r.step},${fmt(r.value)}`).join("\n") + "\n";
}

export function parseCSV(text: string): string[][] {
  return text.trim().split(/\r?\n/).map((l) => l.split(","));
}
