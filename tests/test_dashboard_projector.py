"""Projector in Chromium: thumbnails from one atlas request, search over any metadata column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from playwright.sync_api import Page, expect

from tests.browser_support import open_tab, screenshots

shot = screenshots("projector")
ANIMALS = ["cat", "dog", "eel", "<img src=x onerror=alert(1)>"]


def write_embedding(root: Path, n: int) -> None:
    import torch
    from torch.utils.tensorboard import SummaryWriter

    rng = np.random.default_rng(0)
    mat = rng.normal(size=(n, 8)).astype(np.float32) + np.array([3.0 * (i % 4) for i in range(n)])[:, None]
    imgs = np.zeros((n, 3, 8, 8), dtype=np.float32)
    for i in range(n):
        imgs[i, i % 3] = 1.0  # red, green or blue
    meta = [[f"p{i}", ANIMALS[i % 4], str(i % 5)] for i in range(n)]
    with SummaryWriter(str(root / "emb")) as w:
        w.add_embedding(torch.from_numpy(mat), metadata=meta, metadata_header=["name", "animal", "fold"],
                        label_img=torch.from_numpy(imgs), global_step=0, tag="feats")


def test_thumbnails_come_from_one_atlas_and_search_reaches_every_column(tmp_path, start_server, page: Page) -> None:
    n = 120
    write_embedding(tmp_path / "logs", n)
    server = start_server(tmp_path / "logs")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    open_tab(page, server, "projector")
    plot = page.locator(".projector-2d")
    expect(plot).to_have_attribute("data-points", str(n), timeout=30000)
    expect(plot).to_have_attribute("data-thumbs", str(n), timeout=30000)
    sprite_reads = [u for u in requests if "/api/projector_sprite" in u]
    sample_reads = [u for u in requests if "/api/projector_sample" in u]
    assert len(sprite_reads) == 1 and len(sample_reads) == 0, (len(sprite_reads), len(sample_reads))
    colours = page.evaluate("""(el) => { const o = window.tsvisLive.echarts.getInstanceByDom(el).getOption();
      const s = o.series.find(s => s.name === 'thumbnails'); return s.data.length; }""", plot.element_handle())
    assert colours == n

    # The label column is searched by default; the "Search in" picker reaches the others.
    column = page.locator(".proj-column")
    expect(column).to_be_visible(timeout=10000)
    assert column.locator("option").all_inner_texts() == ["name", "animal", "fold"]
    expect(page.locator(".projector-legend .legend-item")).to_have_count(30)  # 120 names: the first 30
    page.fill(".proj-search", "^p1$")
    expect(page.locator(".proj-matches")).to_have_attribute("data-matches", "1", timeout=5000)
    column.select_option("animal")
    page.fill(".proj-search", "^dog$")
    dogs = [i for i in range(n) if ANIMALS[i % 4] == "dog"]
    expect(page.locator(".proj-matches")).to_have_attribute("data-matches", str(len(dogs)), timeout=5000)
    expect(plot).to_have_attribute("data-marked", str(len(dogs)))
    expect(page.locator(".proj-match").first).to_contain_text(f"#{dogs[0]} p{dogs[0]} · dog")
    # The picked column also colours the points: one series (and legend entry) per animal.
    names = page.evaluate("""(el) => window.tsvisLive.echarts.getInstanceByDom(el).getOption().series
      .map(s => s.name).filter(n => n !== 'thumbnails' && n !== 'search matches')""", plot.element_handle())
    assert sorted(names) == sorted(ANIMALS), names
    expect(page.locator(".projector-legend .legend-item")).to_have_count(4)
    column.select_option("fold")
    page.fill(".proj-search", "^3$")
    expect(page.locator(".proj-matches")).to_have_attribute("data-matches", str(n // 5), timeout=5000)
    # A crafted value is text: searching it finds it, and nothing is injected.
    column.select_option("animal")
    page.fill(".proj-search", "onerror")
    expect(page.locator(".proj-matches")).to_have_attribute("data-matches", str(n // 4), timeout=5000)
    first = page.locator(".proj-match").first
    first.click()
    side = page.locator(".projector-side")
    expect(side).to_contain_text("animal: <img src=x onerror=alert(1)>")
    expect(side).to_contain_text("fold: 3")
    assert page.locator(".projector-side img:not(.sample-img), .proj-match-list img").count() == 0
    shot(page, "metadata-search")
