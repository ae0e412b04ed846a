"""Issue 11, "Missing": what a TensorBoard user reaches for, in real Chromium on a real server.

Each test writes its logs with tensorboardX (TensorBoard's own summary builders for the TF2
hparams layout), starts the real CLI (`start_server` in tests/conftest.py) and drives Debian's
`/usr/bin/chromium` with Playwright. What is drawn is read back from the page: canvas pixels,
the chart's own data, element sizes, screenshots.
"""

from __future__ import annotations

import io
import json
import math
import re
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from playwright.sync_api import Page, expect

from tests.browser_support import (
    frames,
    open_tab,
    run_rgb,
    scalar_card,
    screenshots,
    wait_drawn,
    with_plot_area,
    write_scalars,
    write_tf2_hparams,
)

WALL0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC (the page runs with TZ=UTC)
shot = screenshots("missing")


# Rows of the plot area (canvas pixels) holding a colour within 40 of `rgb`: [first, last, height].
_ROWS_OF_COLOUR = with_plot_area("""
([sel, rgb]) => {
  const { ctx, x0, y0, w, h } = plotArea(document.querySelector(sel));
  const d = ctx.getImageData(x0, y0, w, h).data;
  let first = -1, last = -1;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = 4 * (y * w + x);
    if (d[i + 3] > 200 && Math.abs(d[i] - rgb[0]) + Math.abs(d[i + 1] - rgb[1]) + Math.abs(d[i + 2] - rgb[2]) < 40) {
      if (first < 0) first = y; last = y; break;
    }
  }
  return [first, last, h];
}
""")


# ----------------------------------------------------------------------------------------------
# 1. Scalars

SWEEP = ("sweep/lr_0.01", "sweep/lr_0.1", "sweep/lr_1.0")


def write_sweep(root: Path) -> None:
    """Three learning rates; lr_1.0 diverges over its last 8 of 200 steps (to 1e6)."""
    from tensorboardX import SummaryWriter

    for i, run in enumerate(SWEEP):
        w = SummaryWriter(str(root / run))
        for step in range(200):
            v = 2.0 * math.exp(-step / 50) + 0.2 * i
            if run == SWEEP[2] and step >= 192:
                v = 10.0 ** (step - 193)
            w.add_scalar("loss", v, step, walltime=WALL0 + 30 * step)
        w.close()


def open_sweep(tmp_path: Path, start_server, page: Page) -> str:
    """The sweep served and its loss chart drawn; returns the chart's selector."""
    write_sweep(tmp_path / "logs")
    open_tab(page, start_server(tmp_path / "logs"))
    sel = '.scalar-card[data-tag="loss"]'
    wait_drawn(page, sel, SWEEP)
    return sel


def test_scalars_ignore_outliers_keeps_the_other_runs_readable(tmp_path, start_server, page: Page) -> None:
    sel = open_sweep(tmp_path, start_server, page)
    toggle = page.locator("#ignore-outliers")
    expect(toggle).to_be_checked()  # TensorBoard's default
    lo, hi = json.loads(scalar_card(page, "loss").get_attribute("data-y-range"))
    assert hi < 10 and lo > -1, (lo, hi)  # the 1e6 tail is off the chart
    first, last, height = page.evaluate(_ROWS_OF_COLOUR, [sel, run_rgb(page, SWEEP[0])])
    assert first >= 0 and (last - first) / height > 0.4, (first, last, height)  # lr_0.01 fills the chart
    print("outliers ignored: y range", (lo, hi), "lr_0.01 spans", round((last - first) / height, 2), "of the plot")
    shot(page, "outliers-ignored")

    toggle.uncheck()
    page.wait_for_function(f"() => JSON.parse(document.querySelector('{sel}').dataset.yRange)[1] > 1e5", timeout=10000)
    lo, hi = json.loads(scalar_card(page, "loss").get_attribute("data-y-range"))
    assert 2.0 / (hi - lo) < 0.05, (lo, hi)  # every other run flattened to the bottom: why the toggle exists
    print("outliers shown: y range", (lo, hi))
    shot(page, "outliers-shown")
    toggle.check()
    page.wait_for_function(f"() => JSON.parse(document.querySelector('{sel}').dataset.yRange)[1] < 10", timeout=10000)


def test_scalars_mark_nan_and_inf_points_and_keep_marking_live_ones(tmp_path, start_server, page: Page) -> None:
    from tests.conftest import write_special_logs

    write_special_logs(tmp_path / "logs" / "special")  # odd/values: 1, NaN, +Inf, -Inf, 2.5 at steps 0-4
    server = start_server(tmp_path / "logs")
    open_tab(page, server, "scalars")
    sel = '.scalar-card[data-tag="odd/values"]'
    wait_drawn(page, sel, ["special"])
    card = page.locator(sel)
    assert json.loads(card.get_attribute("data-nonfinite")) == [["special", 1, "nan"], ["special", 2, "inf"],
                                                                ["special", 3, "-inf"]]
    expect(card.locator(".nonfinite-badge")).to_have_text("⚠ 1 NaN · 1 +Inf · 1 −Inf")
    markers = json.loads(card.get_attribute("data-markers"))
    assert [m[0] for m in markers] == ["nan", "inf", "-inf"], markers
    over = card.locator(".u-over").bounding_box()
    canvas = card.locator("canvas").bounding_box()
    top, bottom = over["y"] - canvas["y"], over["y"] - canvas["y"] + over["height"]
    (_, _, y_nan), (_, x_inf, y_inf), (_, _, y_ninf) = markers
    assert y_inf - top < 12 and bottom - y_ninf < 12, (markers, top, bottom)  # +Inf at the top, -Inf at the bottom
    # Something is drawn there: the marker's outline (dark red) is on the canvas.
    ink = page.evaluate("""([sel, ms]) => { const c = document.querySelector(sel).querySelector('canvas');
      const k = c.width / c.getBoundingClientRect().width, ctx = c.getContext('2d');
      return ms.map(([_, x, y]) => { const d = ctx.getImageData(Math.round((x - 6) * k), Math.round((y - 6) * k),
        Math.round(12 * k), Math.round(12 * k)).data; let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] > 150 && d[i + 1] < 80 && d[i + 2] < 80 && d[i + 3] > 200) n++;
        return n; }); }""", [sel, markers])
    assert all(n > 5 for n in ink), ink
    # The tooltip at the NaN step says so.
    page.mouse.move(canvas["x"] + markers[0][1], over["y"] + over["height"] / 2)
    row = card.locator(".tooltip .tip-row").first
    expect(row.locator(".tip-step")).to_have_text("1")
    expect(row.locator(".tip-value")).to_have_text("NaN")
    shot(page, "nan-markers")

    # A NaN written while the page is open is marked too (live, no reload).
    write_scalars(tmp_path / "logs", "special", [("odd/values", 5, float("nan"), WALL0 + 5)], ".live")
    page.wait_for_function(f"() => JSON.parse(document.querySelector('{sel}').dataset.nonfinite).length === 4",
                           timeout=15000)
    expect(card.locator(".nonfinite-badge")).to_have_text("⚠ 2 NaN · 1 +Inf · 1 −Inf")


def test_scalars_card_enlarges_to_full_width(tmp_path, start_server, page: Page) -> None:
    sel = open_sweep(tmp_path, start_server, page)
    card = page.locator(sel)
    grid = card.locator("xpath=..").bounding_box()
    before, canvas0 = card.bounding_box(), card.locator("canvas").bounding_box()
    assert before["width"] < grid["width"] * 0.6
    card.locator("button.enlarge").click()
    expect(card).to_have_class(re.compile(r"\bwide\b"))
    page.wait_for_function(f"w => document.querySelector('{sel} canvas').getBoundingClientRect().width > w * 1.6",
                           arg=canvas0["width"], timeout=5000)
    after, canvas1 = card.bounding_box(), card.locator("canvas").bounding_box()
    assert abs(after["width"] - grid["width"]) < 2, (after, grid)
    assert canvas1["height"] > canvas0["height"] * 1.5, (canvas0, canvas1)
    shot(page, "enlarged")
    card.locator("button.enlarge").click()
    page.wait_for_function(f"w => document.querySelector('{sel} canvas').getBoundingClientRect().width < w",
                           arg=canvas1["width"] * 0.7, timeout=5000)
    assert abs(card.bounding_box()["width"] - before["width"]) < 2


def test_scalars_tooltip_has_wall_time_and_relative_time(tmp_path, start_server, page: Page) -> None:
    sel = open_sweep(tmp_path, start_server, page)
    card = page.locator(sel)
    # Hover step 100: 100 x 30 s = 50 min after each run's first point.
    x = page.evaluate("""(sel) => { const over = document.querySelector(sel + ' .u-over').getBoundingClientRect();
      return over.left + over.width * 100 / 199; }""", sel)
    over = card.locator(".u-over").bounding_box()
    page.mouse.move(x, over["y"] + over["height"] * 0.5)
    rows = card.locator(".tooltip .tip-row")
    expect(rows).to_have_count(3)
    expect(card.locator(".tooltip th")).to_contain_text(["value", "step", "time", "relative"])
    for i in range(3):
        row = rows.nth(i)
        step = int(row.locator(".tip-step").inner_text())
        assert abs(step - 100) <= 1, step
        wall = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(WALL0 + 30 * step))
        expect(row.locator(".tip-wall")).to_have_text(wall)
        expect(row.locator(".tip-rel")).to_have_text(f"{30 * step // 60}m {30 * step % 60:02d}s")
    expect(rows.nth(0).locator(".tip-run")).to_have_text(SWEEP[0])
    shot(page, "tooltip")


# ----------------------------------------------------------------------------------------------
# 2. PR curves and custom scalars

PR_RUNS = ("cls/a", "cls/b")


def write_pr_steps(root: Path, run: str, steps, suffix: str = "") -> None:
    from tensorboardX import SummaryWriter

    w = SummaryWriter(str(root / run), filename_suffix=suffix)
    for step in steps:
        rng = np.random.default_rng(10 * step + PR_RUNS.index(run))
        labels = rng.integers(0, 2, 400)
        preds = np.clip(labels * (0.3 + 0.15 * step) + rng.normal(0.35, 0.2, 400), 0, 1)
        w.add_pr_curve("pr/cls", labels, preds, step, num_thresholds=21, walltime=WALL0 + step)
    w.close()


def api_data(server, path: str, **query) -> dict:
    r = httpx.get(f"{server.url}/api/{path}", params=query, timeout=60)
    assert r.status_code == 200, r.text[:300]
    return r.json()["data"]


def chart_series(page: Page, selector: str) -> list[dict]:
    return page.evaluate("""(sel) => { const c = window.tsvisLive.echarts.getInstanceByDom(document.querySelector(sel));
      return c.getOption().series.map(s => ({ name: s.name, data: s.data, color: s.lineStyle && s.lineStyle.color })); }""",
                         selector)


def expected_pr(entry: dict) -> list[list[float]]:
    return [[r, p, i] for i, (r, p, tp, fp) in enumerate(zip(entry["recall"], entry["precision"], entry["tp"], entry["fp"]))
            if tp + fp > 0]


def test_pr_curves_view_draws_each_runs_curve_at_its_step_and_follows_new_steps(tmp_path, start_server, page) -> None:
    logs = tmp_path / "logs"
    for run in PR_RUNS:
        write_pr_steps(logs, run, (0, 1))
    server = start_server(logs)
    open_tab(page, server, "pr_curves")
    card = page.locator('.pr-card[data-tag="pr/cls"]')
    chart = '.pr-card[data-tag="pr/cls"] .pr-chart'
    for run in PR_RUNS:
        expect(card.locator(f'.pr-run[data-run="{run}"]')).to_have_attribute("data-step", "1", timeout=20000)
    page.wait_for_function(f"() => document.querySelector('{chart}').dataset.runs === '2'", timeout=10000)
    api = {run: api_data(server, "getRoc", run=run, tag="pr/cls")["pr/cls"] for run in PR_RUNS}
    series = chart_series(page, chart)
    assert [s["name"] for s in series] == list(PR_RUNS)
    for s, run in zip(series, PR_RUNS):
        assert np.allclose(s["data"], expected_pr(api[run][-1])), run  # (recall, precision) at the last step
        assert [int(s["color"][i:i + 2], 16) for i in (1, 3, 5)] == run_rgb(page, run)
        expect(card.locator(f'.pr-run[data-run="{run}"] .pr-auc')).to_contain_text(
            f"AUC-PR {round(api[run][-1]['auc_pr'], 3)}")
    shot(page, "pr-curves")

    # Run a's slider back to step 0: its curve is step 0's; b's stays.
    card.locator(f'.pr-run[data-run="{PR_RUNS[0]}"] .step-slider').fill("0")
    expect(card.locator(f'.pr-run[data-run="{PR_RUNS[0]}"]')).to_have_attribute("data-step", "0")
    series = chart_series(page, chart)
    assert np.allclose(series[0]["data"], expected_pr(api[PR_RUNS[0]][0]))
    assert np.allclose(series[1]["data"], expected_pr(api[PR_RUNS[1]][-1]))

    # A step written while the page is open: b follows it, a keeps the step picked.
    write_pr_steps(logs, PR_RUNS[1], (2,), ".live")
    expect(card.locator(f'.pr-run[data-run="{PR_RUNS[1]}"]')).to_have_attribute("data-step", "2", timeout=20000)
    expect(card.locator(f'.pr-run[data-run="{PR_RUNS[0]}"]')).to_have_attribute("data-step", "0")
    b2 = api_data(server, "getRoc", run=PR_RUNS[1], tag="pr/cls")["pr/cls"][-1]
    page.wait_for_function(f"""(n) => window.tsvisLive.echarts.getInstanceByDom(document.querySelector('{chart}'))
      .getOption().series[1].data.length === n""", arg=len(expected_pr(b2)), timeout=10000)
    assert np.allclose(chart_series(page, chart)[1]["data"], expected_pr(b2))

    # ROC curves: (FPR, TPR) closed at (0, 0).
    page.select_option(".pr-kind", "roc")
    page.wait_for_function(f"() => document.querySelector('{chart}').dataset.kind === 'roc'", timeout=5000)
    roc = chart_series(page, chart)[1]["data"]
    assert np.allclose(roc[:-1], [[f, t, i] for i, (f, t) in enumerate(zip(b2["fpr"], b2["tpr"]))]) and roc[-1] == [0, 0, -1]


LAYOUT_RUNS = ("exp/a", "exp/b")
LAYOUT = {"Losses": {"train and val": ["Multiline", ["loss/.*"]],
                     "with margin": ["Margin", ["band/mean", "band/lo", "band/hi"]]}}


def write_layout_logs(root: Path) -> None:
    from tensorboardX import SummaryWriter

    for k, run in enumerate(LAYOUT_RUNS):
        w = SummaryWriter(str(root / run))
        for step in range(10):
            w.add_scalar("loss/train", 1.0 / (step + 1) + k, step, walltime=WALL0 + step)
            w.add_scalar("loss/val", 1.5 / (step + 1) + k, step, walltime=WALL0 + step)
            w.add_scalar("xloss/train", 5.0, step, walltime=WALL0 + step)  # re.match is anchored: not drawn
            w.add_scalar("band/mean", step + 4 * k, step, walltime=WALL0 + step)
            w.add_scalar("band/lo", step + 4 * k - 1.5, step, walltime=WALL0 + step)
            w.add_scalar("band/hi", step + 4 * k + 1.5, step, walltime=WALL0 + step)
        # Both runs write the layout (TensorBoard merges them: one "Losses"), b adds a category.
        w.add_custom_scalars({**LAYOUT, **({"Only b": {"val": ["Multiline", ["loss/val"]]}} if k else {})})
        w.close()


# Rows of the plot's middle column that are tinted (band fill) rather than white, grid or axis.
_TINTED_ROWS = with_plot_area("""
(sel) => {
  const { ctx, k, over, cr, y0, h } = plotArea(document.querySelector(sel));
  const x = Math.round((over.left - cr.left + over.width * 0.5) * k);
  const d = ctx.getImageData(x, y0, 1, h).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 12) n++;
  return n / h;
}
""")


def test_custom_scalars_view_draws_multiline_and_margin_charts_live(tmp_path, start_server, page) -> None:
    logs = tmp_path / "logs"
    write_layout_logs(logs)
    server = start_server(logs)
    open_tab(page, server, "custom_scalars")
    expect(page.locator("details.group")).to_have_count(2, timeout=20000)
    assert page.eval_on_selector_all("details.group .gname", "es => es.map(e => e.textContent)") == ["Losses", "Only b"]
    multi = '.custom-card[data-chart="train and val"]'
    lines = [f"{run} · {tag}" for run in LAYOUT_RUNS for tag in ("loss/train", "loss/val")]
    wait_drawn(page, multi, lines)
    assert json.loads(page.get_attribute(multi, "data-lines")) == lines  # xloss/train not matched
    margin = '.custom-card[data-chart="with margin"]'
    wait_drawn(page, margin, [f"{run} · band/mean" for run in LAYOUT_RUNS])
    assert page.get_attribute(margin, "data-bands") == "2"
    # The band is filled: most of the middle column between the runs' bounds is tinted.
    tinted = page.evaluate(_TINTED_ROWS, margin)
    assert tinted > 0.2, tinted
    assert page.evaluate(_TINTED_ROWS, multi) < 0.1  # lines only
    # Tooltip: a row per line.
    box = page.locator(multi + " .u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.locator(multi + " .tooltip .tip-row")).to_have_count(4)
    shot(page, "custom-scalars")

    # Live: a point written while the page is open is drawn without a reload.
    write_scalars(logs, LAYOUT_RUNS[0], [("loss/train", 10, 0.05, WALL0 + 10)], ".live")
    page.wait_for_function(f"""() => JSON.parse(document.querySelector('{multi}').dataset.lastSteps)
      ['{LAYOUT_RUNS[0]} · loss/train'] === 10""", timeout=15000)


# ----------------------------------------------------------------------------------------------
# 3. Images

IMG_RUNS = {"img/big": 32, "img/small": 16}  # run -> image side in pixels


def write_images(root: Path) -> None:
    from tensorboardX import SummaryWriter

    for run, side in IMG_RUNS.items():
        w = SummaryWriter(str(root / run))
        ramp = np.linspace(40, 215, side, dtype=np.float32)
        img = np.stack([np.tile(ramp, (side, 1))] * 3) / 255.0  # CHW, a grey ramp
        for step in (0, 1):
            w.add_image("samples", img, step, walltime=WALL0 + step)
        w.close()


def luminance(png: bytes) -> tuple[float, float]:
    from PIL import Image

    a = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float64)
    a = a[2:-2, 2:-2]  # inside the 1 px border
    return float(a.mean()), float(a.std())


def test_images_fit_or_actual_size_one_scale_per_tag_brightness_contrast_and_enlarge(tmp_path, start_server, page):
    write_images(tmp_path / "logs")
    server = start_server(tmp_path / "logs")
    open_tab(page, server, "images")
    card = page.locator('.image-card[data-tag="samples"]')
    imgs = {run: card.locator(f'.media-block[data-run="{run}"] img.media-img') for run in IMG_RUNS}
    for img in imgs.values():
        expect(img).to_have_count(1, timeout=20000)
        page.wait_for_function("e => e.complete && e.naturalWidth > 0", arg=img.element_handle(), timeout=10000)
    width = {run: lambda r=run: imgs[r].evaluate("e => e.clientWidth") for run in IMG_RUNS}
    block = card.locator(".media-block").first.evaluate("e => e.clientWidth")
    # Fit: the widest image fills the block; the other one at the same scale (half as wide).
    assert width["img/big"]() / width["img/small"]() == pytest.approx(2.0, abs=0.02), (width["img/big"](), width["img/small"]())
    assert block * 0.8 <= width["img/big"]() <= block, (width["img/big"](), block)
    shot(page, "images-fit")
    page.select_option(".img-size", "actual")
    expect(card).to_have_attribute("data-scale", "1")
    assert (width["img/big"](), width["img/small"]()) == (32, 16)
    page.select_option(".img-size", "fit")
    page.wait_for_function("e => e.clientWidth > 100", arg=imgs["img/big"].element_handle(), timeout=5000)

    # Brightness and contrast, as drawn on the screen.
    frames(page)
    mean0, std0 = luminance(imgs["img/big"].screenshot())
    page.locator(".img-brightness").fill("0.4")
    expect(imgs["img/big"]).to_have_css("filter", "brightness(0.4) contrast(1)")
    frames(page)
    mean1, _ = luminance(imgs["img/big"].screenshot())
    assert mean1 < mean0 * 0.6, (mean0, mean1)
    page.locator(".img-brightness").fill("1")
    page.locator(".img-contrast").fill("2")
    expect(imgs["img/small"]).to_have_css("filter", "brightness(1) contrast(2)")
    frames(page)
    _, std2 = luminance(imgs["img/big"].screenshot())
    assert std2 > std0 * 1.5, (std0, std2)
    shot(page, "images-contrast")
    page.locator(".img-reset").click()
    expect(imgs["img/big"]).to_have_css("filter", "none")

    # Click to enlarge; Escape closes.
    shown = width["img/big"]()
    imgs["img/big"].click()
    big = page.locator(".lightbox .lightbox-img")
    expect(big).to_be_visible()
    assert big.evaluate("e => e.getBoundingClientRect().width") > shown * 1.3
    expect(page.locator(".lightbox figcaption")).to_contain_text("img/big · samples · step 1")
    shot(page, "images-lightbox")
    page.keyboard.press("Escape")
    expect(page.locator(".lightbox")).to_have_count(0)


# ----------------------------------------------------------------------------------------------
# 4. HParams

TRIALS = [{"lr": 0.001, "optimizer": "adam"}, {"lr": 0.01, "optimizer": "sgd"}, {"lr": 0.1, "optimizer": "adam"}]


def write_trials(root: Path) -> list[str]:
    """TF2's layout (hp.hparams_config above run-i/ with hp.hparams), TensorBoard's own builders."""
    return write_tf2_hparams(root / "hparams", TRIALS, ["accuracy"], lambda _, i, step: 0.6 + 0.1 * i + 0.01 * step,
                             WALL0)


def test_hparams_trials_in_their_runs_colours_and_brushing_filters_the_table(tmp_path, start_server, page) -> None:
    trial_runs = write_trials(tmp_path / "logs")
    server = start_server(tmp_path / "logs")
    open_tab(page, server, "hparams")
    table = page.locator(".hparams-table-wrap")
    expect(table).to_have_attribute("data-rows", "3", timeout=20000)  # one row per trial, not one per record
    assert page.eval_on_selector_all(".hparams-table tbody tr", "es => es.map(e => e.dataset.trial)") == trial_runs
    chart = page.locator(".hparams-parallel")
    expect(chart).to_have_attribute("data-rendered", re.compile(r"\d+"), timeout=10000)
    strokes = page.evaluate("""(el) => { const c = window.tsvisLive.echarts.getInstanceByDom(el);
      const d = c.getModel().getSeriesByIndex(0).getData();
      return [...Array(d.count()).keys()].map(i => [d.getRawDataItem(i).run, d.getItemVisual(i, 'style').stroke]); }""",
                            chart.element_handle())
    assert [r for r, _ in strokes] == trial_runs
    drawn = [[int(c[i:i + 2], 16) for i in (1, 3, 5)] for _, c in strokes]
    assert drawn == [run_rgb(page, r) for r in trial_runs]  # each trial in its (session) run's colour
    assert len({tuple(c) for c in drawn}) == 3
    shot(page, "hparams")

    # Brush the lr axis around 0.01 with the mouse: the table keeps that trial only.
    box = chart.bounding_box()
    axis = page.evaluate("""(el) => { const c = window.tsvisLive.echarts.getInstanceByDom(el);
      const p = c.getModel().getComponent('parallel').coordinateSystem;
      const dim = p.dimensions[0]; return [p.dataToPoint(0.004, dim), p.dataToPoint(0.025, dim)]; }""",
                         chart.element_handle())
    (x0, y0), (x1, y1) = axis
    page.mouse.move(box["x"] + x0, box["y"] + y0)
    page.mouse.down()
    page.mouse.move(box["x"] + x1, box["y"] + (y0 + y1) / 2, steps=4)
    page.mouse.move(box["x"] + x1, box["y"] + y1, steps=4)
    page.mouse.up()
    expect(table).to_have_attribute("data-rows", "1", timeout=5000)
    assert page.eval_on_selector_all(".hparams-table tbody tr", "es => es.map(e => e.dataset.trial)") == [trial_runs[1]]
    expect(page.locator(".hparams-status")).to_have_text("1 of 3 trials in the brushed ranges")
    shot(page, "hparams-brushed")
    page.get_by_role("button", name="clear brushing").click()
    expect(table).to_have_attribute("data-rows", "3")


# ----------------------------------------------------------------------------------------------
# 5. Projector

LABELS = ("cat", "dog", "bird", "fish")


def write_embedding(root: Path, n: int, step: int = 0, suffix: str = "") -> list[str]:
    from tensorboardX import SummaryWriter

    rng = np.random.default_rng(step)
    labels = [LABELS[i % 4] for i in range(n)]
    mat = rng.normal(size=(n, 16)).astype(np.float32) + np.array([3.0 * (i % 4) for i in range(n)])[:, None]
    w = SummaryWriter(str(root / "emb"), filename_suffix=suffix)
    w.add_embedding(mat, metadata=labels, global_step=step, tag="feats")
    w.close()
    return labels


_PROGRESS_PROBE = """() => { window.__prog = []; const p = document.querySelector('.proj-progress');
  const id = setInterval(() => { window.__prog.push([p.hidden, p.dataset.elapsed || '',
    document.querySelector('.projector-2d').dataset.method || '']);
    if (window.__prog.length > 1500) clearInterval(id); }, 100); }"""


def test_projector_search_marks_matching_points_and_tsne_shows_progress(tmp_path, start_server, page) -> None:
    n = 400
    labels = write_embedding(tmp_path / "logs", n)
    server = start_server(tmp_path / "logs")
    open_tab(page, server, "projector")
    plot = page.locator(".projector-2d")
    expect(plot).to_have_attribute("data-points", str(n), timeout=30000)
    page.fill(".proj-search", "^dog$")
    dogs = [i for i, lab in enumerate(labels) if lab == "dog"]
    expect(page.locator(".proj-matches")).to_have_attribute("data-matches", str(len(dogs)), timeout=5000)
    expect(page.locator(".proj-matches")).to_have_text(f"{len(dogs)} of {n} points match")
    expect(plot).to_have_attribute("data-marked", str(len(dogs)))
    marked = page.evaluate("""(el) => { const o = window.tsvisLive.echarts.getInstanceByDom(el).getOption();
      const s = o.series[o.series.length - 1]; return [s.name, s.data.map(d => d[2]), o.series[0].itemStyle.opacity]; }""",
                           plot.element_handle())
    assert marked[0] == "search matches" and marked[1] == dogs and marked[2] < 0.3, marked[:1] + marked[2:]
    expect(page.locator(".proj-match")).to_have_count(50)  # the first 50 listed
    page.locator(".proj-match").nth(2).click()
    expect(page.locator(".projector-side")).to_have_attribute("data-index", str(dogs[2]))
    expect(page.locator(".projector-side")).to_contain_text("label: dog")
    page.fill(".proj-search", "")
    expect(plot).to_have_attribute("data-marked", "")
    shot(page, "projector-search")

    # t-SNE: the PCA layout stays up with the time spent until the t-SNE layout arrives.
    page.evaluate(_PROGRESS_PROBE)
    page.select_option(".proj-method", "tsne")
    expect(page.locator(".proj-progress")).to_be_visible(timeout=5000)
    expect(page.locator(".proj-progress-text")).to_contain_text(f"t-SNE of {n} points")
    page.wait_for_function("() => document.querySelector('.projector-2d').dataset.method === 'tsne'", timeout=180000)
    expect(page.locator(".proj-progress")).to_be_hidden()
    samples = page.evaluate("() => window.__prog")
    shown = [float(e) for hidden, e, _ in samples if not hidden and e]
    assert len(set(shown)) >= 2 and max(shown) > min(shown), samples[:20]  # the elapsed time advanced
    assert any(m.startswith("pca (t-SNE still computing)") for h, _, m in samples if not h), samples[:20]
    expect(plot).to_have_attribute("data-points", str(n))

    # A step written while the page is open is listed and, being the newest, shown.
    page.select_option(".proj-method", "pca")
    write_embedding(tmp_path / "logs", n, step=1, suffix=".live")
    expect(page.locator(".proj-step")).to_have_value("1", timeout=30000)
