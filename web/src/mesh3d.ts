/**
 * Meshes without WebGL: decode the arrays /api/mesh/data sends, project them with the same
 * yaw/pitch/perspective camera as the projector's 3-D scatter, and rasterize into an RGBA
 * buffer with a depth buffer (triangles with vertex colours interpolated and a two-sided
 * Lambert shade per face; points as small squares when there are no faces). Pure: no DOM, so
 * vitest checks it; views/meshcanvas.ts puts the buffer on a canvas.
 *
 * Why a software rasterizer: headless or --disable-gpu Chromium and some remote desktops have
 * no WebGL (see scatter3d.ts), and a canvas 2-D path per triangle is far slower at 100k+
 * triangles (every fill is a path) and cannot do depth or per-vertex colour.
 */

export interface MeshPart {
  dtype: string;
  shape: number[];
  /** base64 of the little-endian bytes, or (encoding=json) the flat values. */
  data: string | number[];
}

export interface Mesh {
  /** xyz per vertex, centred on the bounding box and scaled so its longest side spans [-1, 1]. */
  pts: Float32Array;
  faces: Uint32Array | null;
  /** rgb per vertex (0-255), or null to use the run's colour. */
  colors: Uint8Array | null;
  vertexCount: number;
  faceCount: number;
}

export interface Camera {
  yaw: number;
  pitch: number;
  zoom: number;
}

export const DEFAULT_CAMERA: Readonly<Camera> = { yaw: 0.6, pitch: 0.35, zoom: 1 };

function base64Bytes(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** A part's values as a typed array of its dtype (float32, int32 or uint8; little-endian). */
export function decodePart(part: MeshPart): Float32Array | Int32Array | Uint8Array {
  const n = part.shape.reduce((a, b) => a * b, 1);
  const Ctor = part.dtype === "float32" ? Float32Array : part.dtype === "int32" ? Int32Array : part.dtype === "uint8" ? Uint8Array : null;
  if (!Ctor) throw new Error(`unknown mesh dtype ${part.dtype}`);
  if (Array.isArray(part.data)) {
    if (part.data.length !== n) throw new Error(`mesh part holds ${part.data.length} values, its shape ${n}`);
    return Ctor.from(part.data.map(Number));
  }
  const bytes = base64Bytes(part.data);
  if (bytes.length !== n * Ctor.BYTES_PER_ELEMENT) throw new Error(`mesh part holds ${bytes.length} bytes, its shape needs ${n * Ctor.BYTES_PER_ELEMENT}`);
  // Copy into an aligned buffer (the platforms we run on are little-endian, as the data).
  return new Ctor(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

/** Build a Mesh from decoded parts; non-finite coordinates are drawn at the centre. */
export function makeMesh(vertices: Float32Array, faces: Int32Array | null, colors: Uint8Array | null): Mesh {
  const n = Math.floor(vertices.length / 3);
  const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < 3; d++) {
      const v = vertices[i * 3 + d];
      if (Number.isFinite(v)) {
        if (v < lo[d]) lo[d] = v;
        if (v > hi[d]) hi[d] = v;
      }
    }
  }
  const mid = [0, 1, 2].map((d) => (Number.isFinite(lo[d]) ? (lo[d] + hi[d]) / 2 : 0));
  const span = Math.max(1e-12, ...[0, 1, 2].map((d) => (Number.isFinite(lo[d]) ? hi[d] - lo[d] : 0)));
  const pts = new Float32Array(n * 3);
  for (let i = 0; i < n * 3; i++) {
    const v = vertices[i];
    pts[i] = Number.isFinite(v) ? ((v - mid[i % 3]) / span) * 2 : 0;
  }
  let f: Uint32Array | null = null;
  if (faces && faces.length >= 3) {
    // Keep only faces whose three indices name a vertex (the server already drops the others).
    const keep: number[] = [];
    for (let i = 0; i + 2 < faces.length; i += 3) {
      const a = faces[i], b = faces[i + 1], c = faces[i + 2];
      if (a >= 0 && b >= 0 && c >= 0 && a < n && b < n && c < n) keep.push(a, b, c);
    }
    f = Uint32Array.from(keep);
  }
  const c = colors && colors.length === n * 3 ? colors : null;
  return { pts, faces: f, colors: c, vertexCount: n, faceCount: f ? f.length / 3 : 0 };
}

export interface Projected {
  /** screen x, y (pixels) and view depth z (larger is farther) per vertex */
  sx: Float32Array;
  sy: Float32Array;
  sz: Float32Array;
  /** view-space coordinates (rotated, before perspective), for face normals */
  vx: Float32Array;
  vy: Float32Array;
  vz: Float32Array;
}

/** Rotate by yaw (about y) then pitch (about x), perspective 3/(3+z), fit to w x h. */
export function project(mesh: Mesh, cam: Camera, w: number, h: number): Projected {
  const n = mesh.vertexCount;
  const out: Projected = {
    sx: new Float32Array(n), sy: new Float32Array(n), sz: new Float32Array(n),
    vx: new Float32Array(n), vy: new Float32Array(n), vz: new Float32Array(n),
  };
  const cy = Math.cos(cam.yaw), sy = Math.sin(cam.yaw), cp = Math.cos(cam.pitch), sp = Math.sin(cam.pitch);
  const scale = (Math.min(w, h) / 2.6) * cam.zoom;
  const p = mesh.pts;
  for (let i = 0; i < n; i++) {
    const x = p[i * 3], y = p[i * 3 + 1], z = p[i * 3 + 2];
    const x1 = x * cy - z * sy, z1 = x * sy + z * cy;
    const y2 = y * cp - z1 * sp, z2 = y * sp + z1 * cp;
    const persp = 3 / (3 + z2);
    out.vx[i] = x1;
    out.vy[i] = y2;
    out.vz[i] = z2;
    out.sx[i] = w / 2 + x1 * scale * persp;
    out.sy[i] = h / 2 - y2 * scale * persp;
    out.sz[i] = z2;
  }
  return out;
}

export interface Frame {
  w: number;
  h: number;
  /** RGBA, w*h*4; pixels not drawn stay transparent */
  rgba: Uint8ClampedArray<ArrayBuffer>;
  depth: Float32Array;
}

export function newFrame(w: number, h: number): Frame {
  return { w, h, rgba: new Uint8ClampedArray(new ArrayBuffer(w * h * 4)), depth: new Float32Array(w * h).fill(Infinity) };
}

/** Draw `mesh` into `frame` (cleared first); `base` is the colour of a mesh without colours.
 * Returns the number of pixels written. */
export function rasterize(frame: Frame, mesh: Mesh, pr: Projected, base: [number, number, number], pointSize = 2): number {
  const { w, h, rgba, depth } = frame;
  rgba.fill(0);
  depth.fill(Infinity);
  const col = mesh.colors;
  let written = 0;
  if (!mesh.faces || mesh.faceCount === 0) {
    const r = Math.max(1, Math.round(pointSize));
    for (let i = 0; i < mesh.vertexCount; i++) {
      const x0 = Math.round(pr.sx[i] - r / 2), y0 = Math.round(pr.sy[i] - r / 2), z = pr.sz[i];
      const cr = col ? col[i * 3] : base[0], cg = col ? col[i * 3 + 1] : base[1], cb = col ? col[i * 3 + 2] : base[2];
      for (let y = Math.max(0, y0); y < Math.min(h, y0 + r); y++) {
        for (let x = Math.max(0, x0); x < Math.min(w, x0 + r); x++) {
          const k = y * w + x;
          if (z >= depth[k]) continue;
          if (depth[k] === Infinity) written++;
          depth[k] = z;
          rgba[k * 4] = cr; rgba[k * 4 + 1] = cg; rgba[k * 4 + 2] = cb; rgba[k * 4 + 3] = 255;
        }
      }
    }
    return written;
  }
  const f = mesh.faces;
  const { sx, sy, sz, vx, vy, vz } = pr;
  for (let t = 0; t < f.length; t += 3) {
    const a = f[t], b = f[t + 1], c = f[t + 2];
    // two-sided Lambert shade from the view-space normal (light from the viewer)
    const ux = vx[b] - vx[a], uy = vy[b] - vy[a], uz = vz[b] - vz[a];
    const wx = vx[c] - vx[a], wy = vy[c] - vy[a], wz = vz[c] - vz[a];
    const nx = uy * wz - uz * wy, ny = uz * wx - ux * wz, nz = ux * wy - uy * wx;
    const nl = Math.hypot(nx, ny, nz);
    const shade = nl > 0 ? 0.35 + 0.65 * Math.abs(nz) / nl : 0.35;
    const ax = sx[a], ay = sy[a], bx = sx[b], by = sy[b], cx = sx[c], cy = sy[c];
    const area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
    if (area === 0 || !Number.isFinite(area)) continue;
    const minX = Math.max(0, Math.floor(Math.min(ax, bx, cx))), maxX = Math.min(w - 1, Math.ceil(Math.max(ax, bx, cx)));
    const minY = Math.max(0, Math.floor(Math.min(ay, by, cy))), maxY = Math.min(h - 1, Math.ceil(Math.max(ay, by, cy)));
    if (minX > maxX || minY > maxY) continue;
    const inv = 1 / area;
    const za = sz[a], zb = sz[b], zc = sz[c];
    const ra = col ? col[a * 3] : base[0], ga = col ? col[a * 3 + 1] : base[1], ba = col ? col[a * 3 + 2] : base[2];
    const rb = col ? col[b * 3] : base[0], gb = col ? col[b * 3 + 1] : base[1], bb = col ? col[b * 3 + 2] : base[2];
    const rc = col ? col[c * 3] : base[0], gc = col ? col[c * 3 + 1] : base[1], bc = col ? col[c * 3 + 2] : base[2];
    for (let y = minY; y <= maxY; y++) {
      const py = y + 0.5;
      for (let x = minX; x <= maxX; x++) {
        const px = x + 0.5;
        // barycentric weights (signed areas), inside when all share the triangle's sign
        const w0 = ((bx - px) * (cy - py) - (by - py) * (cx - px)) * inv;
        const w1 = ((cx - px) * (ay - py) - (cy - py) * (ax - px)) * inv;
        const w2 = 1 - w0 - w1;
        if (w0 < 0 || w1 < 0 || w2 < 0) continue;
        const z = w0 * za + w1 * zb + w2 * zc;
        const k = y * w + x;
        if (z >= depth[k]) continue;
        if (depth[k] === Infinity) written++;
        depth[k] = z;
        const o = k * 4;
        rgba[o] = (w0 * ra + w1 * rb + w2 * rc) * shade;
        rgba[o + 1] = (w0 * ga + w1 * gb + w2 * gc) * shade;
        rgba[o + 2] = (w0 * ba + w1 * bb + w2 * bc) * shade;
        rgba[o + 3] = 255;
      }
    }
  }
  return written;
}
