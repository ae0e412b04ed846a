/**
 * Redraw scheduler of the scalar charts: at most one redraw per chart per animation frame,
 * visible charts only, and a live chart at most every LIVE_REDRAW_MS (streaming at 60 Hz into
 * 50 charts would spend every frame re-aligning data nobody can read that fast); and what a
 * settings change asks of a view's charts (SmoothingWatch).
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

/**
 * A chart view's answer to a settings change: a new smoothing refetches every chart once the
 * value has rested 250 ms (a dragged slider sends many); any other setting only redraws.
 */
export class SmoothingWatch {
  private last: number;
  private timer: number | null = null;

  constructor(private smoothing: () => number) {
    this.last = smoothing();
  }

  settingsChanged(refetch: () => void, redraw: () => void): void {
    if (this.smoothing() !== this.last) {
      this.last = this.smoothing();
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = window.setTimeout(() => {
        this.timer = null;
        refetch();
      }, 250);
    } else redraw();
  }

  destroy(): void {
    if (this.timer !== null) clearTimeout(this.timer);
  }
}
