/**
 * One scalar series (run, tag) held by a chart: fetched from `/api/live/scalars` (smoothed on
 * the server, zoomed ranges at full resolution), then followed over /ws from the fetch's
 * cursor; live points continue the EMA, a rewritten step refetches, and a long live series is
 * decimated so memory stays bounded.
 */
import { getJSON } from "../api";
import type { App } from "../app";
import { num, nums } from "../data/numbers";
import { bandPerPoint, decimate, emptySeries, lowerBound, upsertPoint, type Series } from "../data/series";
import { stepRangeForX } from "../data/xaxis";
import { truncateFrom } from "../segments";
import { continueEma, newEma, stateFromSmoothed, type EmaState } from "../smoothing";

export interface SeriesHost {
  /** Plot width in CSS px (zoomed fetches ask for 2x as many points). */
  width(): number;
  zoom(): [number, number] | null;
  /** The run's first wall time over the host's series (zoom ranges in relative time). */
  runStart(run: string): number | undefined;
  noteFetch(): void;
  noteError(e: unknown): void;
  /** New data: `live` for streamed points (redraws are rate-limited then). */
  changed(live: boolean): void;
  /** A live point went back in steps: the run was resumed from an earlier step. */
  restarted?(run: string, tag: string): void;
}

export class LiveSeries {
  s: Series = emptySeries();
  private ema: EmaState = newEma(0);
  private weight = 0;
  private cursor: number | null = null;
  downsampled = false;
  private total = 0;
  /** The series' first wall time (kept while zoomed: a zoomed fetch starts later). */
  runStart: number | undefined;
  private seq = 0;
  loaded = false;
  private buffer: unknown[][] = [];
  fetching = false;
  private unsub: (() => void) | null = null;
  private refetchTimer: number | null = null;
  private dead = false;

  constructor(private app: App, private host: SeriesHost, readonly run: string, readonly tag: string) {}

  async fetch(): Promise<void> {
    const seq = ++this.seq;
    this.fetching = true;
    const w = this.app.settings.smoothing;
    const width = Math.max(300, this.host.width() || 600);
    const zoom = this.host.zoom();
    const params: Record<string, any> = { run: this.run, tag: this.tag, max_points: this.app.settings.maxPoints };
    if (w > 0) params.smoothing = w;
    if (zoom) {
      const range = stepRangeForX(this.s, this.app.settings.xMode, zoom[0], zoom[1], this.host.runStart(this.run));
      if (range) {
        params.start_step = range[0];
        params.end_step = range[1];
        params.max_points = Math.max(2000, width * 2);
      }
    }
    let d: any;
    try {
      this.host.noteFetch();
      d = await getJSON("live/scalars", params);
    } catch (e) {
      this.fetching = false;
      if (seq === this.seq) this.host.noteError(e);
      return;
    }
    if (this.dead || seq !== this.seq) return;
    this.fetching = false;
    const s = emptySeries();
    s.steps = nums(d.steps);
    s.wall = nums(d.wall_times);
    s.values = nums(d.values);
    s.smoothed = w > 0 && Array.isArray(d.smoothed) ? nums(d.smoothed) : s.values.slice();
    s.bandMin = Array.isArray(d.band_min) ? nums(d.band_min) : null;
    s.bandMax = Array.isArray(d.band_max) ? nums(d.band_max) : null;
    if (!s.bandMin && d.band && typeof d.band === "object") {
      const b = bandPerPoint(s.steps, s.values, d.band);
      s.bandMin = b.min;
      s.bandMax = b.max;
    }
    this.s = s;
    this.downsampled = !!d.downsampled;
    this.total = Number(d.total) || s.steps.length;
    this.weight = w;
    this.ema = w > 0 && s.smoothed.length ? stateFromSmoothed(s.smoothed[s.smoothed.length - 1], this.total, w) : newEma(w);
    if (!zoom && s.wall.length) this.runStart = this.runStart === undefined ? s.wall[0] : Math.min(this.runStart, s.wall[0]);
    this.loaded = true;
    const c = Number(d.cursor);
    if (Number.isFinite(c)) this.app.live.noteCursor(c);
    // Live points that arrived while fetching.
    const buf = this.buffer;
    this.buffer = [];
    this.applyPoints(buf);
    if (!this.unsub) {
      this.cursor = Number.isFinite(c) ? c : this.app.live.cursor;
      this.unsub = this.app.live.subscribe("scalar", this.run, this.tag, this.cursor, (m) => this.onPoints(m));
    }
    this.host.changed(false);
  }

  private onPoints(msg: any): void {
    if (!Array.isArray(msg.points)) return;
    if (this.fetching || !this.loaded) {
      this.buffer.push(...msg.points);
      return;
    }
    this.applyPoints(msg.points);
    this.host.changed(true);
  }

  private applyPoints(pts: unknown[][]): void {
    let outOfOrder = false;
    for (const p of pts) {
      const wall = num(p[0]), step = num(p[1]), value = num(p[2]);
      const s = this.s;
      const n = s.steps.length;
      if (n === 0 || step > s.steps[n - 1]) {
        const sm = this.weight > 0 ? continueEma(this.ema, [value])[0] : value;
        upsertPoint(s, wall, step, value, sm);
        this.total++;
      } else {
        const i = lowerBound(s.steps, step);
        if (!(s.steps[i] === step && s.wall[i] === wall)) {
          // A new write at an older step supersedes every point from that step on (the
          // server's rule: a resumed job hides what it overwrote). A replayed duplicate does not.
          if (step < s.steps[n - 1]) this.host.restarted?.(this.run, this.tag);
          truncateFrom(s, i);
        }
        upsertPoint(s, wall, step, value, value);
        if (this.weight > 0) outOfOrder = true;
      }
      if (this.runStart === undefined) this.runStart = wall;
    }
    // Bound memory: a long live session merges old points into min/max buckets.
    const cap = Math.max(4 * this.app.settings.maxPoints, 1000);
    if (this.s.steps.length > cap) {
      this.s = decimate(this.s, 2 * this.app.settings.maxPoints);
      this.downsampled = true;
    }
    if (outOfOrder && this.weight > 0 && this.refetchTimer === null) {
      // A rewritten step invalidates the EMA after it: recompute on the server.
      this.refetchTimer = window.setTimeout(() => {
        this.refetchTimer = null;
        this.fetch();
      }, 1000);
    }
  }

  destroy(): void {
    this.dead = true;
    this.unsub?.();
    this.unsub = null;
    if (this.refetchTimer !== null) clearTimeout(this.refetchTimer);
  }
}
