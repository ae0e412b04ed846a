/** The natural order of run and tag names (unit-tested in test/natsort.test.ts). */

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
