/**
 * Run colours: distinct categorical colours handed out in run order, remembered.
 *
 * A hash of the name gave two runs of one chart the same colour (20 slots fill fast), so each
 * run now gets the palette colour least used among the runs present, in the sorted run order,
 * once; the mapping is kept in localStorage so a run keeps its colour when new runs appear and
 * across reloads, and the user may pick any colour for a run. Every view asks `runColor`.
 */

/**
 * Tableau 10, then ten more from Tableau 20 and Okabe-Ito that stay apart from the first ten
 * (test: every pair differs by more than a set distance in CIELAB).
 */
export const PALETTE = [
  "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
  "#1f3f8f", "#a3e05c", "#8a1c2b", "#00b3e6", "#6b4e9e", "#b6992d", "#d37295", "#2f6b3a", "#ff6f00", "#555555",
];

export const RUN_COLORS_KEY = "tsvis-live.run-colors";
/** Remembered runs beyond this are forgotten (oldest first) unless present. */
const MAX_REMEMBERED = 2000;

export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Give every run of `runs` (in that order) without a colour the palette colour least used by
 * the runs of `runs` that have one (ties: palette order). Returns whether `assigned` changed.
 */
export function assignColors(runs: readonly string[], assigned: Map<string, string>, palette: readonly string[] = PALETTE): boolean {
  const use = new Map<string, number>(palette.map((c) => [c, 0]));
  for (const r of runs) {
    const c = assigned.get(r);
    if (c !== undefined && use.has(c)) use.set(c, use.get(c)! + 1);
  }
  let changed = false;
  for (const r of runs) {
    if (assigned.has(r)) continue;
    let best = palette[0];
    for (const c of palette) if (use.get(c)! < use.get(best)!) best = c;
    assigned.set(r, best);
    use.set(best, use.get(best)! + 1);
    changed = true;
  }
  return changed;
}

/** Is `c` a `#rrggbb` colour (what `<input type=color>` gives and `withAlpha` reads)? */
export function isHexColor(c: unknown): c is string {
  return typeof c === "string" && /^#[0-9a-f]{6}$/i.test(c);
}

/** The page's run -> colour mapping, loaded from and saved to localStorage. */
export class RunColors {
  private map = new Map<string, string>();
  /** The run list last coloured: what "least used" counts against. */
  private present: readonly string[] = [];

  constructor(private storage: Storage | null = typeof localStorage !== "undefined" ? localStorage : null) {
    try {
      const o = JSON.parse(this.storage?.getItem(RUN_COLORS_KEY) || "{}");
      if (o && typeof o === "object" && !Array.isArray(o)) for (const [r, c] of Object.entries(o)) if (isHexColor(c)) this.map.set(r, c.toLowerCase());
    } catch {
      /* a broken entry starts afresh */
    }
  }

  get(run: string): string | undefined {
    return this.map.get(run);
  }

  /** Colour the new runs of `runs` (sorted run list); true if a run got a colour. */
  assign(runs: readonly string[]): boolean {
    this.present = runs;
    if (!assignColors(runs, this.map)) return false;
    this.save(runs);
    return true;
  }

  /** The user's choice for `run` (a `#rrggbb` colour). */
  set(run: string, color: string): void {
    if (!isHexColor(color)) return;
    this.map.set(run, color.toLowerCase());
    this.save(this.present);
  }

  /** Colour `run` now, counting the runs last coloured (a view asked before the run list). */
  colorOf(run: string): string {
    if (!this.map.has(run)) this.assign([...this.present.filter((r) => r !== run), run]);
    return this.map.get(run)!;
  }

  private save(present: readonly string[]): void {
    if (this.map.size > MAX_REMEMBERED) {
      const keep = new Set(present);
      for (const r of this.map.keys()) {
        if (this.map.size <= MAX_REMEMBERED) break;
        if (!keep.has(r)) this.map.delete(r);
      }
    }
    try {
      this.storage?.setItem(RUN_COLORS_KEY, JSON.stringify(Object.fromEntries(this.map)));
    } catch {
      /* storage full or disabled: colours still hold for this page */
    }
  }
}

export const runColors = new RunColors();

/** A run's colour (assigned on first use if the run list has not been coloured yet). */
export function runColor(run: string): string {
  return runColors.colorOf(run);
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
