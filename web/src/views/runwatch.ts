/**
 * The live-alert monitor: feeds every scalar `points` message the page receives over /ws to the
 * AlertBook (NaN/Inf, thresholds), and makes sure there is something to receive: one watched
 * scalar series per run (so a run whose charts are off screen or on another tab still tells
 * when it stops), and every (run, tag) with a threshold. A run's watched series is read once
 * (`all_writes=1`, 64 points, then the tail of its newest segment at full resolution) for its
 * usual interval and whether it restarted, then followed from that read's cursor.
 */
import { getJSON } from "../api";
import type { App } from "../app";
import { AlertBook } from "../alerts";
import { naturalCompare } from "../data/natsort";
import { num, nums } from "../data/numbers";
import { hasRestart, splitSegments } from "../segments";
import { restarts, thresholds } from "../watchstate";

/** Runs watched at most (each is one /ws subscription; the server allows 2000 per socket). */
const MAX_WATCHED = 300;
const PROBE_POINTS = 64;

export function watchTag(tags: Iterable<string>): string | undefined {
  const all = [...tags].sort(naturalCompare);
  return all.find((t) => /loss/i.test(t)) ?? all[0];
}

export class AlertMonitor {
  book = new AlertBook();
  /** Seconds of silence that always count as normal (`?stall_min=`, default 30). */
  minSec: number;
  private watched = new Map<string, { tag: string; unsub: (() => void) | null }>();
  private thrSubs = new Map<string, () => void>();
  private queue: Array<() => Promise<void>> = [];
  private active = 0;
  private listeners: Array<() => void> = [];
  private started = false;

  constructor(private app: App) {
    const p = new URLSearchParams(window.location.search);
    const m = Number(p.get("stall_min"));
    this.minSec = p.has("stall_min") && Number.isFinite(m) && m >= 0 ? m : 30;
    app.live.onPoints((msg) => this.onPoints(msg));
    app.live.onCategory((msg) => {
      if (msg?.run !== undefined && this.book.noteActivity(String(msg.run), Date.now())) this.emit();
    });
    let prevState = app.live.state;
    app.live.onState((s) => {
      if ((s === "live" || s === "polling") && prevState !== "live" && prevState !== "polling") this.book.resetClocks(Date.now());
      prevState = s;
    });
    app.on((c) => {
      if (c === "categories") this.sync();
    });
    thresholds.on(() => this.sync());
    window.setInterval(() => {
      if (this.app.live.state !== "live" && this.app.live.state !== "polling") return;
      if (this.book.checkStalls(Date.now(), this.minSec)) this.emit();
    }, 1000);
  }

  /** Start watching runs (after the first charts had their turn at the server). */
  start(): void {
    this.started = true;
    this.sync();
  }

  onChange(f: () => void): void {
    this.listeners.push(f);
  }

  emit(): void {
    for (const f of this.listeners.slice()) f();
  }

  dismiss(id: string): void {
    if (this.book.dismiss(id)) this.emit();
  }

  private onPoints(msg: any): void {
    if (msg.kind !== "scalar" || msg.snapshot || !Array.isArray(msg.points)) return;
    const run = String(msg.run), tag = String(msg.tag);
    const pts = msg.points.map((p: unknown[]) => [num(p[0]), num(p[1]), num(p[2])] as const);
    if (this.book.notePoints(run, tag, pts, Number(msg.cursor), thresholds.get(tag), Date.now())) this.emit();
  }

  private sync(): void {
    const runs = this.app.allRuns().filter((r) => this.app.cat.get(r)?.get("scalar")?.size);
    const keep = new Set(runs.slice(0, MAX_WATCHED));
    for (const [run, w] of this.watched) {
      if (keep.has(run)) continue;
      w.unsub?.();
      this.watched.delete(run);
      this.book.forgetRun(run);
    }
    if (this.started) {
      for (const run of keep) {
        if (this.watched.has(run)) continue;
        const tag = watchTag(this.app.cat.get(run)!.get("scalar")!);
        if (tag === undefined) continue;
        const w = { tag, unsub: null as (() => void) | null };
        this.watched.set(run, w);
        this.enqueue(() => this.watch(run, w).catch(() => {
          // Not readable yet (a run still being ingested): try again shortly.
          if (this.watched.get(run) !== w) return;
          this.watched.delete(run);
          window.setTimeout(() => this.sync(), 3000);
        }));
      }
    }
    // A threshold watches its tag in every run that has it, on screen or not.
    const want = new Set<string>();
    for (const tag of thresholds.tags()) for (const run of runs) if (this.app.cat.get(run)?.get("scalar")?.has(tag)) want.add(`${run}\u0000${tag}`);
    for (const [k, unsub] of this.thrSubs) {
      if (!want.has(k)) {
        unsub();
        this.thrSubs.delete(k);
      }
    }
    for (const k of want) {
      if (this.thrSubs.has(k)) continue;
      const [run, tag] = k.split("\u0000");
      this.thrSubs.set(k, this.app.live.subscribe("scalar", run, tag, this.app.live.cursor, () => undefined));
    }
  }

  private enqueue(job: () => Promise<void>): void {
    this.queue.push(job);
    this.pump();
  }

  private pump(): void {
    while (this.active < 2 && this.queue.length) {
      const job = this.queue.shift()!;
      this.active++;
      job().catch(() => undefined).finally(() => {
        this.active--;
        this.pump();
      });
    }
  }

  /** Read the watched series' recent writes, then follow it from that read's cursor. */
  private async watch(run: string, w: { tag: string; unsub: (() => void) | null }): Promise<void> {
    const d = await getJSON("live/scalars", { run, tag: w.tag, max_points: PROBE_POINTS, all_writes: 1 });
    if (this.watched.get(run) !== w) return;
    let steps = nums(d.steps), wall = nums(d.wall_times), values = nums(d.values);
    if (hasRestart(steps)) restarts.mark(run);
    if (d.downsampled && steps.length > 1) {
      // Only a sample of the writes: read the newest ones at full resolution for the gaps.
      const lo = Math.min(...steps), hi = Math.max(...steps);
      const span = Math.max(1, Math.ceil((PROBE_POINTS * (hi - lo + 1)) / Math.max(1, Number(d.total) || steps.length)));
      const last = steps[steps.length - 1];
      const t = await getJSON("live/scalars", { run, tag: w.tag, max_points: 4 * PROBE_POINTS, all_writes: 1, start_step: last - span });
      if (this.watched.get(run) !== w) return;
      steps = nums(t.steps);
      wall = nums(t.wall_times);
      values = nums(t.values);
    }
    const segs = splitSegments(steps, wall, values);
    this.book.seedRun(run, w.tag, segs.length ? segs[segs.length - 1].wall : [], Date.now(), this.minSec);
    const c = Number(d.cursor);
    w.unsub = this.app.live.subscribe("scalar", run, w.tag, Number.isFinite(c) ? c : this.app.live.cursor, () => undefined);
    // How many runs are watched (`data-watched-runs` on <body>, for tests).
    document.body.dataset.watchedRuns = String([...this.watched.values()].filter((x) => x.unsub).length);
  }
}
