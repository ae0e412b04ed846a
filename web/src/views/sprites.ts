/**
 * Sprite thumbnails for the projector: the per-point images of an embedding written with a
 * sprite (`add_embedding(label_img=...)`, a projector config's `sprite`), read one by one from
 * `/api/projector_sample` (the server has no whole-sprite endpoint) a few at a time, and handed
 * to the plot as they arrive, so the first thumbnails show while the rest load.
 */
import { getJSON } from "../api";

/** Thumbnails read at most (the first points of the embedding). */
export const MAX_THUMBS = 2000;
const CONCURRENCY = 4;

/** Side of a thumbnail in CSS px: smaller when there are many points. */
export function thumbSize(n: number): number {
  return n <= 100 ? 36 : n <= 400 ? 28 : n <= 1500 ? 20 : 14;
}

export class Thumbnails {
  /** Data URLs by point index. */
  urls = new Map<number, string>();
  /** Decoded images by point index (the 3-D plot draws these). */
  images = new Map<number, HTMLImageElement>();
  total = 0;
  private seq = 0;
  private timer: number | null = null;

  constructor(private onProgress: () => void) {}

  /** Read the thumbnails of points 0..n-1 of (run, tag); `cache` is shared with the sample pane. */
  start(run: string, tag: string, n: number, cache: Map<number, Promise<unknown>>): void {
    const seq = ++this.seq;
    this.urls.clear();
    this.images.clear();
    this.total = Math.min(n, MAX_THUMBS);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (seq === this.seq && next < this.total) {
        const i = next++;
        let p = cache.get(i);
        if (!p) {
          p = getJSON("projector_sample", { run, tag, index: i });
          cache.set(i, p);
        }
        let s: unknown;
        try {
          s = await p;
        } catch {
          continue;
        }
        if (seq !== this.seq) return;
        if (typeof s === "string" && s.startsWith("data:image")) {
          this.urls.set(i, s);
          const img = new Image();
          img.onload = () => { if (seq === this.seq) this.notify(); };
          img.src = s;
          this.images.set(i, img);
          this.notify();
        }
      }
    };
    for (let k = 0; k < CONCURRENCY; k++) void worker().then(() => this.notify(true));
  }

  /** Tell the plot, at most every 300 ms while loading (at once when done). */
  private notify(now = false): void {
    const done = this.urls.size >= this.total;
    if (now || done) {
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = null;
      this.onProgress();
      return;
    }
    if (this.timer === null) this.timer = window.setTimeout(() => { this.timer = null; this.onProgress(); }, 300);
  }

  stop(): void {
    this.seq++;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
