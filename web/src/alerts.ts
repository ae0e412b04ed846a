/**
 * Live alerts (unit-tested in test/beyond.test.ts), decided from the points the page receives
 * over /ws: a scalar that turns NaN/Inf, one that crosses a threshold the user set on its chart,
 * and a run that stops writing for longer than its usual interval. Pure bookkeeping: the
 * caller passes the clock (`now`, ms) and draws the result (views/alertsui.ts).
 */
import { medianGap, stallAfter } from "./segments";

export type AlertKind = "nan" | "inf" | "above" | "below" | "stalled";

export interface Threshold {
  above?: number;
  below?: number;
}

export interface Alert {
  id: string;
  kind: AlertKind;
  run: string;
  /** The chart to go to (the run's watched tag for a stalled run). */
  tag: string;
  step: number | null;
  value: number | null;
  /** How many times it happened while the alert was up. */
  count: number;
  /** When it was raised (ms). */
  at: number;
  detail: string;
}

interface SeriesState {
  wall: number;
  step: number;
  cursor: number;
  nonFinite: boolean;
  above: boolean;
  below: boolean;
}

interface RunState {
  /** When the last point arrived (ms, page clock). */
  lastSeen: number;
  /** Recent wall times of the watched tag, for its usual interval. */
  walls: number[];
  tag: string;
  /** Writing while the page was open (a run finished before the page opened never stalls). */
  live: boolean;
  stalled: boolean;
}

const MAX_WALLS = 65;

export function alertId(kind: AlertKind, run: string, tag: string): string {
  return `${kind}\u0000${run}\u0000${tag}`;
}

function fmtValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "+Inf" : "−Inf";
  return String(Math.round(v * 1e6) / 1e6);
}

/** "45 s", "3.2 min", "1.5 h". */
export function fmtSeconds(s: number): string {
  if (s < 90) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  if (s < 5400) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

export class AlertBook {
  alerts = new Map<string, Alert>();
  private series = new Map<string, SeriesState>();
  private runs = new Map<string, RunState>();

  /**
   * Points `[wall, step, value]` of (run, tag) as a /ws `points` message brings them, `cursor`
   * being the message's. A replay of points already seen (a resubscription from an older
   * cursor) is skipped: it holds the last point seen, and everything before it is old.
   * Returns whether the alerts changed.
   */
  notePoints(run: string, tag: string, pts: ReadonlyArray<readonly [number, number, number]>, cursor: number, thr: Threshold | undefined, now: number): boolean {
    const key = `${run}\u0000${tag}`;
    let st = this.series.get(key);
    let start = 0;
    if (st) {
      if (Number.isFinite(cursor) && cursor <= st.cursor) return false;
      for (let i = pts.length - 1; i >= 0; i--) {
        if (pts[i][0] === st.wall && pts[i][1] === st.step) {
          start = i + 1;
          break;
        }
      }
    } else {
      st = { wall: NaN, step: NaN, cursor: -Infinity, nonFinite: false, above: false, below: false };
      this.series.set(key, st);
    }
    if (Number.isFinite(cursor)) st.cursor = cursor;
    if (start >= pts.length) return false;
    let changed = this.noteActivity(run, now);
    const rs = this.runs.get(run);
    for (let i = start; i < pts.length; i++) {
      const [wall, step, v] = pts[i];
      st.wall = wall;
      st.step = step;
      if (rs && rs.tag === tag) {
        rs.walls.push(wall);
        if (rs.walls.length > MAX_WALLS) rs.walls.shift();
      }
      const nonFinite = !Number.isFinite(v);
      if (nonFinite) {
        const kind: AlertKind = Number.isNaN(v) ? "nan" : "inf";
        changed = this.raise(kind, run, tag, step, v, !st.nonFinite, now, `${fmtValue(v)} at step ${step}`) || changed;
      }
      st.nonFinite = nonFinite;
      const above = thr?.above !== undefined && v > thr.above;
      if (above) changed = this.raise("above", run, tag, step, v, !st.above, now, `above ${thr!.above}: ${fmtValue(v)} at step ${step}`) || changed;
      st.above = above;
      const below = thr?.below !== undefined && v < thr.below;
      if (below) changed = this.raise("below", run, tag, step, v, !st.below, now, `below ${thr!.below}: ${fmtValue(v)} at step ${step}`) || changed;
      st.below = below;
    }
    return changed;
  }

  /**
   * Raise an alert, or update the one that is up. `crossed`: the series just went there (a
   * dismissed alert comes back only then, not for every further point beyond the line).
   */
  private raise(kind: AlertKind, run: string, tag: string, step: number, value: number, crossed: boolean, now: number, detail: string): boolean {
    const id = alertId(kind, run, tag);
    const a = this.alerts.get(id);
    if (a) {
      if (crossed) a.count++;
      a.step = step;
      a.value = value;
      a.detail = detail;
      return true;
    }
    if (!crossed) return false;
    this.alerts.set(id, { id, kind, run, tag, step, value, count: 1, at: now, detail });
    return true;
  }

  /** A point of `run` arrived: it is writing (a stalled run has resumed). */
  noteActivity(run: string, now: number): boolean {
    let rs = this.runs.get(run);
    if (!rs) {
      rs = { lastSeen: now, walls: [], tag: "", live: true, stalled: false };
      this.runs.set(run, rs);
      return false;
    }
    rs.lastSeen = now;
    rs.live = true;
    if (!rs.stalled) return false;
    rs.stalled = false;
    return this.alerts.delete(alertId("stalled", run, rs.tag));
  }

  /**
   * The watched tag of `run` and its newest wall times (the tail of its newest segment), read
   * when the page starts watching it: whether it is still writing, and its usual interval.
   */
  seedRun(run: string, tag: string, walls: readonly number[], now: number, minSec: number): void {
    const last = walls.length ? walls[walls.length - 1] : NaN;
    const age = Number.isFinite(last) ? Math.max(0, now / 1000 - last) : Infinity;
    const prev = this.runs.get(run);
    const rs: RunState = prev ?? { lastSeen: now, walls: [], tag, live: false, stalled: false };
    rs.tag = tag;
    rs.walls = walls.slice(-MAX_WALLS);
    if (!prev) {
      rs.lastSeen = now - Math.min(age, 1e9) * 1000;
      rs.live = age < stallAfter(medianGap(rs.walls), minSec);
    }
    this.runs.set(run, rs);
  }

  forgetRun(run: string): void {
    this.runs.delete(run);
    for (const [id, a] of this.alerts) if (a.run === run) this.alerts.delete(id);
    for (const k of this.series.keys()) if (k.startsWith(`${run}\u0000`)) this.series.delete(k);
  }

  /** Runs writing while the page was open that have been silent for longer than their interval. */
  checkStalls(now: number, minSec: number): boolean {
    let changed = false;
    for (const [run, rs] of this.runs) {
      // Only watched runs (a run with no scalar series, e.g. only hparams, has no interval).
      if (!rs.tag || !rs.live || rs.stalled) continue;
      const median = medianGap(rs.walls);
      const limit = stallAfter(median, minSec);
      const silent = (now - rs.lastSeen) / 1000;
      if (silent <= limit) continue;
      rs.stalled = true;
      const usual = median === null ? "" : ` (usually a point every ${fmtSeconds(median)})`;
      const at = new Date(rs.lastSeen).toLocaleTimeString();
      const id = alertId("stalled", run, rs.tag);
      this.alerts.set(id, { id, kind: "stalled", run, tag: rs.tag, step: null, value: null, count: 1, at: now, detail: `stalled: no new points since ${at}, ${fmtSeconds(silent)} ago${usual}` });
      changed = true;
    }
    return changed;
  }

  /** After a reconnect: silence while the page could not hear counts as nothing. */
  resetClocks(now: number): void {
    for (const rs of this.runs.values()) if (!rs.stalled) rs.lastSeen = Math.max(rs.lastSeen, now);
  }

  isStalled(run: string): boolean {
    return !!this.runs.get(run)?.stalled;
  }

  dismiss(id: string): boolean {
    return this.alerts.delete(id);
  }

  /** The alerts, newest first. */
  list(): Alert[] {
    return [...this.alerts.values()].sort((a, b) => b.at - a.at);
  }

  byRun(run: string): Alert[] {
    return this.list().filter((a) => a.run === run);
  }
}
