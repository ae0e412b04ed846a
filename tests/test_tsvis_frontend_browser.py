"""The unmodified TS-VIS 0.4.2 frontend, served by `tsvis-live --ui tsvis`, in headless Chromium.

Opens every panel the way a user does (sidebar clicks, media sections, the distribution
toggle) against logs of the real writers, and fails on any /api answer that is not 200, on
any page error, any failed request to the server and any console error. Two kinds of console
error are the frontend's own and are allowed, narrowly: its graph code points SVG arrow markers
at a hard-coded dev server (`url(http://localhost:8080/#arrowhead146)`) and its audio player
starts with a hard-coded demo clip on `devtest.qiniudn.com`; Chromium tries to load both and
fails (no such server, no internet). A "Failed to load resource" console error is tolerated
only when every failed request went to exactly those URLs. Screenshots go to `test-artifacts/`.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, spawn_server

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
FRONTEND_OWN_URLS = {  # hard-coded in the tsvis 0.4.2 bundle, see the module docstring
    "http://localhost:8080/",
    "http://devtest.qiniudn.com/secret%20base~.mp3",
}
# sidebar label -> (panel, follow-up clicks inside the panel)
PANELS = [
    ("模型结构", "graph", []),
    ("标量数据", "scalar", []),
    ("媒体数据", "media", ["图像", "音频"]),
    ("统计分析", "statistic", ["分布图"]),
    ("降维分析", "embedding", []),
    ("评测曲线", "roc", []),
    ("超参分析", "hyperparm", []),
    ("异常检测", "exception", []),
    ("用户定制", "custom", []),
]
EXPECTED_CALLS = {"init", "getCategory", "graph", "scalar", "text", "image", "image_raw", "audio",
                  "audio_raw", "histogram", "distribution", "projector", "projector_data",
                  "hyperparm", "exception", "exception_data", "exception_hist"}


def _require_frontend() -> None:
    spec = importlib.util.find_spec("tsvis")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("The tsvis wheel is not importable, so the TS-VIS frontend cannot be tested: "
                    "install it with `pip install tsvis==0.4.2 --no-deps`.", pytrace=False)
    index = Path(next(iter(spec.submodule_search_locations))) / "server" / "frontend" / "index.html"
    if not index.is_file():
        pytest.fail(f"The tsvis wheel has no built frontend at {index}.", pytrace=False)
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium is not installed at {CHROMIUM} (Debian package `chromium`).", pytrace=False)


@pytest.fixture(scope="module")
def tsvis_ui(api_logdir, tmp_path_factory):
    _require_frontend()
    base = tmp_path_factory.mktemp("tsvis-ui")
    server = spawn_server(api_logdir, base / "data", "--ui", "tsvis", log_dir=base)
    yield server
    server.stop()


def _settle(page, seconds: float = 2.5) -> None:
    page.wait_for_load_state("networkidle")
    time.sleep(seconds)


def test_every_panel_shows_data_with_no_failed_call(tsvis_ui):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    api_calls: list[tuple[int, str]] = []
    console_errors: list[str] = []
    page_errors: list[str] = []
    failed: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("response", lambda r: api_calls.append((r.status, r.url)) if "/api/" in r.url else None)
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: page_errors.append(str(e)))
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.goto(tsvis_ui.url + "/?id=demo&trainJobName=job")
            _settle(page, 4)
            texts = {}
            for label, panel, clicks in PANELS:
                page.get_by_text(label, exact=True).first.click()
                _settle(page)
                for inner in clicks:
                    page.get_by_text(inner, exact=True).first.click()
                    _settle(page)
                assert f"#/index/{panel}" in page.url
                page.screenshot(path=str(ARTIFACTS / f"tsvis-{panel}.png"), full_page=True)
                texts[panel] = page.inner_text("#app")
        finally:
            browser.close()

    bad = [(status, url) for status, url in api_calls if status != 200]
    assert not bad, f"API calls that did not answer 200: {bad}"
    called = {url.split("/api/", 1)[1].split("?", 1)[0] for _s, url in api_calls}
    assert EXPECTED_CALLS <= called, f"panels never asked for {sorted(EXPECTED_CALLS - called)}"
    assert not page_errors, f"page errors: {page_errors}"
    unexpected_failures = [u for u in failed if u not in FRONTEND_OWN_URLS]
    assert not unexpected_failures, f"failed requests: {unexpected_failures}"
    only_known = bool(failed) and set(failed) <= FRONTEND_OWN_URLS
    errors = [e for e in console_errors if not (only_known and e.startswith("Failed to load resource: net::ERR_"))
              and not ("Content Security Policy" in e and any(f"'{u}'" in e for u in FRONTEND_OWN_URLS))]
    assert not errors, f"console errors: {errors}"
    # the data is on screen, not just fetched
    assert "conv1" in texts["graph"] and "relu1" in texts["graph"]
    assert "long" in texts["scalar"]
    assert "layer10" in texts["media"] and "tbx text" in texts["media"]
    assert "th" in texts["statistic"] and "weights" in texts["statistic"]
    assert "sgd" in texts["hyperparm"]
    assert "grad" in texts["exception"]
