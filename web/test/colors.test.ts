import { describe, expect, it } from "vitest";
import { assignColors, fnv1a, PALETTE, runColor, RUN_COLORS_KEY, RunColors } from "../src/colors";

/** A real in-memory Storage (Node has no localStorage). */
class MemoryStorage implements Storage {
  private m = new Map<string, string>();
  get length(): number {
    return this.m.size;
  }
  clear(): void {
    this.m.clear();
  }
  getItem(k: string): string | null {
    return this.m.has(k) ? this.m.get(k)! : null;
  }
  key(i: number): string | null {
    return [...this.m.keys()][i] ?? null;
  }
  removeItem(k: string): void {
    this.m.delete(k);
  }
  setItem(k: string, v: string): void {
    this.m.set(k, String(v));
  }
}

function lab(hex: string): [number, number, number] {
  const f = (c: number) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  const [r, g, b] = [1, 3, 5].map((i) => f(parseInt(hex.slice(i, i + 2), 16) / 255));
  const x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047, y = 0.2126 * r + 0.7152 * g + 0.0722 * b, z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
  const t = (v: number) => (v > 0.008856 ? Math.cbrt(v) : 7.787 * v + 16 / 116);
  return [116 * t(y) - 16, 500 * (t(x) - t(y)), 200 * (t(y) - t(z))];
}

describe("run colours", () => {
  it("the palette is made of 20 colours far apart (CIELAB distance > 15)", () => {
    expect(new Set(PALETTE).size).toBe(20);
    for (let i = 0; i < PALETTE.length; i++) {
      for (let j = i + 1; j < PALETTE.length; j++) {
        const [a, b] = [lab(PALETTE[i]), lab(PALETTE[j])];
        expect(Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]), `${PALETTE[i]} ${PALETTE[j]}`).toBeGreaterThan(15);
      }
    }
  });

  it("runs that collided under the name hash get distinct colours, in run order", () => {
    const m = new Map<string, string>();
    const runs = ["lr_0.01/loss_compare_val", "lr_0.05/loss_compare_val", "train/lr=0.1", "train/lr=1.0"];
    expect(assignColors(runs, m)).toBe(true);
    expect(runs.map((r) => m.get(r))).toEqual(PALETTE.slice(0, 4));
    expect(assignColors(runs, m)).toBe(false);
  });

  it("a new run takes a free colour and leaves the others alone", () => {
    const m = new Map<string, string>();
    assignColors(["b", "c"], m);
    const before = new Map(m);
    assignColors(["a", "b", "c"], m); // "a" sorts first but comes later
    expect(m.get("b")).toBe(before.get("b"));
    expect(m.get("c")).toBe(before.get("c"));
    expect(new Set([m.get("a"), m.get("b"), m.get("c")]).size).toBe(3);
  });

  it("more runs than colours: each colour used as evenly as possible", () => {
    const m = new Map<string, string>();
    const runs = Array.from({ length: 45 }, (_, i) => `run${i}`);
    assignColors(runs, m);
    const count = new Map<string, number>();
    for (const r of runs) count.set(m.get(r)!, (count.get(m.get(r)!) ?? 0) + 1);
    expect(Math.max(...count.values()) - Math.min(...count.values())).toBeLessThanOrEqual(1);
  });

  it("a user-picked colour counts as used by its run", () => {
    const m = new Map<string, string>([["a", PALETTE[0]], ["b", PALETTE[1]]]);
    m.set("a", "#123456");
    assignColors(["a", "b", "c"], m);
    expect(m.get("c")).toBe(PALETTE[0]);
  });

  it("the mapping and the user's choice survive a reload (localStorage)", () => {
    const store = new MemoryStorage();
    const first = new RunColors(store);
    first.assign(["x", "y"]);
    first.set("y", "#ABCDEF");
    first.set("x", "not a colour");
    const second = new RunColors(store);
    second.assign(["0new", "x", "y"]);
    expect(second.get("x")).toBe(PALETTE[0]);
    expect(second.get("y")).toBe("#abcdef");
    expect(second.get("0new")).toBe(PALETTE[1]);
    store.setItem(RUN_COLORS_KEY, "{broken");
    expect(new RunColors(store).get("x")).toBeUndefined();
  });

  it("a view asking before the run list was coloured still gets a free colour", () => {
    const c = new RunColors(new MemoryStorage());
    c.assign(["a", "b"]);
    expect(c.colorOf("z")).toBe(PALETTE[2]);
  });
});

describe("colours", () => {
  it("are stable per run name", () => {
    expect(runColor("run_a")).toBe(runColor("run_a"));
    expect(fnv1a("")).toBe(0x811c9dc5);
  });
});
