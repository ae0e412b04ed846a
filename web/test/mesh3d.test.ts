import { describe, expect, it } from "vitest";
import { decodePart, makeMesh, newFrame, project, rasterize, type Camera } from "../src/mesh3d";

const FRONT: Camera = { yaw: 0, pitch: 0, zoom: 1 };

function b64(arr: ArrayBufferView): string {
  const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
  let s = "";
  for (const x of bytes) s += String.fromCharCode(x);
  return btoa(s);
}

/** Count of drawn pixels and of those whose colour is within 2 of `rgb` (per channel). */
function pixels(rgba: Uint8ClampedArray, rgb?: number[]): { drawn: number; match: number } {
  let drawn = 0, match = 0;
  for (let i = 0; i < rgba.length; i += 4) {
    if (rgba[i + 3] === 0) continue;
    drawn++;
    if (rgb && Math.abs(rgba[i] - rgb[0]) <= 2 && Math.abs(rgba[i + 1] - rgb[1]) <= 2 && Math.abs(rgba[i + 2] - rgb[2]) <= 2) match++;
  }
  return { drawn, match };
}

describe("decodePart", () => {
  it("reads base64 float32, int32 and uint8 and JSON lists alike", () => {
    const v = new Float32Array([0.5, -1.25, 3, 1e-7, 2, 4]);
    expect(Array.from(decodePart({ dtype: "float32", shape: [2, 3], data: b64(v) }))).toEqual(Array.from(v));
    const f = new Int32Array([0, 1, 2, 70000, 3, 1]);
    expect(Array.from(decodePart({ dtype: "int32", shape: [2, 3], data: b64(f) }))).toEqual(Array.from(f));
    const c = new Uint8Array([255, 0, 7]);
    expect(Array.from(decodePart({ dtype: "uint8", shape: [1, 3], data: b64(c) }))).toEqual([255, 0, 7]);
    expect(Array.from(decodePart({ dtype: "int32", shape: [1, 3], data: [4, 5, 6] }))).toEqual([4, 5, 6]);
  });

  it("refuses a part whose bytes do not fit its shape, and unknown dtypes", () => {
    expect(() => decodePart({ dtype: "float32", shape: [2, 3], data: b64(new Float32Array(5)) })).toThrow(/bytes/);
    expect(() => decodePart({ dtype: "float64", shape: [1, 3], data: [1, 2, 3] })).toThrow(/dtype/);
  });
});

describe("makeMesh", () => {
  it("centres and scales to [-1, 1], keeps only faces naming vertices, ignores odd colours", () => {
    const m = makeMesh(new Float32Array([10, 0, 0, 14, 2, 0, 12, 4, 1]), new Int32Array([0, 1, 2, 0, 1, 9]), new Uint8Array([1, 2, 3]));
    expect(Array.from(m.pts)).toEqual([-1, -1, -0.25, 1, 0, -0.25, 0, 1, 0.25]);
    expect(Array.from(m.faces!)).toEqual([0, 1, 2]);
    expect(m.faceCount).toBe(1);
    expect(m.colors).toBeNull();
  });

  it("puts non-finite coordinates at the centre", () => {
    const m = makeMesh(new Float32Array([0, 0, 0, 2, 2, 2, NaN, Infinity, 1]), null, null);
    expect(Array.from(m.pts.slice(6))).toEqual([0, 0, 0]);
  });
});

describe("rasterize", () => {
  const quad = new Float32Array([-1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 1, 0]);
  const twoTriangles = new Int32Array([0, 1, 2, 0, 2, 3]);

  it("fills a camera-facing square in its vertex colour, unshaded", () => {
    const red = new Uint8Array([200, 10, 10, 200, 10, 10, 200, 10, 10, 200, 10, 10]);
    const mesh = makeMesh(quad, twoTriangles, red);
    const frame = newFrame(100, 100);
    const n = rasterize(frame, mesh, project(mesh, FRONT, 100, 100), [0, 0, 255]);
    const { drawn, match } = pixels(frame.rgba, [200, 10, 10]);
    // the square spans 2 * 100 / 2.6 = 77 px a side
    expect(drawn).toBe(n);
    expect(drawn).toBeGreaterThan(74 * 74);
    expect(drawn).toBeLessThan(80 * 80);
    expect(match).toBe(drawn);
  });

  it("interpolates colours between vertices and shades a tilted face darker", () => {
    const colors = new Uint8Array([255, 0, 0, 0, 0, 255, 0, 0, 255, 255, 0, 0]);
    const mesh = makeMesh(quad, twoTriangles, colors);
    const frame = newFrame(100, 100);
    rasterize(frame, mesh, project(mesh, FRONT, 100, 100), [0, 0, 0]);
    const at = (x: number, y: number) => Array.from(frame.rgba.slice((y * 100 + x) * 4, (y * 100 + x) * 4 + 3));
    expect(at(15, 50)[0]).toBeGreaterThan(230); // left edge: red
    expect(at(85, 50)[2]).toBeGreaterThan(230); // right edge: blue
    const mid = at(50, 50);
    expect(mid[0]).toBeGreaterThan(100);
    expect(mid[2]).toBeGreaterThan(100);
    const tilted = newFrame(100, 100);
    rasterize(tilted, mesh, project(mesh, { yaw: 1.0, pitch: 0, zoom: 1 }, 100, 100), [0, 0, 0]);
    let brightest = 0;
    for (let i = 0; i < tilted.rgba.length; i += 4) brightest = Math.max(brightest, tilted.rgba[i], tilted.rgba[i + 2]);
    expect(brightest).toBeLessThan(200); // cos(1.0) = 0.54: 0.35 + 0.65 * 0.54 of 255 = 179
  });

  it("draws the nearer of two overlapping faces whatever their order", () => {
    const pts = new Float32Array([-1, -1, -0.5, 1, -1, -0.5, 0, 1, -0.5, -1, -1, 0.5, 1, -1, 0.5, 0, 1, 0.5]);
    const colors = new Uint8Array([0, 255, 0, 0, 255, 0, 0, 255, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0]);
    for (const order of [[0, 1, 2, 3, 4, 5], [3, 4, 5, 0, 1, 2]]) {
      const mesh = makeMesh(pts, Int32Array.from(order), colors);
      const frame = newFrame(80, 80);
      rasterize(frame, mesh, project(mesh, FRONT, 80, 80), [0, 0, 0]);
      const o = (40 * 80 + 40) * 4;
      expect(frame.rgba[o + 1]).toBeGreaterThan(200); // green (z = -0.5) is nearer the viewer
      expect(frame.rgba[o]).toBe(0);
    }
  });

  it("draws a point cloud as squares in the vertex colours or the base colour", () => {
    const pts = new Float32Array([-1, 0, 0, 1, 0, 0, 0, 1, 0]);
    const mesh = makeMesh(pts, null, new Uint8Array([1, 2, 3, 1, 2, 3, 1, 2, 3]));
    const frame = newFrame(60, 60);
    const n = rasterize(frame, mesh, project(mesh, FRONT, 60, 60), [9, 9, 9], 3);
    expect(n).toBe(27);
    expect(pixels(frame.rgba, [1, 2, 3]).match).toBe(27);
    const plain = makeMesh(pts, null, null);
    rasterize(frame, plain, project(plain, FRONT, 60, 60), [9, 9, 9], 3);
    expect(pixels(frame.rgba, [9, 9, 9]).match).toBe(27);
  });

  it("rotating moves what is drawn", () => {
    const pts = new Float32Array([-1, -1, -1, 1, -1, 1, 1, 1, -1, -1, 1, 1]);
    const mesh = makeMesh(pts, new Int32Array([0, 1, 2, 0, 2, 3]), null);
    const a = newFrame(64, 64), b = newFrame(64, 64);
    rasterize(a, mesh, project(mesh, FRONT, 64, 64), [100, 100, 100]);
    rasterize(b, mesh, project(mesh, { yaw: 0.8, pitch: 0.4, zoom: 1 }, 64, 64), [100, 100, 100]);
    let differ = 0;
    for (let i = 0; i < a.rgba.length; i++) if (a.rgba[i] !== b.rgba[i]) differ++;
    expect(differ).toBeGreaterThan(100);
  });
});
