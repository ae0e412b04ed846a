"""Stored XSS: names and labels written into a logdir render as text in every dashboard view.

A logdir whose run names, tag names, hparams group and values, text summaries, graph node
names and ops, projector `metadata.tsv` labels and custom-scalar titles carry HTML payloads is
served by a real server and opened in real Chromium (Playwright, Debian's `/usr/bin/chromium`).
Every view is opened and its charts hovered so that ECharts builds its tooltips; the page must
fire no dialog, never set `window.__xss`, hold no element or event-handler attribute that came
from a payload, and show the payload text somewhere as text.

Tags are written with TensorBoard's own EventFileWriter and summary protos, because
tensorboardX and torch replace such characters in tags; embeddings and custom-scalar layouts
with tensorboardX (it writes `metadata.tsv` itself), exceptions with the tsvis writer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.serverproc import ServerProcess

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
REPO = Path(__file__).resolve().parent.parent
DASHBOARD = REPO / "tsvis_live" / "http" / "static" / "dashboard" / "index.html"

IMG = '<img src=x onerror="window.__xss=1">'
SCRIPT = "<script>window.__xss=1</script>"
SVG = '"><svg onload=window.__xss=1>'
ALERT = "<img src=y onerror=alert(1)>"  # a dialog, should one of them run
PAYLOADS = (IMG, SCRIPT, SVG, ALERT)
WALL0 = 1_700_000_000.0

# Run names are directory names: SCRIPT holds a "/", so its run is two directories deep.
RUN_MAIN = IMG
RUN_SVG = SVG
RUN_SCRIPT = SCRIPT

_TSVIS_EXCEPTIONS = textwrap.dedent("""
    import sys
    import numpy as np
    from tsvis import SummaryWriter
    w = SummaryWriter(sys.argv[1], max_queue=100, flush_secs=3600)
    for step in range(3):
        w.add_exception(sys.argv[2], np.arange(12.0).reshape(3, 4) * (step + 1), step)
    w.close()
""")


def _png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def _wav() -> bytes:
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x01" * 400)
    return buf.getvalue()


def _write_events(run_dir: Path, tag_prefix: str, lr: float) -> None:
    """Scalars, histograms, an image, audio, text, a graph and an hparams session, raw tags."""
    from tensorboard.compat.proto import event_pb2, graph_pb2, summary_pb2
    from tensorboard.plugins.audio import metadata as audio_md
    from tensorboard.plugins.histogram import summary_v2 as histo_summary
    from tensorboard.plugins.hparams import summary_v2 as hp_summary
    from tensorboard.plugins.image import metadata as image_md
    from tensorboard.plugins.pr_curve import metadata as pr_md
    from tensorboard.plugins.text import summary_v2 as text_summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    from tensorboard.util import tensor_util

    run_dir.mkdir(parents=True, exist_ok=True)
    ev = EventFileWriter(str(run_dir))
    Value = summary_pb2.Summary.Value

    def emit(step: int, value) -> None:
        event = event_pb2.Event(step=step, wall_time=WALL0 + step)
        event.summary.value.append(value)
        ev.add_event(event)

    rng = np.random.default_rng(1)
    for step in range(20):
        for i, p in enumerate(PAYLOADS):
            emit(step, Value(tag=f"{tag_prefix}{p}", simple_value=float(np.sin(step / 3 + i))))
    for step in range(4):
        emit(step, histo_summary.histogram_pb(tag_prefix + SVG, rng.normal(step, 1, 200), buckets=10).value[0])
    image = Value(tag=tag_prefix + IMG, metadata=image_md.create_summary_metadata(IMG, IMG))
    image.tensor.CopyFrom(tensor_util.make_tensor_proto(np.array([b"8", b"8", _png()], dtype=object)))
    emit(1, image)
    audio = Value(tag=tag_prefix + SVG, metadata=audio_md.create_summary_metadata(SVG, SVG, 1))
    audio.tensor.CopyFrom(tensor_util.make_tensor_proto(np.array([[_wav(), SCRIPT.encode()]], dtype=object)))
    emit(1, audio)
    text = (f"# {IMG}\n\n{SCRIPT} and {SVG} and {ALERT}\n\n- [click](javascript:window.__xss=1)\n"
            f'- [link](https://example.com/"onmouseover="window.__xss=1)\n\n`{IMG}`\n\n**{SVG}**')
    emit(1, text_summary.text_pb(tag_prefix + SCRIPT, text).value[0])
    graph = graph_pb2.GraphDef()
    graph.node.add(name=IMG, op="Placeholder")
    graph.node.add(name=f"block/{SVG}", op=SCRIPT, input=[IMG])
    graph.node.add(name="block/out", op=IMG, input=[f"block/{SVG}"])
    graph.node.add(name=ALERT, op=ALERT, input=["block/out"])
    ev.add_event(event_pb2.Event(step=0, wall_time=WALL0, graph_def=graph.SerializeToString()))
    config = hp_summary.hparams_config_pb(
        [hp_summary.HParam("lr"), hp_summary.HParam(SVG)], [hp_summary.Metric(IMG)], time_created_secs=WALL0)
    emit(0, config.value[0])
    emit(0, hp_summary.hparams_pb({"lr": lr, SVG: IMG if lr < 0.5 else ALERT}, trial_id=SCRIPT,
                                  start_time_secs=WALL0).value[0])
    emit(1, Value(tag=IMG, simple_value=lr))
    pr = Value(tag=tag_prefix + ALERT, metadata=pr_md.create_summary_metadata(ALERT, ALERT, 3))
    counts = [[5, 3, 0], [5, 1, 0], [0, 4, 5], [0, 2, 5], [0.5, 0.75, 0], [1, 0.6, 0]]  # TP FP TN FN P R
    pr.tensor.CopyFrom(tensor_util.make_tensor_proto(np.array(counts, dtype=np.float32)))
    emit(1, pr)
    ev.close()


def _write_embedding_and_layout(run_dir: Path) -> None:
    from tensorboardX import SummaryWriter

    w = SummaryWriter(str(run_dir), filename_suffix=".tbx")
    feats = np.random.default_rng(2).normal(size=(30, 4)).astype(np.float32)
    feats[10:20] += 4
    feats[20:] -= 4
    w.add_embedding(feats, metadata=[PAYLOADS[i // 8] for i in range(30)], global_step=1, tag="emb")
    w.add_custom_scalars({IMG: {SVG: ["Multiline", [SCRIPT]]}})
    w.close()


def _write_mesh(run_dir: Path, name: str) -> None:
    """A tetrahedron named `name`, written as TensorBoard's mesh plugin writes one (the name
    is in the tags and in the MeshPluginData), through tensorboardX's file writer."""
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.mesh import metadata, plugin_data_pb2
    from tensorboard.util import tensor_util
    from tensorboardX import SummaryWriter
    from tensorboardX.proto.summary_pb2 import Summary

    parts = {"VERTEX": np.array([[[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]], np.float32),
             "FACE": np.array([[[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]]], np.int32)}
    kinds = plugin_data_pb2.MeshPluginData.ContentType
    components = sum(1 << kinds.Value(k) for k in parts)
    w = SummaryWriter(str(run_dir), filename_suffix=".mesh")
    for kind, arr in parts.items():
        meta = metadata.create_summary_metadata(name, None, kinds.Value(kind), components, list(arr.shape))
        value = summary_pb2.Summary.Value(tag=f"{name}_{kind}", metadata=meta, tensor=tensor_util.make_tensor_proto(arr))
        w._get_file_writer().add_summary(Summary.FromString(summary_pb2.Summary(value=[value]).SerializeToString()),
                                         1, WALL0 + 1)
    w.close()


def write_hostile_logs(root: Path) -> None:
    _write_events(root / RUN_MAIN, "", 0.1)
    _write_embedding_and_layout(root / RUN_MAIN)
    _write_events(root / RUN_SVG, "g/", 0.3)
    _write_events(root / RUN_SCRIPT, "", 0.9)
    env = dict(os.environ, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python")
    subprocess.run([sys.executable, "-c", _TSVIS_EXCEPTIONS, str(root / RUN_SVG), IMG], env=env, check=True,
                   timeout=120, capture_output=True)
    _write_mesh(root / RUN_MAIN, SVG)


# Recorded from the first byte of the page: every element added to the DOM that a payload
# could have made (an on* attribute, <svg>, an inline <script>, <img src=x>, frames), and the
# text of everything added (tooltips are built and torn down on the fly).
WATCH_JS = """
window.__injected = []; window.__texts = []; window.__tips = []; window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
const suspicious = (e) => {
  const t = e.tagName.toLowerCase();
  if ([...e.attributes].some((a) => /^on/i.test(a.name))) return true;
  if (t === 'svg' || t === 'iframe' || t === 'object' || t === 'embed') return true;
  if (t === 'script' && !/\\/assets\\//.test(e.getAttribute('src') || '')) return true;
  if (t === 'img' && /^[xy]$/.test(e.getAttribute('src') || '')) return true;
  if (t === 'a' && /^\\s*javascript:/i.test(e.getAttribute('href') || '')) return true;
  return false;
};
const visit = (n) => {
  const chart = (n.nodeType === 1 ? n : n.parentElement)?.closest?.('.echart');
  if (chart && window.__tips.length < 20000) window.__tips.push(n.textContent || '');
  if (n.nodeType === 3) { if (window.__texts.length < 20000) window.__texts.push(n.data); return; }
  if (n.nodeType !== 1) return;
  for (const e of [n, ...n.querySelectorAll('*')]) if (suspicious(e)) window.__injected.push(e.outerHTML.slice(0, 200));
  if (window.__texts.length < 20000) window.__texts.push(n.textContent || '');
};
new MutationObserver((ms) => { for (const m of ms) {
  if (m.type === 'attributes') { if (m.target.nodeType === 1 && suspicious(m.target)) window.__injected.push(m.target.outerHTML.slice(0, 200)); }
  else m.addedNodes.forEach(visit);
} }).observe(document, { subtree: true, childList: true, attributes: true });
"""

# Points on the items of every series of an ECharts chart (symbols, polylines, edges, cells),
# in viewport pixels, so that the real mouse can hover each one.
TARGETS_JS = """
(el) => {
  const chart = window.tsvisLive.echarts.getInstanceByDom(el);
  if (!chart) return [];
  const r = el.getBoundingClientRect();
  const out = [];
  const add = (g, x, y) => { const p = g.transformCoordToGlobal(x, y); out.push([r.left + p[0], r.top + p[1]]); };
  chart.getModel().eachSeries((s) => {
    const datas = [s.getData()];
    if (s.getEdgeData) datas.push(s.getEdgeData());
    for (const d of datas) for (let i = 0; i < Math.min(d.count(), 40); i++) {
      const g = d.getItemGraphicEl(i);
      if (!g) continue;
      const line = g.childOfName && g.childOfName('line');
      const sh = (line || g).shape || {};
      if (line && sh.cpx1 !== undefined) add(line, 0.25 * sh.x1 + 0.5 * sh.cpx1 + 0.25 * sh.x2, 0.25 * sh.y1 + 0.5 * sh.cpy1 + 0.25 * sh.y2);
      else if (line) add(line, (sh.x1 + sh.x2) / 2, (sh.y1 + sh.y2) / 2);
      else if (sh.points && sh.points.length > 1) add(g, (sh.points[0][0] + sh.points[1][0]) / 2, (sh.points[0][1] + sh.points[1][1]) / 2);
      else { const b = g.getBoundingRect(); add(g, b.x + b.width / 2, b.y + b.height / 2); }
    }
  });
  return out;
}
"""

# The text of every label drawn on an ECharts canvas.
LABELS_JS = """
(el) => {
  const chart = window.tsvisLive.echarts.getInstanceByDom(el);
  const out = [];
  chart.getModel().eachSeries((s) => { const d = s.getData(); for (let i = 0; i < d.count(); i++) {
    const g = d.getItemGraphicEl(i); if (!g) continue;
    const grab = (c) => { const t = c.getTextContent && c.getTextContent(); if (t) out.push(t.style.text); };
    grab(g); if (g.traverse) g.traverse(grab); } });
  return out;
}
"""

VIEWS = ("scalars", "custom_scalars", "histograms", "distributions", "images", "audio", "text", "pr_curves", "graphs",
         "hparams", "projector", "exceptions", "meshes")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, backend: str):
    assert Path(CHROMIUM).exists(), "Debian chromium is needed at /usr/bin/chromium"
    assert DASHBOARD.exists(), "dashboard not built (cd web && npm run build)"
    root = tmp_path_factory.mktemp("xsslogs")
    write_hostile_logs(root)
    srv = ServerProcess(root, tmp_path_factory.mktemp("xssdata"))
    try:
        yield srv.wait_ready(90)
    finally:
        srv.stop()


@pytest.fixture
def page(server):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ctx = browser.new_context(viewport={"width": 1400, "height": 900})
        ctx.add_init_script(WATCH_JS)
        pg = ctx.new_page()
        pg.dialogs = []  # type: ignore[attr-defined]
        pg.errors = []  # type: ignore[attr-defined]
        pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        yield pg
        browser.close()


def hover_everything(page: Page, selector: str) -> int:
    """Scroll each chart into view, wait until drawn, move the mouse over its items and a grid."""
    moves = 0
    for handle in page.query_selector_all(selector)[:8]:
        handle.scroll_into_view_if_needed()
        page.wait_for_function("el => el.dataset.rendered", arg=handle, timeout=15000)
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        box = handle.bounding_box()
        grid = [(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
                for fx in (0.2, 0.4, 0.6, 0.8) for fy in (0.3, 0.6)]
        targets = page.evaluate(TARGETS_JS, handle) if "echart" in (handle.get_attribute("class") or "") else []
        for x, y in [tuple(t) for t in targets] + grid:
            page.mouse.move(x, y)
            moves += 1
    return moves


def assert_clean(page: Page, view: str) -> None:
    page.wait_for_timeout(300)  # an injected <img src=x> reports its error asynchronously
    assert page.dialogs == [], (view, page.dialogs)
    assert page.evaluate("() => window.__xss") is None, f"{view}: a payload ran (window.__xss is set)"
    assert page.evaluate("() => window.__injected") == [], (view, page.evaluate("() => window.__injected"))
    # Whatever Content-Security-Policy the server sends, the dashboard must not need more.
    assert page.evaluate("() => window.__csp") == [], (view, page.evaluate("() => window.__csp"))


def seen_text(page: Page) -> str:
    return page.evaluate("() => document.body.textContent + '\\n' + window.__texts.join('\\n')")


def hover_until_tooltip(page: Page, card, attempts: int = 4) -> None:
    """Hover a scalar card's plot until its tooltip shows a run.

    A run or a point arriving late rebuilds the plot under the pointer (the hover lands on a
    plot that is gone, or the new one is drawn after the pointer stopped), so the hover is
    made again on the current plot, from outside it, a few times before the test fails.
    """
    for attempt in range(attempts):
        box = None
        while box is None:  # take the current plot
            box = card.wait_for_selector(".u-over", timeout=10000).bounding_box()
        page.mouse.move(0, 0)
        for fx in (0.3, 0.7):
            page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * 0.5)
        try:
            card.wait_for_selector(".tooltip:not([hidden]) .tip-run", timeout=3000)
            return
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise


def test_every_view_renders_names_as_text(page: Page, server) -> None:
    page.goto(f"{server.url}/#scalars")
    page.wait_for_selector("body[data-ready]", timeout=30000)
    page.wait_for_function("n => document.querySelectorAll('.run').length === n", arg=3, timeout=15000)
    # Every view of the dashboard is covered below; a new view fails here until it is added.
    assert page.eval_on_selector_all(".tab", "els => els.map(e => e.dataset.tab)") == list(VIEWS)
    names = page.eval_on_selector_all(".run .run-name", "els => els.map(e => e.textContent)")
    assert sorted(names) == sorted((RUN_MAIN, RUN_SVG, RUN_SCRIPT))

    page.wait_for_selector(".scalar-card[data-rendered]", timeout=15000)
    for card in page.query_selector_all(".scalar-card")[:6]:
        card.scroll_into_view_if_needed()
        page.wait_for_function("el => el.dataset.rendered", arg=card, timeout=15000)
        hover_until_tooltip(page, card)
    titles = page.eval_on_selector_all(".scalar-card .card-title", "els => els.map(e => e.textContent)")
    assert IMG in titles and SVG in titles and SCRIPT in titles, titles
    assert_clean(page, "scalars")

    checks = {
        "custom_scalars": (".custom-card[data-rendered]", SVG),
        "histograms": (".histogram-card .echart", SVG),
        "distributions": (".distribution-card .echart", SVG),
        "images": (".image-card .media-block[data-steps]", IMG),
        "audio": (".audio-card .media-block[data-steps]", SCRIPT),
        "text": (".text-card .media-block[data-steps]", SCRIPT),
        "pr_curves": (".pr-card .pr-chart[data-rendered]", SVG),
        "graphs": (".graph-canvas", IMG),
        "hparams": (".hparams-parallel", SVG),
        "projector": (".projector-2d", SVG),
        "exceptions": (".exc-box", IMG),
        "meshes": (".mesh-block[data-faces='4']", SVG),
    }
    assert ["scalars", *checks] == list(VIEWS)
    for view, (selector, payload) in checks.items():
        page.goto(f"{server.url}/#{view}")
        page.wait_for_selector(selector, timeout=15000)
        hover_everything(page, ".echart")
        if view == "text":
            page.wait_for_selector(".text-value h1", timeout=10000)
            md = page.eval_on_selector_all(".text-value", "els => els.map(e => e.textContent).join('\\n')")
            assert all(p in md for p in PAYLOADS), md
            hrefs = page.eval_on_selector_all(".text-value a", "els => els.map(e => e.getAttribute('href'))")
            assert all(h.startswith("https://") for h in hrefs), hrefs
        if view == "projector":
            page.select_option(".proj-dims", "3")
            canvas = page.wait_for_selector("canvas.scatter3d[data-p0]", timeout=15000)
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            x0, y0 = (int(v) for v in canvas.get_attribute("data-p0").split(","))
            box = canvas.bounding_box()
            page.mouse.move(box["x"] + x0, box["y"] + y0)
            page.wait_for_selector(".projector-side b", timeout=5000)
        assert payload in seen_text(page), f"{view}: {payload!r} is not shown as text"
        if view in ("graphs", "hparams", "projector", "pr_curves"):
            tips = page.evaluate("() => window.__tips.join('\\n')")
            assert payload in tips, f"{view}: no tooltip showed {payload!r}: {tips[:500]}"
        if view == "graphs":
            assert IMG in page.evaluate(LABELS_JS, page.query_selector(".graph-canvas")), "graph labels"
        assert_clean(page, view)
    text = seen_text(page)
    assert all(p in text for p in PAYLOADS)
    assert page.errors == [], page.errors


if __name__ == "__main__":  # pragma: no cover - manual inspection
    write_hostile_logs(Path(sys.argv[1]))
    print(json.dumps(sorted(str(p.relative_to(sys.argv[1])) for p in Path(sys.argv[1]).rglob("*"))))
