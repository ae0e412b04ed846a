/**
 * Axis tick labels for the scalar charts: short numbers, wall-clock ticks that say the hour and
 * the date, and an axis width that fits the widest label.
 *
 * uPlot's defaults gave "1.0000e-4" on a 56 px y axis (drawn as "000e-4") and ":30" / ":00"
 * on the wall-time axis (the hour and date were on a second line cut off by a 30 px axis).
 */

/** The axes' font, set on uPlot and used to measure labels. */
export const AXIS_FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif';
/** uPlot's default tick length and label gap (CSS px): a y axis is label + these wide. */
const TICK_AND_GAP = 10 + 5;

/** Shortest exact-enough label: up to 4 significant digits, exponent form outside [1e-3, 1e5). */
export function fmtTick(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return "";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "-∞";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e5) return String(Number(v.toPrecision(4)));
  const [m, e] = v.toExponential(3).split("e");
  return `${String(Number(m))}e${e.replace("+", "")}`;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad = (n: number) => String(n).padStart(2, "0");

/**
 * Wall-clock tick labels (local time) for ticks at `secs` (Unix seconds): "HH:MM" on every
 * tick (":SS" too when ticks are less than a minute apart), and the date on a second line
 * on the first tick and wherever the date changes. Ticks all at midnight show only the date.
 */
export function timeTickLabels(secs: readonly number[]): string[] {
  const ds = secs.map((s) => new Date(s * 1000));
  const ok = ds.filter((d) => Number.isFinite(d.getTime()));
  const midnights = ok.length > 1 && ok.every((d) => d.getHours() === 0 && d.getMinutes() === 0 && d.getSeconds() === 0);
  const seconds = ok.some((d) => d.getSeconds() !== 0 || d.getMilliseconds() !== 0);
  const years = new Set(ok.map((d) => d.getFullYear())).size > 1;
  let prevDay = "";
  return ds.map((d) => {
    if (!Number.isFinite(d.getTime())) return "";
    const day = `${MONTHS[d.getMonth()]} ${d.getDate()}${years ? ` ${d.getFullYear()}` : ""}`;
    const newDay = day !== prevDay;
    prevDay = day;
    if (midnights) return day;
    const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}${seconds ? `:${pad(d.getSeconds())}` : ""}`;
    return newDay ? `${hm}\n${day}` : hm;
  });
}

let ctx: CanvasRenderingContext2D | null = null;

/** Width in CSS px of the widest line of `labels` in AXIS_FONT (a rough guess without a canvas). */
export function labelWidth(labels: readonly (string | null | undefined)[]): number {
  if (!ctx && typeof document !== "undefined") ctx = document.createElement("canvas").getContext("2d");
  let w = 0;
  for (const l of labels) {
    for (const line of String(l ?? "").split("\n")) {
      if (ctx) {
        ctx.font = AXIS_FONT;
        w = Math.max(w, ctx.measureText(line).width);
      } else w = Math.max(w, 7.5 * line.length);
    }
  }
  return w;
}

/** A y axis wide enough for its widest label (at least 40 px, so small labels do not jiggle). */
export function yAxisSize(labels: readonly (string | null | undefined)[] | null): number {
  if (!labels) return 48;
  return Math.max(40, Math.ceil(labelWidth(labels)) + TICK_AND_GAP + 4);
}
