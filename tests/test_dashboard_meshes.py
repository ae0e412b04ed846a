"""The Meshes tab in real Chromium on a real server (issue 11, meshes).

Logs are written with tensorboardX `add_mesh`; the server is the real CLI (`start_server`);
Debian's Chromium runs the committed dashboard through Playwright (`page` from
tests/browser_fixtures.py). What is drawn is read back from the mesh canvas's pixels.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import numpy as np
from playwright.sync_api import Page, expect
from tensorboardX import SummaryWriter

from tests.browser_support import frames, open_tab, run_rgb, screenshots, write_scalars

shot = screenshots("meshes")
_files = itertools.count()

CUBE = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], np.float32)[None]
CUBE_FACES = np.array([[[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                        [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]]], np.int32)
RED = (230, 40, 40)
GREEN = (40, 200, 60)
XSS = '<img src=x onerror="window.__xss=1">'


def cube_colors(rgb) -> np.ndarray:
    return np.tile(np.array(rgb, np.uint8), (1, 8, 1))


def sphere(n_lat: int, n_lon: int) -> tuple[np.ndarray, np.ndarray]:
    """A UV sphere: n_lat * n_lon vertices and ~2 faces per vertex."""
    th, ph = np.meshgrid(np.linspace(0.05, np.pi - 0.05, n_lat), np.linspace(0, 2 * np.pi, n_lon, endpoint=False), indexing="ij")
    v = np.stack([np.sin(th) * np.cos(ph), np.cos(th), np.sin(th) * np.sin(ph)], -1).reshape(-1, 3).astype(np.float32)
    i, j = np.meshgrid(np.arange(n_lat - 1), np.arange(n_lon), indexing="ij")
    a, b = i * n_lon + j, i * n_lon + (j + 1) % n_lon
    c, d = a + n_lon, b + n_lon
    f = np.concatenate([np.stack([a, b, d], -1).reshape(-1, 3), np.stack([a, d, c], -1).reshape(-1, 3)]).astype(np.int32)
    return v[None], f[None]


def add_mesh(logs: Path, run: str, tag: str, step: int, vertices, faces=None, colors=None) -> None:
    """One mesh written now into a new event file of `run`, closed at once."""
    w = SummaryWriter(str(logs / run), filename_suffix=f".m{next(_files)}")
    w.add_mesh(tag, vertices, colors=colors, faces=faces, global_step=step)
    w.close()


def block(page: Page, run: str, tag: str) -> str:
    """A JS expression for the mesh block of (run, tag), found by its data attributes (the tag
    may hold any character, so no CSS selector is built from it)."""
    return (f"[...document.querySelectorAll('.mesh-block')].find(b => b.dataset.run === {json.dumps(run)} "
            f"&& b.dataset.tag === {json.dumps(tag)})")


# Drawn pixels of the block's canvas: count, and how many lie within `tol` of the hue of rgb
# (the face shading scales all three channels alike), plus a digest of the pixels.
_PIXELS = """([expr, rgb, tol]) => {
  const b = eval(expr); const c = b && b.querySelector('canvas.mesh-canvas');
  if (!c || !c.dataset.rendered) return null;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let drawn = 0, hue = 0, digest = 0;
  const m = Math.max(...rgb);
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] === 0) continue;
    drawn++;
    digest = (digest * 31 + d[i] * 7 + d[i + 1] * 3 + d[i + 2] + i) % 1000000007;
    const k = Math.max(d[i], d[i + 1], d[i + 2]) / m;
    if ([0, 1, 2].every(j => Math.abs(d[i + j] - rgb[j] * k) <= tol)) hue++;
  }
  return { drawn, hue, digest, step: b.dataset.step, steps: b.dataset.steps, vertices: b.dataset.vertices,
           faces: b.dataset.faces, rendered: c.dataset.rendered, drawMs: Number(c.dataset.drawMs) };
}"""


def pixels(page: Page, run: str, tag: str, rgb=(0, 0, 0), tol: int = 6) -> dict | None:
    return page.evaluate(_PIXELS, [block(page, run, tag), list(rgb), tol])


def wait_mesh(page: Page, run: str, tag: str, step: int, timeout: float = 30000) -> dict:
    """Scroll the block into view, wait until the mesh of `step` is drawn; its pixels."""
    page.wait_for_function(f"() => !!({block(page, run, tag)})", timeout=timeout)
    page.evaluate(f"() => ({block(page, run, tag)}).scrollIntoView({{block: 'center'}})")
    page.wait_for_function(
        f"() => {{ const b = {block(page, run, tag)}; const c = b && b.querySelector('canvas.mesh-canvas');"
        f" return b.dataset.step === '{step}' && c && c.dataset.rendered && Number(c.dataset.pixels) > 0; }}",
        timeout=timeout)
    frames(page)
    got = pixels(page, run, tag)
    assert got is not None
    return got


def test_meshes_tab_draws_vertex_colours_rotates_zooms_and_shows_names_as_text(tmp_path, start_server, page: Page) -> None:
    logs = tmp_path / "logs"
    add_mesh(logs, "train", "cube", 1, CUBE, CUBE_FACES, cube_colors(RED))
    add_mesh(logs, "train", "cloud", 2, np.random.default_rng(3).uniform(-1, 1, (1, 500, 3)).astype(np.float32))
    add_mesh(logs, "train", XSS, 1, CUBE, CUBE_FACES, cube_colors(GREEN))
    open_tab(page, start_server(logs), "meshes")
    expect(page.locator('.tab[data-tab="meshes"]')).not_to_have_class("tab empty")

    cube = wait_mesh(page, "train", "cube", 1)
    assert (cube["vertices"], cube["faces"]) == ("8", "12")
    assert cube["drawn"] > 5000, cube
    assert pixels(page, "train", "cube", RED)["hue"] >= 0.97 * cube["drawn"]  # in the vertex colour, shaded
    shot(page, "cube")

    # drag to rotate: other pixels; wheel to zoom in: more of them
    canvas = page.locator(".mesh-block[data-run='train'][data-tag='cube'] canvas.mesh-canvas")
    box = canvas.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 60, cy + 25, steps=5)
    page.mouse.up()
    page.wait_for_function(f"() => ({block(page, 'train', 'cube')}).querySelector('canvas').dataset.rendered !== '{cube['rendered']}'")
    frames(page)
    turned = pixels(page, "train", "cube", RED)
    assert turned["digest"] != cube["digest"] and turned["hue"] >= 0.97 * turned["drawn"]
    page.mouse.move(cx, cy)
    page.mouse.wheel(0, -400)
    page.wait_for_function(f"() => ({block(page, 'train', 'cube')}).querySelector('canvas').dataset.rendered !== '{turned['rendered']}'")
    frames(page)
    assert pixels(page, "train", "cube")["drawn"] > 1.3 * turned["drawn"]

    # a point cloud without colours is drawn in its run's colour
    cloud = wait_mesh(page, "train", "cloud", 2)
    assert cloud["faces"] == "0" and cloud["vertices"] == "500"
    assert pixels(page, "train", "cloud", run_rgb(page, "train"), tol=3)["hue"] == cloud["drawn"] > 500

    # a tag made of markup is a name, shown as text
    xss = wait_mesh(page, "train", XSS, 1)
    assert pixels(page, "train", XSS, GREEN)["hue"] >= 0.97 * xss["drawn"]
    title = page.evaluate(f"() => ({block(page, 'train', XSS)}).closest('.mesh-card').querySelector('.card-title').textContent")
    assert title == XSS
    assert page.evaluate("() => window.__xss") is None
    assert page.locator(".mesh-card img").count() == 0


def test_meshes_arrive_live_without_reload(tmp_path, start_server, page: Page) -> None:
    logs = tmp_path / "logs"
    write_scalars(logs, "train", [("loss", 0, 1.0, time.time())])
    open_tab(page, start_server(logs), "meshes")
    note = page.locator("#main .empty-note")
    expect(note).to_have_text("No meshes in these runs yet; tensorboardX add_mesh / tensorboard.plugins.mesh "
                               "write them (vertices, faces and vertex colours).")

    add_mesh(logs, "train", "body", 1, CUBE, CUBE_FACES, cube_colors(RED))  # a new mesh: a new card
    first = wait_mesh(page, "train", "body", 1)
    expect(note).to_be_hidden()
    assert pixels(page, "train", "body", RED)["hue"] >= 0.97 * first["drawn"]

    flat = CUBE * np.array([1, 0.3, 1], np.float32)  # the view fits the longest side: flatten it
    add_mesh(logs, "train", "body", 2, flat, CUBE_FACES, cube_colors(GREEN))  # a new step of it
    second = wait_mesh(page, "train", "body", 2)
    assert second["steps"] == "2" and second["drawn"] < first["drawn"]
    assert pixels(page, "train", "body", GREEN)["hue"] >= 0.97 * second["drawn"]
    # the slider goes back to step 1
    page.locator(".mesh-block[data-tag='body'] input.step-slider").fill("0")
    back = wait_mesh(page, "train", "body", 1)
    assert pixels(page, "train", "body", RED)["hue"] >= 0.97 * back["drawn"]
    assert page.evaluate("() => performance.getEntriesByType('navigation').length") == 1  # never reloaded


def test_a_100k_vertex_mesh_draws(tmp_path, start_server, page: Page) -> None:
    logs = tmp_path / "logs"
    v, f = sphere(250, 400)  # 100,000 vertices, 199,200 faces
    colors = ((v * 0.5 + 0.5) * 255).astype(np.uint8)
    add_mesh(logs, "big", "sphere", 0, v, f, colors)
    server = start_server(logs)
    t0 = time.perf_counter()
    open_tab(page, server, "meshes")
    got = wait_mesh(page, "big", "sphere", 0, timeout=60000)
    first_draw = time.perf_counter() - t0
    assert (got["vertices"], got["faces"]) == ("100000", "199200")
    assert got["drawn"] > 20000
    print(f"100k-vertex mesh: page open to first draw {first_draw:.2f} s, one draw {got['drawMs']:.0f} ms")
    shot(page, "sphere")
