"""Issue 11, "Broken": what a user sees in the dashboard, in real Chromium on a real server.

Logs are written by tensorboardX. Chromium is Debian's `/usr/bin/chromium` driven by Playwright
for Python. Colours are read from the pixels of the chart canvas, not from the code.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser_support import (
    dashboard_server,
    hex_rgb,
    open_tab,
    run_hex,
    screenshots,
    wait_drawn,
    with_plot_area,
)

WALL0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC: a 4-hour run crosses midnight (the page runs in UTC)

# Run names that collided under the old name hash (modulo 20): seen in the issue.
CMP = ("lr_0.01/loss_compare_val", "lr_0.05/loss_compare_val")
DEMO = ("train/lr=0.1", "train/lr=1.0")
LONG_TAG = "hparams/validation_accuracy_top5_after_warmup_and_cosine_decay"


def write_logs(root: Path) -> None:
    from tensorboardX import SummaryWriter

    rng = np.random.default_rng(0)
    for runs, tag in ((CMP, "cmp"), (DEMO, "demo")):
        for level, run in enumerate(runs, start=1):
            w = SummaryWriter(str(root / run))
            for step in range(40):
                w.add_scalar(tag, float(level), step, walltime=WALL0 + 60 * step)  # flat lines at 1 and 2
            if runs is DEMO:
                w.add_scalar(LONG_TAG, 0.5 + 0.01 * level, 0, walltime=WALL0)
                for step in range(240):  # 4 hours of minutes; small values for the log-y axis
                    w.add_scalar("lr/small", 1e-4 * (1 + 4 * step / 240) * level, step, walltime=WALL0 + 60 * step)
                for step in (0, 10):
                    w.add_histogram("weights", rng.normal(level, 1, 300), step, walltime=WALL0 + step)
            w.close()
    import torch
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    model = torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU()), torch.nn.Flatten(),
                                torch.nn.Linear(4, 2))  # Flatten: two prim::Constant (start_dim, end_dim)
    gw = TorchWriter(str(root / "model"))
    gw.add_graph(model, torch.zeros(1, 4))
    gw.close()
    # The 2.7k-node graph: 300 nested blocks.
    big = torch.nn.Sequential(*[torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU()) for _ in range(300)])
    gw = TorchWriter(str(root / "zbigmodel"))
    gw.add_graph(big, torch.zeros(1, 4))
    gw.close()


@pytest.fixture(scope="module")
def logdir(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Path:
    """One per backend: a test adds a run to it, which the other backend's pass must not see."""
    root = tmp_path_factory.mktemp("issue11logs")
    write_logs(root)
    return root


@pytest.fixture(scope="module")
def server(logdir: Path, tmp_path_factory: pytest.TempPathFactory, backend: str):
    with dashboard_server(logdir, tmp_path_factory.mktemp("issue11data")) as srv:
        yield srv


shot = screenshots("issue11")


def wait_chart(page: Page, tag: str, runs) -> None:
    """Scroll the chart of `tag` to the middle of the view and wait until `runs` are drawn."""
    wait_drawn(page, f'.scalar-card[data-tag="{tag}"]', runs, center=True)


# The dominant saturated colour of the upper and lower half of a chart's plot area (the line at
# value 2 is in the upper half, the one at value 1 in the lower half), read from the canvas.
_LINE_COLOURS = with_plot_area("""
(tag) => {
  const card = [...document.querySelectorAll('.scalar-card')].find(e => e.dataset.tag === tag);
  const { ctx, x0, y0, w, h } = plotArea(card);
  const img = ctx.getImageData(x0, y0, w, h).data;
  const halves = [new Map(), new Map()];
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = 4 * (y * w + x), r = img[i], g = img[i + 1], b = img[i + 2], a = img[i + 3];
    if (a < 250 || Math.max(r, g, b) - Math.min(r, g, b) < 40) continue;  // background, grid, axes
    const key = `${r},${g},${b}`, m = halves[y < h / 2 ? 0 : 1];
    m.set(key, (m.get(key) || 0) + 1);
  }
  return halves.map(m => { let best = null, n = 0; for (const [c, v] of m) if (v > n) { best = c; n = v; }
    return best ? { rgb: best.split(',').map(Number), pixels: n } : null; });
}
""")


def line_colours(page: Page, tag: str) -> tuple[list[int], list[int]]:
    upper, lower = page.evaluate(_LINE_COLOURS, tag)
    assert upper and lower, (tag, upper, lower)
    assert upper["pixels"] > 50 and lower["pixels"] > 50, (upper, lower)
    return upper["rgb"], lower["rgb"]


def dist(a, b) -> float:
    return math.dist(a, b)


# ----------------------------------------------------------------------------------------------
# 1. Run colours


def test_runs_of_one_chart_are_drawn_in_distinct_colours(page: Page, server) -> None:
    open_tab(page, server)
    for tag, (low, high) in (("cmp", CMP), ("demo", DEMO)):
        wait_chart(page, tag, (low, high))
        upper, lower = line_colours(page, tag)
        assert dist(upper, lower) > 60, (tag, upper, lower)  # distinct, not two shades of one colour
        # The drawn colours are the runs' colours of the run list.
        assert dist(upper, hex_rgb(run_hex(page, high))) < 30, (upper, run_hex(page, high))
        assert dist(lower, hex_rgb(run_hex(page, low))) < 30, (lower, run_hex(page, low))
    colours = [run_hex(page, r) for r in (*CMP, *DEMO)]
    assert len(set(colours)) == 4, colours
    shot(page, "colours")


def test_colour_is_the_same_in_every_view_and_the_users_choice_is_kept(page: Page, server) -> None:
    open_tab(page, server)
    wait_chart(page, "demo", DEMO)
    page.locator(f'.run-row[data-run-row="{DEMO[0]}"] input.run-color').fill("#00c000")
    page.wait_for_function("() => true")
    wait_chart(page, "demo", DEMO)
    page.wait_for_function(f"() => (() => {{ const r = ({_LINE_COLOURS})('demo')[1]; return r && r.rgb[1] > 150 && r.rgb[0] < 60; }})()",
                           timeout=10000)
    # Reload: the choice and the other colours are kept; the histogram view uses them too.
    before = {r: run_hex(page, r) for r in (*CMP, *DEMO)}
    open_tab(page, server)
    wait_chart(page, "demo", DEMO)
    assert {r: run_hex(page, r) for r in (*CMP, *DEMO)} == before
    assert before[DEMO[0]] == "#00c000"
    upper, lower = line_colours(page, "demo")
    assert dist(lower, [0, 0xC0, 0]) < 30, lower
    page.goto(f"{server.url}/?smoothing=0#histograms")
    for run in DEMO:
        sw = page.locator(f'.histogram-card[data-tag="weights"] .subchart[data-run="{run}"] .swatch')
        expect(sw).to_have_count(1, timeout=10000)
        bg = sw.evaluate("e => getComputedStyle(e).backgroundColor")
        assert bg == "rgb({}, {}, {})".format(*hex_rgb(before[run])), (run, bg, before[run])


# ----------------------------------------------------------------------------------------------
# 2. Chart titles


def test_long_chart_titles_are_readable_and_downloads_are_labelled(page: Page, server) -> None:
    open_tab(page, server)
    card = page.locator(f'.scalar-card[data-tag="{LONG_TAG}"]')
    expect(card).to_be_visible(timeout=20000)
    title = card.locator(".card-title")
    expect(title).to_have_text(LONG_TAG)
    expect(title).to_have_attribute("title", LONG_TAG)
    # Nothing of the title is cut off: its box holds all of its text.
    clipped = title.evaluate("e => e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1")
    assert not clipped
    box = title.bounding_box()
    for btn in card.locator(".card-head button").all():
        b = btn.bounding_box()
        assert b["x"] >= box["x"] + box["width"] - 1 or b["y"] >= box["y"] + box["height"] - 1  # no overlap
    # Downloads: a labelled control, outside the title row.
    select = page.get_by_label("run to download").and_(card.locator("select"))
    expect(select).to_have_count(1)
    expect(card.locator(".card-head select")).to_have_count(0)
    expect(card.locator(".export-csv")).to_be_visible()
    shot(page, "titles")


# ----------------------------------------------------------------------------------------------
# 3. Axis labels

# Darkest pixel in the canvas' two leftmost columns: axis text cut at the left edge shows there.
_LEFT_EDGE_INK = """
(tag) => {
  const card = [...document.querySelectorAll('.scalar-card')].find(e => e.dataset.tag === tag);
  const c = card.querySelector('canvas');
  const d = c.getContext('2d').getImageData(0, 0, 2, c.height).data;
  let ink = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0) ink = Math.max(ink, d[i + 3] * (255 - Math.min(d[i], d[i + 1], d[i + 2])) / 255);
  return ink;
}
"""


def test_log_y_labels_are_not_clipped_and_wall_time_ticks_say_hour_and_date(page: Page, server) -> None:
    open_tab(page, server)
    wait_chart(page, "lr/small", DEMO)
    page.check("#log-y")
    card = page.locator('.scalar-card[data-tag="lr/small"]')
    page.wait_for_function("() => true")
    wait_chart(page, "lr/small", DEMO)
    page.wait_for_timeout(300)
    shot(page, "log-y")
    assert page.evaluate(_LEFT_EDGE_INK, "lr/small") < 40, "axis text cut at the left edge"
    ticks = json.loads(card.get_attribute("data-y-ticks") or "[]")
    shown = [t for t in ticks if t]
    assert len(shown) >= 3 and all(1e-4 <= float(t) <= 2e-3 and len(t) <= 6 for t in shown), ticks  # "1e-4", "0.001"
    size = float(card.get_attribute("data-y-axis-size"))
    widths = page.evaluate(
        "(ls) => { const c = document.createElement('canvas').getContext('2d');"
        " c.font = '12px system-ui, -apple-system, \"Segoe UI\", Roboto, \"Helvetica Neue\", sans-serif';"
        " return ls.map(l => c.measureText(l).width); }", ticks)
    assert max(widths) + 15 <= size, (ticks, widths, size)

    page.uncheck("#log-y")
    page.select_option("#x-mode", "wall")
    page.wait_for_function(
        "() => { const c = [...document.querySelectorAll('.scalar-card')].find(e => e.dataset.tag === 'lr/small');"
        " return c && c.dataset.xTicks && JSON.parse(c.dataset.xTicks).some(t => /\\d\\d:\\d\\d/.test(t)); }",
        timeout=10000)
    xt = json.loads(card.get_attribute("data-x-ticks"))
    shot(page, "wall-time")
    assert all(re_hm(t) for t in xt if t), xt
    assert "Nov 14" in xt[0], xt  # the first tick has the date
    assert any("Nov 15" in t for t in xt), xt  # and so does the tick after midnight
    page.select_option("#x-mode", "step")


def re_hm(label: str) -> bool:
    return re.match(r"^\d\d:\d\d", label) is not None


# ----------------------------------------------------------------------------------------------
# 4. Filters


def test_run_and_tag_filters_typed_together_both_apply(page: Page, server) -> None:
    open_tab(page, server)
    wait_chart(page, "demo", DEMO)
    # Both edits inside one debounce window (one task): each filter has its own timer.
    page.evaluate("""() => {
      for (const [id, v] of [['run-filter', 'lr=1\\\\.0'], ['tag-filter', '^demo$']]) {
        const el = document.getElementById(id); el.value = v; el.dispatchEvent(new Event('input', {bubbles: true}));
      }
    }""")
    expect(page.locator(".scalar-card")).to_have_count(1, timeout=5000)
    expect(page.locator('.scalar-card[data-tag="demo"]')).to_have_attribute("data-runs", "1", timeout=5000)
    expect(page.locator(f'.run[data-run="{DEMO[0]}"]')).to_be_hidden()
    expect(page.locator(f'.run[data-run="{DEMO[1]}"]')).to_be_visible()


# ----------------------------------------------------------------------------------------------
# 5. Ordering


def test_a_run_created_while_the_page_is_open_takes_its_sorted_place(page: Page, server, logdir: Path) -> None:
    from tensorboardX import SummaryWriter

    open_tab(page, server, "histograms")
    card = page.locator('.histogram-card[data-tag="weights"]')
    expect(card.locator(".subchart")).to_have_count(2, timeout=15000)
    late = "train/lr=0.5"
    w = SummaryWriter(str(logdir / late))
    w.add_histogram("weights", np.random.default_rng(5).normal(0.5, 1, 300), 0, walltime=WALL0)
    w.add_scalar("demo", 1.5, 0, walltime=WALL0)
    w.close()
    expect(card.locator(".subchart")).to_have_count(3, timeout=15000)
    order = [e.get_attribute("data-run") for e in card.locator(".subchart").all()]
    assert order == ["train/lr=0.1", late, "train/lr=1.0"], order
    runs = [e.get_attribute("data-run") for e in page.locator(".run").all()]
    assert runs == [*CMP, "model", "train/lr=0.1", late, "train/lr=1.0", "zbigmodel"], runs
    # Its colour is a free one: distinct from every other run's.
    colours = [run_hex(page, r) for r in runs]
    assert len(set(colours)) == len(colours), colours
    shot(page, "late-run")


# ----------------------------------------------------------------------------------------------
# 7. Empty tabs


EMPTY = {  # tab -> words the note must hold: what is missing, and what writes it
    "images": ("No images", "add_image"),
    "audio": ("No audio", "add_audio"),
    "text": ("No text", "add_text"),
    "hparams": ("No hyperparameters", "add_hparams"),
    "projector": ("No embeddings", "add_embedding"),
    "exceptions": ("No exception tensors", "add_exception"),
}


def test_empty_tabs_say_what_is_missing_and_where_it_comes_from(page: Page, server) -> None:
    open_tab(page, server)
    note = page.locator("#main .empty-note")
    expect(page.locator(".scalar-card").first).to_be_visible(timeout=20000)
    expect(note).to_be_hidden()
    for tab, words in EMPTY.items():
        open_tab(page, server, tab)
        expect(note).to_be_visible(timeout=10000)
        for w in words:
            expect(note).to_contain_text(w)
    shot(page, "empty-tab")
    # Data hidden by the run filter or the tag filter: the note says so.
    open_tab(page, server, "histograms")
    expect(page.locator(".histogram-card").first).to_be_visible(timeout=10000)
    expect(note).to_be_hidden()
    page.fill("#run-filter", "^lr_")
    expect(note).to_contain_text("No histograms in the selected runs", timeout=5000)
    expect(note).to_contain_text("run filter")
    page.fill("#run-filter", "")
    page.fill("#tag-filter", "^nothing-matches$")
    expect(note).to_contain_text('No histograms tag matches the tag filter "^nothing-matches$"', timeout=5000)
    page.fill("#tag-filter", "")
    expect(note).to_be_hidden(timeout=5000)
    expect(page.locator(".histogram-card").first).to_be_visible()


# ----------------------------------------------------------------------------------------------
# Graph: the details pane follows what is drawn


def test_graph_details_never_describe_a_node_no_longer_drawn(page: Page, server) -> None:
    open_tab(page, server, "graphs")
    graph = page.locator(".graph-canvas")
    expect(graph).to_have_attribute("data-rendered", re.compile(r"\d+"), timeout=20000)
    page.fill(".graph-search", "Linear")
    page.press(".graph-search", "Enter")
    details = page.locator(".graph-details")
    expect(details).to_have_attribute("data-node", re.compile("Linear"), timeout=10000)
    hit = details.get_attribute("data-node")
    assert "/" in hit, hit  # inside a name scope
    page.get_by_role("button", name="collapse all").click()
    expect(details).not_to_have_attribute("data-node", hit, timeout=5000)
    box = details.get_attribute("data-node")
    assert box and hit.startswith(box + "/"), (hit, box)  # the collapsed scope it went into
    expect(details.locator("h4")).to_have_text(box.split("/")[-1])


# Boxes of the drawn graph (from the chart's own data) that overlap while neither holds the other.
_GRAPH_OVERLAPS = """
(el) => {
  const opt = window.tsvisLive.echarts.getInstanceByDom(el).getOption();
  const boxes = opt.series[0].data.map(d => ({ id: d.id, open: d.open, x: d.value[0], y: d.value[1], w: d.value[2], h: d.value[3] }));
  const holds = (a, b) => a.open && b.id.startsWith(a.id + '/');
  boxes.sort((a, b) => a.x - b.x);
  const bad = [], active = [];
  for (const b of boxes) {
    for (let k = active.length - 1; k >= 0; k--) if (active[k].x + active[k].w <= b.x + 0.5) active.splice(k, 1);
    for (const a of active) {
      const ix = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x), iy = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
      if (ix > 0.5 && iy > 0.5 && !holds(a, b) && !holds(b, a)) bad.push([a.id, b.id]);
    }
    active.push(b);
  }
  return { boxes: boxes.length, open: boxes.filter(b => b.open).length, bad: bad.slice(0, 10), nbad: bad.length };
}
"""


def test_graph_boxes_never_overlap_at_any_expansion(page: Page, server) -> None:
    open_tab(page, server, "graphs")
    page.select_option(".graph-run", "zbigmodel")
    graph = page.locator(".graph-canvas")
    page.wait_for_function("() => +document.querySelector('.graph-canvas').dataset.total > 2000", timeout=30000)
    el = graph.element_handle()
    seen = []
    for step in ("start", "expand one level", "expand one level", "expand all"):
        if step != "start":
            before = graph.get_attribute("data-boxes")
            page.get_by_role("button", name=step).click()
            page.wait_for_function("n => document.querySelector('.graph-canvas').dataset.boxes !== n", arg=before,
                                   timeout=60000)
        page.wait_for_function("() => document.querySelector('.graph-canvas').dataset.rendered", timeout=30000)
        r = page.evaluate(_GRAPH_OVERLAPS, el)
        seen.append((step, r["boxes"], r["open"], int(graph.get_attribute("data-layout-ms"))))
        assert r["nbad"] == 0, (step, r)
    total = int(graph.get_attribute("data-total"))
    assert seen[-1][1] == total, (seen, total)  # everything drawn once expanded
    print("graph boxes / open scopes / layout ms:", seen)
    shot(page, "graph-expanded")


def test_graph_constants_are_folded_into_their_op(page: Page, server) -> None:
    open_tab(page, server, "graphs")
    expect(page.locator('.graph-run option[value="model"]')).to_have_count(1, timeout=60000)
    page.select_option(".graph-run", "model")
    graph = page.locator(".graph-canvas")
    page.wait_for_function("() => { const d = document.querySelector('.graph-canvas').dataset;"
                           " return d.rendered && d.total && +d.total < 100; }", timeout=60000)
    # "expand all", until the expanded model is what is drawn: in a CI rehearsal (2026-12-03) the click
    # changed nothing within 20 s, as if it met a graph drawn just before (the page's first run)
    # or the model was drawn again collapsed right after; either way a second click settles it
    ops: list = []
    for _attempt in range(3):
        before = graph.get_attribute("data-boxes")
        page.get_by_role("button", name="expand all").click()
        try:
            page.wait_for_function("n => document.querySelector('.graph-canvas').dataset.boxes !== n", arg=before,
                                   timeout=10000)
        except PlaywrightTimeoutError:
            continue
        ops = page.evaluate("el => window.tsvisLive.echarts.getInstanceByDom(el).getOption().series[0].data"
                            ".map(d => d.op)", graph.element_handle())
        if "aten::flatten" in ops:
            break
    assert "aten::flatten" in ops, ops
    assert "prim::Constant" not in ops, ops
    page.fill(".graph-search", "Flatten[1]/input")
    page.press(".graph-search", "Enter")
    details = page.locator(".graph-details")
    expect(details).to_have_attribute("data-node", re.compile(r"Flatten\[1\]/input$"), timeout=5000)
    expect(details.locator(".graph-folded li")).to_have_count(2)
    expect(details.locator(".graph-folded")).to_contain_text("value : 1")
    shot(page, "graph-model")
