/** Numbers as the server sends them (unit-tested in test/numbers.test.ts). */

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
