/** Stable colours: a run's colour depends only on its name (FNV-1a hash -> palette). */
export const PALETTE = [
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
  "#bcbd22", "#17becf", "#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6",
  "#dd4477", "#66aa00", "#b82e2e", "#316395",
];

export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function runColor(run: string): string {
  return PALETTE[fnv1a(run) % PALETTE.length];
}

/** Colour with alpha from a #rrggbb colour. */
export function withAlpha(hex: string, a: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
}

/** Categorical colour for a label (projector). */
export function labelColor(label: string): string {
  return PALETTE[fnv1a(String(label)) % PALETTE.length];
}
