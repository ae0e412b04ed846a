/**
 * A chart's view of its runs' own past: for each (run, tag) every stored write
 * (`/api/live/scalars?all_writes=1`), split where the step went back; the segments before the
 * newest are drawn dashed and faded under the line. Read when asked for, again after a
 * restart seen live.
 */
import { getJSON } from "../api";
import type { App } from "../app";
import { nums } from "../data/numbers";
import type { Series } from "../data/series";
import { hasRestart, olderSegments, splitSegments } from "../segments";
import { restarts } from "../watchstate";

interface Entry {
  raw: Series[];
  weight: number;
  older: Series[];
  loading: boolean;
  loaded: boolean;
  seq: number;
}

const key = (run: string, tag: string) => `${run}\u0000${tag}`;

export class PastWrites {
  private map = new Map<string, Entry>();
  private timers = new Map<string, number>();
  private dead = false;

  constructor(private app: App, private onData: () => void) {}

  /** The older segments of (run, tag), smoothed with the current weight; loads them when missing. */
  older(run: string, tag: string): Series[] {
    const k = key(run, tag);
    let e = this.map.get(k);
    if (!e) {
      e = { raw: [], weight: -1, older: [], loading: false, loaded: false, seq: 0 };
      this.map.set(k, e);
    }
    if (!e.loaded && !e.loading) this.load(run, tag, e);
    const w = this.app.settings.smoothing;
    if (e.weight !== w) {
      e.older = olderSegments(e.raw, w);
      e.weight = w;
    }
    return e.older;
  }

  loaded(run: string, tag: string): boolean {
    return !!this.map.get(key(run, tag))?.loaded;
  }

  /** A live point went back in steps: read the writes again (at most once a second). */
  invalidate(run: string, tag: string): void {
    const k = key(run, tag);
    if (this.timers.has(k)) return;
    this.timers.set(k, window.setTimeout(() => {
      this.timers.delete(k);
      const e = this.map.get(k);
      if (e) this.load(run, tag, e);
    }, 1000));
  }

  private async load(run: string, tag: string, e: Entry): Promise<void> {
    const seq = ++e.seq;
    e.loading = true;
    let d: any;
    try {
      d = await getJSON("live/scalars", { run, tag, all_writes: 1, max_points: 2 * this.app.settings.maxPoints });
    } catch {
      e.loading = false;
      return;
    }
    if (this.dead || seq !== e.seq) return;
    const steps = nums(d.steps);
    if (hasRestart(steps)) restarts.mark(run);
    e.raw = splitSegments(steps, nums(d.wall_times), nums(d.values));
    e.weight = -1;
    e.loading = false;
    e.loaded = true;
    this.onData();
  }

  /** Forget series no line shows any more. */
  keep(wanted: Set<string>): void {
    for (const k of this.map.keys()) if (!wanted.has(k)) this.map.delete(k);
  }

  destroy(): void {
    this.dead = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.map.clear();
  }
}
