/**
 * Sprite thumbnails for the projector: the per-point images of an embedding written with a
 * sprite (`add_embedding(label_img=...)`, a projector config's `sprite`), read as one atlas
 * PNG from `/api/projector_sprite` (one request, not one per point) and cut into one image per
 * point here, handed to the plot as they decode.
 */
import { getResponse } from "../api";

/** Thumbnails read at most (the first points of the embedding). */
export const MAX_THUMBS = 2000;
/** Side of an atlas cell asked for (px): the largest thumbnail drawn (36 px) at 1.6x hover. */
const CELL = 48;

/** Where thumbnail `i` sits in an atlas: row-major, `columns` cells a row, `cell` px each. */
export function atlasCell(i: number, columns: number, cell: number): [number, number] {
  return [(i % columns) * cell, Math.floor(i / columns) * cell];
}

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

  /** Read the thumbnails of points 0..n-1 of (run, tag). */
  start(run: string, tag: string, n: number): void {
    const seq = ++this.seq;
    this.urls.clear();
    this.images.clear();
    this.total = Math.min(n, MAX_THUMBS);
    if (!this.total) return;
    void this.load(seq, run, tag).catch(() => {
      if (seq === this.seq) this.total = 0; // no thumbnails: the plot keeps its dots
      this.notify(true);
    });
  }

  private async load(seq: number, run: string, tag: string): Promise<void> {
    const r = await getResponse("projector_sprite", { run, tag, count: this.total, size: CELL });
    const columns = Number(r.headers.get("X-Sprite-Columns")) || 1;
    const cell = Number(r.headers.get("X-Sprite-Cell")) || CELL; // smaller for smaller images
    const count = Number(r.headers.get("X-Sprite-Count")) || 0;
    const atlas = await createImageBitmap(await r.blob());
    if (seq !== this.seq) return;
    this.total = Math.min(this.total, count);
    const cut = document.createElement("canvas");
    cut.width = cut.height = cell;
    const ctx = cut.getContext("2d")!;
    for (let i = 0; i < this.total; i++) {
      const [x, y] = atlasCell(i, columns, cell);
      ctx.clearRect(0, 0, cell, cell);
      ctx.drawImage(atlas, x, y, cell, cell, 0, 0, cell, cell);
      const u = cut.toDataURL("image/png");
      this.urls.set(i, u);
      const img = new Image();
      img.onload = () => { if (seq === this.seq) this.notify(); };
      img.src = u;
      this.images.set(i, img);
    }
    atlas.close();
    this.notify(true);
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
