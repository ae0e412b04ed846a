/**
 * Redraw scheduler of the scalar charts: at most one redraw per chart per animation frame,
 * visible charts only, and a live chart at most every LIVE_REDRAW_MS (streaming at 60 Hz into
 * 50 charts would spend every frame re-aligning data nobody can read that fast).
 */

export interface Drawable {
  visible: boolean;
  stale: boolean;
  lastDraw: number;
  liveTimer: number | null;
  draw(): void;
}

const LIVE_REDRAW_MS = 250;
/**
 * Per-frame drawing budget: charts left over are drawn in the next frames (no long tasks).
 * uPlot paints in a microtask after setData, so the time measured here misses the paint:
 * the chart count per frame is capped as well.
 */
const FRAME_BUDGET_MS = 10;
const MAX_DRAWS_PER_FRAME = 2;
const dirty = new Set<Drawable>();
let rafPending = false;

export function schedule(c: Drawable, live = false): void {
  if (live) {
    const wait = c.lastDraw + LIVE_REDRAW_MS - performance.now();
    if (wait > 0) {
      if (c.liveTimer === null) {
        c.liveTimer = window.setTimeout(() => {
          c.liveTimer = null;
          schedule(c);
        }, wait);
      }
      return;
    }
  }
  dirty.add(c);
  requestFrame();
}

export function unschedule(c: Drawable): void {
  dirty.delete(c);
  if (c.liveTimer !== null) clearTimeout(c.liveTimer);
  c.liveTimer = null;
}

function requestFrame(): void {
  if (rafPending) return;
  rafPending = true;
  requestAnimationFrame(() => {
    rafPending = false;
    const t0 = performance.now();
    let drawn = 0;
    for (const ch of dirty) {
      dirty.delete(ch);
      if (ch.visible) {
        ch.draw();
        drawn++;
      } else ch.stale = true;
      if (drawn >= MAX_DRAWS_PER_FRAME || performance.now() - t0 > FRAME_BUDGET_MS) break;
    }
    if (dirty.size) requestFrame();
  });
}
