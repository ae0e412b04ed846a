"""What the Chromium dashboard tests share: a real server, Debian's Chromium, page helpers, writers.

Plain functions and context managers; `tests/browser_fixtures.py` (registered in conftest.py)
builds the default `browser` and `page` fixtures from them. A module that wants another flavour
(its own time zone, a page that needs its server first) defines its own fixtures from the same
pieces. Every wait is on the DOM or a canvas, never a sleep.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Locator, Page, sync_playwright

from tests.serverproc import ServerProcess

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"  # screenshots
DASHBOARD = REPO / "tsvis_live" / "http" / "static" / "dashboard" / "index.html"
VIEWPORT = {"width": 1400, "height": 900}

# ----------------------------------------------------------------------------------------------
# Server and browser


@contextmanager
def dashboard_server(logdir: Path, data_dir: Path, timeout: float = 90) -> Iterator[ServerProcess]:
    """The real CLI on loopback for `logdir`, on the backend the environment names (the
    `backend` fixture sets it); stopped with Ctrl-C at exit, which must end it cleanly."""
    srv = ServerProcess(logdir, data_dir)
    try:
        yield srv.wait_ready(timeout)
    finally:
        srv.stop()


@contextmanager
def chromium(tz: str | None = None) -> Iterator[Browser]:
    """Debian's Chromium through Playwright. With `tz` it runs with TZ=`tz` as its only
    environment variable (what wall-time labels are checked against); else it inherits ours."""
    # fail, not skip: the test command installs Chromium, and the built dashboard is committed
    assert Path(CHROMIUM).exists(), "Debian chromium is needed at /usr/bin/chromium"
    assert DASHBOARD.exists(), "the dashboard is not built (npm run build in web/)"
    with sync_playwright() as p:
        env = {"env": {"TZ": tz}} if tz else {}
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, **env)
        yield b
        b.close()


@contextmanager
def browser_page(browser: Browser, tz: str | None = None, **context_options: Any) -> Iterator[Page]:
    """A page in a fresh context (1400x900, `tz` as its time zone). Script errors and dialogs
    (dismissed) on it are collected in `page.errors` and fail the test at exit."""
    ctx = browser.new_context(viewport=VIEWPORT, **({"timezone_id": tz} if tz else {}), **context_options)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    pg.errors = errors  # type: ignore[attr-defined]
    yield pg
    ctx.close()
    assert not errors, errors


# ----------------------------------------------------------------------------------------------
# Page helpers


def wait_ready(page: Page) -> None:
    """Wait until the dashboard has loaded (after a goto or a reload)."""
    page.wait_for_selector("body[data-ready]", timeout=30000)


def open_tab(page: Page, server: Any, tab: str = "scalars", query: str = "?smoothing=0") -> None:
    """Open the dashboard of `server` (anything with a `url`) at `tab` and wait until it loaded."""
    page.goto(f"{server.url}/{query}#{tab}")
    wait_ready(page)


def screenshots(prefix: str) -> Callable[[Page, str], None]:
    """`shot(page, name)` saving the viewport to test-artifacts/`prefix`-`name`.png."""

    def shot(page: Page, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{prefix}-{name}.png"))

    return shot


def frames(page: Page) -> None:
    """Wait two animation frames: what was just drawn is on the canvas."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def scalar_card(page: Page, tag: str) -> Locator:
    return page.locator(f'.scalar-card[data-tag="{tag}"]')


def wait_lines(page: Page, selector: str, lines: Iterable[str], timeout: float = 20000) -> None:
    """Wait until the chart `selector` has a last step for every line (run) of `lines`."""
    page.wait_for_function(
        "([sel, lines]) => { const c = document.querySelector(sel);"
        " if (!c || !c.dataset.lastSteps) return false; const s = JSON.parse(c.dataset.lastSteps);"
        " return lines.every(r => r in s); }", arg=[selector, list(lines)], timeout=timeout)


def wait_drawn(page: Page, selector: str, lines: Iterable[str], center: bool = False) -> None:
    """Scroll the chart `selector` into view (to the middle with `center`; charts off screen do
    not draw), wait for `lines`, then for the frames that draw them."""
    page.wait_for_selector(selector, timeout=20000)
    if center:
        page.locator(selector).first.evaluate("e => e.scrollIntoView({block: 'center'})")
    else:
        page.locator(selector).scroll_into_view_if_needed()
    wait_lines(page, selector, lines)
    frames(page)


def run_hex(page: Page, run: str) -> str:
    """The colour of `run` in the run list, "#rrggbb" (a run name without double quotes)."""
    return page.locator(f'.run-row[data-run-row="{run}"] input.run-color').input_value()


def hex_rgb(h: str) -> list[int]:
    return [int(h[i:i + 2], 16) for i in (1, 3, 5)]


def run_rgb(page: Page, run: str) -> list[int]:
    return hex_rgb(run_hex(page, run))


# `plotArea(card)`: the plot area of a uPlot chart card in canvas pixels (x0, y0, w, h), with the
# canvas, its 2-D context, k (canvas pixels per CSS pixel) and the two client rectangles.
_PLOT_AREA = """const plotArea = (card) => {
  const canvas = card.querySelector('canvas'), over = card.querySelector('.u-over').getBoundingClientRect();
  const cr = canvas.getBoundingClientRect(), k = canvas.width / cr.width;
  return { canvas, ctx: canvas.getContext('2d'), k, over, cr,
    x0: Math.round((over.left - cr.left) * k), y0: Math.round((over.top - cr.top) * k),
    w: Math.round(over.width * k), h: Math.round(over.height * k) };
};"""


def with_plot_area(fn: str) -> str:
    """The page function `fn` (JS source) with `plotArea(card)` in scope, for reading the pixels
    a chart drew; usable with evaluate, wait_for_function, or called inside other page JS."""
    return f"(() => {{ {_PLOT_AREA}\nreturn {fn.strip()}; }})()"


# ----------------------------------------------------------------------------------------------
# Writers

_files = itertools.count()


def write_scalars(logs: Path, run: str, points: Iterable[tuple[str, int, float, float]], suffix: str = "") -> None:
    """(tag, step, value, wall) points written by tensorboardX into a new event file of `run`,
    closed at once (tensorboardX's `flush()` leaves the newest events in its writer thread)."""
    from tensorboardX import SummaryWriter

    w = SummaryWriter(str(logs / run), filename_suffix=suffix or f".w{next(_files)}")
    for tag, step, value, wall in points:
        w.add_scalar(tag, value, step, walltime=wall)
    w.close()


def write_live(logs: Path, run: str, tag: str, step: int, value: float) -> None:
    """One point written now, as a training job writes it while the page is open."""
    write_scalars(logs, run, [(tag, step, value, time.time())])


def write_tf2_hparams(exp: Path, trials: Sequence[Mapping[str, Any]], metrics: Sequence[str],
                      value: Callable[[str, int, int], float], wall: float, steps: int = 3) -> list[str]:
    """TF2's hparams layout with TensorBoard's own builders: hp.hparams_config in `exp`, then per
    trial i `exp/run-i` with its hp.hparams and `steps` steps of every metric (value(metric, i,
    step)). Returns the trials' run names ("<exp's name>/run-i")."""
    from tensorboard.compat.proto import event_pb2
    from tensorboard.plugins.hparams import summary_v2 as hp
    from tensorboard.summary import Writer
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    def emit(directory: Path, summary) -> None:  # type: ignore[no-untyped-def]
        ev = EventFileWriter(str(directory))
        event = event_pb2.Event(step=0, wall_time=wall)
        event.summary.CopyFrom(summary)
        ev.add_event(event)
        ev.close()

    emit(exp, hp.hparams_config_pb([hp.HParam(name) for name in trials[0]], [hp.Metric(m) for m in metrics],
                                   time_created_secs=wall))
    runs = []
    for i, values in enumerate(trials):
        emit(exp / f"run-{i}", hp.hparams_pb(dict(values), start_time_secs=wall + i))
        w = Writer(str(exp / f"run-{i}"))
        for step in range(steps):
            for metric in metrics:
                w.add_scalar(metric, value(metric, i, step), step)
        w.close()
        runs.append(f"{exp.name}/run-{i}")
    return runs
