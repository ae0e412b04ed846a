"""Issue 11, "Beyond TensorBoard" and the rest of "Missing", in real Chromium on a real server.

Live alerts (NaN/Inf, a threshold set on a chart, a run that stops writing), a resumed run's
earlier writes, pinned charts, the hparams scatter matrix and the projector's sprite
thumbnails. Each test writes its logs with tensorboardX (TensorBoard's builders for TF2
hparams), starts the real CLI (`start_server`) and drives Debian's `/usr/bin/chromium` with
Playwright; live data is written by a real writer while the page is open. What is drawn is read
back from the page: the DOM, canvas pixels, the charts' own options.
"""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

import numpy as np
from playwright.sync_api import Page, expect

from tests.browser_support import (
    frames,
    hex_rgb,
    open_tab,
    run_hex,
    run_rgb,
    screenshots,
    wait_drawn,
    wait_ready,
    with_plot_area,
    write_live,
    write_scalars,
    write_tf2_hparams,
)

WALL0 = 1_700_000_000.0
HOSTILE = '<img src=x onerror="window.__xss=1">'  # a run name (a directory name) that is HTML
shot = screenshots("beyond")


def run_row(page: Page, run: str):
    return page.locator(".run-row").filter(has=page.get_by_title(run, exact=True))


def alert_items(page: Page) -> list[list[str]]:
    return page.eval_on_selector_all("#alerts .alert-item", "es => es.map(e => [e.dataset.kind, e.dataset.run, e.dataset.tag])")


# ----------------------------------------------------------------------------------------------
# 1. Live alerts

ALERT_RUNS = ("exp/lr_0.1", HOSTILE)


def test_live_alerts_nan_and_threshold_badge_and_notice_appear_at_once(tmp_path, start_server, page: Page) -> None:
    logs = tmp_path / "logs"
    for i, run in enumerate(ALERT_RUNS):
        write_scalars(logs, run, [(tag, s, v, WALL0 + s) for s in range(20) for tag, v in
                                  (("train/loss", 2.0 * math.exp(-s / 8) + 0.1 * i), ("train/acc", 0.5 + 0.35 * s / 19))])
    server = start_server(logs)
    # Another tab: no scalar chart subscribes, so only the run watcher (one series per run) hears.
    open_tab(page, server, "histograms")
    expect(page.locator("body")).to_have_attribute("data-watched-runs", "2", timeout=20000)
    expect(page.locator("#alerts")).to_be_hidden()

    t0 = time.monotonic()
    write_live(logs, HOSTILE, "train/loss", 20, float("nan"))
    badge = run_row(page, HOSTILE).locator(".run-alert")
    expect(badge).to_have_text("NaN", timeout=10000)
    latency = time.monotonic() - t0
    notice = page.locator("#alerts")
    expect(notice).to_be_visible()
    item = notice.locator('.alert-item[data-kind="nan"]')
    expect(item).to_have_count(1)
    assert item.get_attribute("data-run") == HOSTILE and item.get_attribute("data-tag") == "train/loss"
    expect(item.locator(".alert-run")).to_have_text(HOSTILE)  # the name as text, nothing run
    expect(item.locator(".alert-detail")).to_have_text("NaN at step 20")
    expect(run_row(page, ALERT_RUNS[0]).locator(".run-alert")).to_have_count(0)
    assert page.evaluate("() => window.__xss") is None
    assert page.title().startswith("⚠ 1 · ")
    print(f"NaN written (the writer opened, wrote, closed) -> badge and notice after {latency:.2f} s")
    assert latency < 8, latency
    shot(page, "alert-nan")

    # Clicking the notice goes to the chart (another tab: the Scalars tab opens).
    item.locator(".alert-go").click()
    card = page.locator('.view-scalars .groups .scalar-card[data-tag="train/loss"]')
    expect(card).to_have_class(re.compile(r"\balert-flash\b"), timeout=10000)
    assert page.evaluate("() => location.hash") == "#scalars"
    box = card.bounding_box()
    assert box is not None and 0 <= box["y"] + box["height"] / 2 <= 900, box  # scrolled into view
    # A chart the filters hide: the notice says why it cannot go there.
    page.fill("#tag-filter", "acc")
    expect(card).to_have_count(0)
    item.locator(".alert-go").click()
    expect(notice.locator(".alerts-hint")).to_have_text(
        "The chart of train/loss is not shown: its run is switched off, or the run or tag filter hides it.", timeout=10000)
    page.fill("#tag-filter", "")
    item.locator(".alert-dismiss").click()
    expect(notice).to_be_hidden()
    expect(badge).to_have_count(0)

    # A threshold set on a chart is kept (localStorage) and drawn; a live value crossing it alerts.
    acc = page.locator('.view-scalars .groups .scalar-card[data-tag="train/acc"]')
    wait_drawn(page, '.view-scalars .groups .scalar-card[data-tag="train/acc"]', ALERT_RUNS)
    acc.locator(".bell").click()
    acc.locator(".thr-above").fill("0.9")
    acc.locator(".thr-set").click()
    stored = json.loads(page.evaluate("() => localStorage.getItem('tsvis-live.thresholds')"))
    assert stored == {"train/acc": {"above": 0.9}}, stored
    page.reload()
    wait_ready(page)
    wait_drawn(page, '.view-scalars .groups .scalar-card[data-tag="train/acc"]', ALERT_RUNS)
    page.wait_for_function("() => { const c = document.querySelector('.view-scalars .scalar-card[data-tag=\"train/acc\"]');"
                           " return c && JSON.parse(c.dataset.thresholdLines || '[]').length === 1; }", timeout=10000)
    [(which, _y)] = json.loads(acc.get_attribute("data-threshold-lines"))
    assert which == "above"
    expect(acc.locator(".bell")).to_have_class(re.compile(r"\bon\b"))
    expect(page.locator("body")).to_have_attribute("data-watched-runs", "2", timeout=20000)
    write_live(logs, HOSTILE, "train/acc", 20, 0.8)  # below the line: nothing
    t0 = time.monotonic()
    write_live(logs, ALERT_RUNS[0], "train/acc", 20, 0.97)
    item = page.locator('#alerts .alert-item[data-kind="above"]')
    expect(item).to_have_count(1, timeout=10000)
    latency = time.monotonic() - t0
    assert item.get_attribute("data-run") == ALERT_RUNS[0] and item.get_attribute("data-tag") == "train/acc"
    expect(item.locator(".alert-detail")).to_have_text("above 0.9: 0.97 at step 20")
    expect(run_row(page, ALERT_RUNS[0]).locator(".run-alert")).to_have_text("threshold")
    assert [a for a in alert_items(page) if a[0] != "stalled"] == [["above", ALERT_RUNS[0], "train/acc"]]
    print(f"threshold crossed -> notice after {latency:.2f} s")
    assert latency < 8, latency
    shot(page, "alert-threshold")


def test_live_alert_says_stalled_when_a_run_stops_writing(tmp_path, start_server, page: Page) -> None:
    logs = tmp_path / "logs"
    write_scalars(logs, "job/steady", [("loss", s, 1.0 / (s + 1), WALL0 + s) for s in range(5)])
    write_scalars(logs, "job/done", [("loss", s, 1.0 / (s + 1), WALL0 + s) for s in range(5)])
    server = start_server(logs)
    # 3 s instead of 30 s as the least silence that counts (5x the 0.4 s interval is less).
    open_tab(page, server, "scalars", "?smoothing=0&stall_min=3")
    expect(page.locator("body")).to_have_attribute("data-watched-runs", "2", timeout=20000)
    for s in range(5, 17):
        t = time.monotonic()
        write_live(logs, "job/steady", "loss", s, 1.0 / (s + 1))
        time.sleep(max(0.0, 0.4 - (time.monotonic() - t)))
    # While it writes, and for a finished run, nothing is said.
    expect(page.locator("#alerts")).to_be_hidden()
    t_stop = time.monotonic()
    badge = run_row(page, "job/steady").locator(".run-alert")
    expect(badge).to_have_text("stalled", timeout=15000)
    after = time.monotonic() - t_stop
    item = page.locator('#alerts .alert-item[data-kind="stalled"]')
    expect(item).to_have_count(1)
    assert item.get_attribute("data-run") == "job/steady"
    expect(item.locator(".alert-detail")).to_contain_text("stalled: no new points since")
    expect(item.locator(".alert-detail")).to_contain_text(re.compile(r"\(usually a point every 0\.[3-7] s\)"))
    expect(run_row(page, "job/done").locator(".run-alert")).to_have_count(0)
    print(f"writer stopped -> 'stalled' after {after:.2f} s (limit 3 s)")
    assert 2.5 < after < 12, after
    shot(page, "alert-stalled")
    # Writing again clears it.
    write_live(logs, "job/steady", "loss", 17, 0.01)
    expect(badge).to_have_count(0, timeout=10000)
    expect(page.locator("#alerts")).to_be_hidden()


# ----------------------------------------------------------------------------------------------
# 2. A run's own past

# In a rectangle around (step, value) of a chart: pixels of `rgb` drawn faded (uPlot's canvas is
# transparent: a line stroked at alpha 0.45 leaves its own colour at alpha about 115, less on
# the anti-aliased edges). The plot's scales are read from the card: y from data-y-range, x
# from 0 to the last step.
_FADED_INK_NEAR = with_plot_area("""
([sel, step, lastStep, value, rgb]) => {
  const card = document.querySelector(sel);
  const { ctx, k, over, cr } = plotArea(card);
  const [lo, hi] = JSON.parse(card.dataset.yRange);
  const x = over.left - cr.left + over.width * step / lastStep;
  const y = over.top - cr.top + over.height * (1 - (value - lo) / (hi - lo));
  const d = ctx.getImageData(Math.round((x - 8) * k), Math.round((y - 8) * k), Math.round(16 * k), Math.round(16 * k)).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    const close = Math.abs(d[i] - rgb[0]) + Math.abs(d[i + 1] - rgb[1]) + Math.abs(d[i + 2] - rgb[2]) < 40;
    if (close && d[i + 3] >= 30 && d[i + 3] <= 170) n++;
  }
  return n;
}
""")


def test_resumed_run_shows_its_earlier_writes_dashed_per_chart_globally_and_live(tmp_path, start_server, page) -> None:
    logs = tmp_path / "logs"
    # A job writes steps 0..100, is resumed from its step-50 checkpoint and writes 50..150.
    first = [(tag, s, 1.0 - s / 200, WALL0 + s) for s in range(101) for tag in ("loss", "acc")]
    resumed = [(tag, s, 0.2 + 0.001 * s, WALL0 + 200 + s) for s in range(50, 151) for tag in ("loss", "acc")]
    write_scalars(logs, "resume/job", first)
    write_scalars(logs, "resume/job", resumed)
    write_scalars(logs, "resume/other", [(tag, s, 0.1, WALL0 + s) for s in range(151) for tag in ("loss", "acc")])
    server = start_server(logs)
    open_tab(page, server, "scalars")
    sel = '.scalar-card[data-tag="loss"]'
    wait_drawn(page, sel, ["resume/job", "resume/other"])
    card = page.locator(sel)
    # The newest write per step: 0..49 of the first write, 50..150 of the resumed one.
    assert json.loads(card.get_attribute("data-last-steps"))["resume/job"] == 150
    assert card.get_attribute("data-points") == str(151 + 151)
    assert card.get_attribute("data-past") == "off"
    # The run watcher found the restart: the chart offers its earlier writes.
    toggle = card.locator(".past-toggle")
    expect(toggle).to_be_visible(timeout=15000)
    expect(toggle).to_have_attribute("aria-pressed", "false")
    probe = [sel, 75, 150, 1.0 - 75 / 200, run_rgb(page, "resume/job")]  # where only the overwritten write was
    assert page.evaluate(_FADED_INK_NEAR, probe) == 0
    toggle.click()
    expect(card).to_have_attribute("data-past-segments", json.dumps({"resume/job": 1}, separators=(",", ":")),
                                   timeout=10000)
    assert card.get_attribute("data-past") == "on"
    frames(page)
    shot(page, "past-writes")
    ink = page.evaluate(_FADED_INK_NEAR, probe)
    assert ink > 3, ink  # the overwritten steps 50..100 are drawn, faded, where they were
    shot(page, "past-writes")

    # Globally: every chart of a restarted run; this chart's own choice still wins.
    acc = '.scalar-card[data-tag="acc"]'
    page.locator("#past-writes").check()
    wait_drawn(page, acc, ["resume/job"])
    expect(page.locator(acc)).to_have_attribute("data-past-segments", '{"resume/job":1}', timeout=10000)
    expect(card).to_have_attribute("data-past", "on")
    toggle.click()
    expect(card).to_have_attribute("data-past", "off")
    expect(card).to_have_attribute("data-past-segments", "{}")
    expect(page.locator(acc)).to_have_attribute("data-past", "on")

    # Resumed again while the page is open (from step 120): the line drops the steps after it
    # at once (as the server's newest-write view does) and the chart with earlier writes shown
    # draws one more segment.
    write_scalars(logs, "resume/job", [(tag, s, 0.9, time.time()) for s in range(120, 131) for tag in ("loss", "acc")])
    page.wait_for_function("s => JSON.parse(document.querySelector(s).dataset.lastSteps)['resume/job'] === 130",
                           arg=sel, timeout=15000)
    expect(page.locator(acc)).to_have_attribute("data-past-segments", '{"resume/job":2}', timeout=15000)
    page.wait_for_function("s => JSON.parse(document.querySelector(s).dataset.lastSteps)['resume/job'] === 130",
                           arg=acc, timeout=15000)


# ----------------------------------------------------------------------------------------------
# 3. Pinned charts

def pinned_tags(page: Page) -> list[str]:
    return page.eval_on_selector_all(".pinned-area .pinned-card", "es => es.map(e => e.dataset.pinnedTag)")


def test_pinned_charts_sit_on_top_persist_and_stay_live(tmp_path, start_server, page: Page) -> None:
    logs = tmp_path / "logs"
    for i, run in enumerate(("r1", "r2")):
        write_scalars(logs, run, [(tag, s, 0.1 * i + s / 30 * k, WALL0 + s) for s in range(31)
                                  for k, tag in enumerate(("a/loss", "b/acc", "c/lr"), 1)])
    server = start_server(logs)
    open_tab(page, server, "scalars")
    wait_drawn(page, '.scalar-card[data-tag="c/lr"]', ["r1", "r2"])
    expect(page.locator(".pinned-area")).to_be_hidden()
    page.locator('.scalar-card[data-tag="c/lr"] .pin').click()
    page.locator('.scalar-card[data-tag="a/loss"] .pin').click()
    expect(page.locator(".pinned-area")).to_be_visible()
    assert pinned_tags(page) == ["c/lr", "a/loss"]  # in pin order, across groups
    expect(page.locator('.scalar-card[data-tag="c/lr"] .pin')).to_have_attribute("aria-pressed", "true")
    wait_drawn(page, '.pinned-card[data-pinned-tag="c/lr"]', ["r1", "r2"])
    wait_drawn(page, '.pinned-card[data-pinned-tag="a/loss"]', ["r1", "r2"])
    top = page.locator(".pinned-area").bounding_box()["y"]
    assert all(top < page.locator(f'details.group[data-group="{g}"]').bounding_box()["y"] for g in ("a", "b", "c"))
    assert json.loads(page.evaluate("() => localStorage.getItem('tsvis-live.pinned')")) == ["c/lr", "a/loss"]
    # The tag filter narrows the groups, not the pinned charts.
    page.fill("#tag-filter", "acc")
    expect(page.locator(".view-scalars .groups .scalar-card")).to_have_count(1)
    assert pinned_tags(page) == ["c/lr", "a/loss"]
    page.fill("#tag-filter", "")
    shot(page, "pinned")
    page.reload()
    wait_ready(page)
    expect(page.locator(".pinned-area .pinned-card")).to_have_count(2)
    assert pinned_tags(page) == ["c/lr", "a/loss"]
    # Live: a point written now is drawn in the pinned chart.
    wait_drawn(page, '.pinned-card[data-pinned-tag="c/lr"]', ["r1", "r2"])
    write_live(logs, "r1", "c/lr", 31, 0.5)
    page.wait_for_function("() => JSON.parse(document.querySelector('.pinned-card[data-pinned-tag=\"c/lr\"]')"
                           ".dataset.lastSteps).r1 === 31", timeout=15000)
    # Unpinned from the pinned card itself.
    page.locator('.pinned-card[data-pinned-tag="c/lr"] .pin').click()
    assert pinned_tags(page) == ["a/loss"]
    expect(page.locator('.scalar-card[data-tag="c/lr"] .pin')).to_have_attribute("aria-pressed", "false")


# ----------------------------------------------------------------------------------------------
# 4. HParams scatter matrix

HP_TRIALS = [{"lr": 1e-4, "optimizer": "adam"}, {"lr": 1e-3, "optimizer": "sgd"},
             {"lr": 1e-2, "optimizer": "adam"}, {"lr": 1e-1, "optimizer": "sgd"}]


def write_hparams(root: Path) -> list[str]:
    """TF2's layout (hp.hparams_config above run-i/), TensorBoard's own builders; two metrics."""
    return write_tf2_hparams(root / "hp", HP_TRIALS, ["accuracy", "loss"], lambda metric, i, step: (
        0.5 + 0.1 * i + 0.01 * step if metric == "accuracy" else 1.0 - 0.2 * i), WALL0)


_MATRIX = """(el) => { const c = window.tsvisLive.echarts.getInstanceByDom(el); const o = c.getOption();
  const canvas = el.querySelector('canvas'), k = canvas.width / canvas.getBoundingClientRect().width;
  const ctx = canvas.getContext('2d');
  return { grids: o.grid.length, x: o.xAxis.map(a => [a.type, a.name]), y: o.yAxis.map(a => [a.type, a.name]),
    series: o.series.map((s, si) => s.data.map(d => { const [px, py] = c.convertToPixel({ seriesIndex: si }, d.value);
      const p = ctx.getImageData(Math.round(px * k), Math.round(py * k), 1, 1).data;
      return [d.trial, d.itemStyle.color, d.itemStyle.opacity, [p[0], p[1], p[2]]]; })) }; }"""


def test_hparams_scatter_matrix_each_trial_in_its_runs_colour_and_brushing_fades(tmp_path, start_server, page) -> None:
    trial_runs = write_hparams(tmp_path / "logs")
    server = start_server(tmp_path / "logs")
    open_tab(page, server, "hparams")
    expect(page.locator(".hparams-table-wrap")).to_have_attribute("data-rows", "4", timeout=20000)
    matrix = page.locator(".hparams-matrix")
    matrix.scroll_into_view_if_needed()
    expect(matrix).to_have_attribute("data-cells", "4")
    expect(matrix).to_have_attribute("data-rendered", re.compile(r"\d+"), timeout=10000)
    frames(page)
    m = page.evaluate(_MATRIX, matrix.element_handle())
    assert m["grids"] == 4
    # Hyperparameters across (lr on a log axis: it spans three decades), metrics down.
    assert [a[0] for a in m["x"]] == ["log", "category", "log", "category"], m["x"]
    assert {a[1] for a in m["x"]} == {"lr", "optimizer", ""} and {a[1] for a in m["y"]} == {"accuracy", "loss", ""}
    colours = {r: run_hex(page, r) for r in trial_runs}
    assert len(set(colours.values())) == 4
    for cell in m["series"]:
        assert sorted(t for t, *_ in cell) == trial_runs
        for trial, colour, opacity, pixel in cell:
            assert colour == colours[trial] and opacity > 0.9
            want = hex_rgb(colour)
            assert sum(abs(a - b) for a, b in zip(pixel, want)) < 40, (trial, pixel, want)  # drawn there
    shot(page, "hparams-matrix")

    # Brushing lr around 0.01 on the parallel coordinates fades the other trials in the matrix.
    chart = page.locator(".hparams-parallel")
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    (x0, y0), (x1, y1) = page.evaluate("""(el) => { const c = window.tsvisLive.echarts.getInstanceByDom(el);
      const p = c.getModel().getComponent('parallel').coordinateSystem;
      const dim = p.dimensions[0]; return [p.dataToPoint(0.004, dim), p.dataToPoint(0.03, dim)]; }""",
                                       chart.element_handle())
    page.mouse.move(box["x"] + x0, box["y"] + y0)
    page.mouse.down()
    page.mouse.move(box["x"] + x1, box["y"] + (y0 + y1) / 2, steps=4)
    page.mouse.move(box["x"] + x1, box["y"] + y1, steps=4)
    page.mouse.up()
    expect(page.locator(".hparams-table-wrap")).to_have_attribute("data-rows", "1", timeout=5000)
    expect(matrix).to_have_attribute("data-faded", "3")
    m = page.evaluate(_MATRIX, matrix.element_handle())
    for cell in m["series"]:
        assert {t: o for t, _, o, _ in cell} == {r: (0.95 if r == trial_runs[2] else 0.12) for r in trial_runs}


# ----------------------------------------------------------------------------------------------
# 5. Projector sprite thumbnails

SPRITE_RGB = ((255, 0, 0), (0, 160, 0), (0, 0, 255), (255, 200, 0))


def write_sprite_embedding(root: Path, n: int) -> None:
    from tensorboardX import SummaryWriter

    rng = np.random.default_rng(0)
    mat = rng.normal(size=(n, 16)).astype(np.float32) * 0.3 + np.array([4.0 * (i % 4) for i in range(n)])[:, None]
    imgs = np.zeros((n, 3, 8, 8), dtype=np.float32)
    for i in range(n):
        imgs[i] = np.array(SPRITE_RGB[i % 4], dtype=np.float32)[:, None, None] / 255.0
    w = SummaryWriter(str(root / "emb"))
    w.add_embedding(mat, metadata=[f"class{i % 4}" for i in range(n)], label_img=imgs, global_step=0, tag="feats")
    w.close()


_THUMB_PIXELS = """(el) => { const c = window.tsvisLive.echarts.getInstanceByDom(el); const o = c.getOption();
  const si = o.series.findIndex(s => s.name === 'thumbnails');
  const canvas = el.querySelector('canvas'), k = canvas.width / canvas.getBoundingClientRect().width;
  const ctx = canvas.getContext('2d');
  const pts = si < 0 ? [] : o.series[si].data;
  return { n: pts.length, symbols: pts.map(d => d.symbol.slice(0, 30)), pixels: pts.slice(0, 8).map(d => {
    const [px, py] = c.convertToPixel({ seriesIndex: si }, d.value.slice(0, 2));
    const p = ctx.getImageData(Math.round(px * k), Math.round(py * k), 1, 1).data; return [d.value[2], [p[0], p[1], p[2]]]; }) }; }"""


def test_projector_draws_sprite_thumbnails_in_the_plot(tmp_path, start_server, page: Page) -> None:
    n = 40
    write_sprite_embedding(tmp_path / "logs", n)
    server = start_server(tmp_path / "logs")
    open_tab(page, server, "projector")
    plot = page.locator(".projector-2d")
    expect(plot).to_have_attribute("data-points", str(n), timeout=30000)
    box = page.locator(".proj-thumbs")
    expect(box).to_be_visible()
    expect(box).to_be_checked()
    expect(plot).to_have_attribute("data-thumbs", str(n), timeout=30000)
    frames(page)
    t = page.evaluate(_THUMB_PIXELS, plot.element_handle())
    assert t["n"] == n and all(s == "image://data:image/png;base64," for s in t["symbols"]), t["symbols"][:2]
    # At each point's place its sprite image is drawn (pure colours no label colour uses).
    for i, pixel in t["pixels"]:
        assert sum(abs(a - b) for a, b in zip(pixel, SPRITE_RGB[i % 4])) < 30, (i, pixel)
    shot(page, "projector-sprites")
    box.uncheck()
    expect(plot).to_have_attribute("data-thumbs", "0")
    frames(page)
    p0 = page.evaluate("""(el) => { const c = window.tsvisLive.echarts.getInstanceByDom(el); const o = c.getOption();
      const d = o.series[0].data[0]; const [px, py] = c.convertToPixel({ seriesIndex: 0 }, d.slice(0, 2));
      const canvas = el.querySelector('canvas'), k = canvas.width / canvas.getBoundingClientRect().width;
      return [...canvas.getContext('2d').getImageData(Math.round(px * k), Math.round(py * k), 1, 1).data].slice(0, 3); }""",
                       plot.element_handle())
    assert sum(abs(a - b) for a, b in zip(p0, SPRITE_RGB[0])) > 60, p0  # a plain dot again
    # In 3-D too.
    box.check()
    page.select_option(".proj-dims", "3")
    expect(page.locator(".scatter3d")).to_have_attribute("data-thumbs", str(n), timeout=30000)
