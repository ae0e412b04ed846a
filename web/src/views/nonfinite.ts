/**
 * Markers for NaN and +-Inf points, which a line cannot show (they used to be dropped without
 * a trace): ▲ at the top edge for +Inf, ▼ at the bottom edge for -Inf, a ringed ✕ at the last
 * finite value for NaN (where TensorBoard drew its NaN markers), in the line's colour.
 */
import uPlot from "uplot";
import type { Series } from "../data/series";
import { nonFinitePoints, type NonFiniteKind } from "../scalarmath";

export interface Marker {
  line: string;
  step: number;
  x: number;
  kind: NonFiniteKind;
  ref: number | null;
  color: string;
}

export function markersOf(s: Series, xv: readonly number[], color: string, line: string): Marker[] {
  return nonFinitePoints(s.values, s.smoothed).map((p) => ({ line, step: s.steps[p.i], x: xv[p.i], kind: p.kind, ref: p.ref, color }));
}

/** "2 NaN · 1 +Inf · 1 −Inf", or "" when every point is finite. */
export function markerSummary(ms: readonly Marker[]): string {
  const n = { nan: 0, inf: 0, "-inf": 0 };
  for (const m of ms) n[m.kind]++;
  return [n.nan ? `${n.nan} NaN` : "", n.inf ? `${n.inf} +Inf` : "", n["-inf"] ? `${n["-inf"]} −Inf` : ""].filter(Boolean).join(" · ");
}

/** Draw the markers inside the plot area; returns [kind, x, y] of each in canvas CSS pixels. */
export function drawMarkers(u: uPlot, markers: readonly Marker[]): Array<[NonFiniteKind, number, number]> {
  const out: Array<[NonFiniteKind, number, number]> = [];
  if (!markers.length) return out;
  const ctx = u.ctx;
  const { left, top, width, height } = u.bbox;
  const dpr = uPlot.pxRatio || 1;
  const r = 5 * dpr;
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, width, height);
  ctx.clip();
  ctx.lineWidth = 1.5 * dpr;
  for (const m of markers) {
    const cx = u.valToPos(m.x, "x", true);
    if (!(cx >= left - r && cx <= left + width + r)) continue;
    let cy: number;
    if (m.kind === "inf") cy = top + r + 2 * dpr;
    else if (m.kind === "-inf") cy = top + height - r - 2 * dpr;
    else {
      const ok = m.ref !== null && (u.scales.y.distr !== 3 || m.ref > 0);
      const y = ok ? u.valToPos(m.ref as number, "y", true) : top + height / 2;
      cy = Math.min(top + height - r - 2 * dpr, Math.max(top + r + 2 * dpr, Number.isFinite(y) ? y : top + height / 2));
    }
    ctx.beginPath();
    if (m.kind === "nan") {
      ctx.arc(cx, cy, r, 0, Math.PI * 2);
      ctx.fillStyle = "#fff";
      ctx.fill();
      ctx.strokeStyle = m.color;
      ctx.stroke();
      ctx.beginPath();
      const k = r * 0.55;
      ctx.moveTo(cx - k, cy - k); ctx.lineTo(cx + k, cy + k);
      ctx.moveTo(cx + k, cy - k); ctx.lineTo(cx - k, cy + k);
      ctx.strokeStyle = "#b71c1c";
      ctx.stroke();
    } else {
      const d = m.kind === "inf" ? -1 : 1; // apex up for +Inf, down for -Inf
      ctx.moveTo(cx, cy + d * r);
      ctx.lineTo(cx + r, cy - d * r);
      ctx.lineTo(cx - r, cy - d * r);
      ctx.closePath();
      ctx.fillStyle = m.color;
      ctx.fill();
      ctx.strokeStyle = "#b71c1c";
      ctx.stroke();
    }
    out.push([m.kind, cx / dpr, cy / dpr]);
  }
  ctx.restore();
  return out;
}
