"""A hostile logdir for the fuzzers, written with real writers.

What a diverging job and an unlucky user leave behind, in one place: NaN/+Inf/-Inf scalars,
histograms whose sum/min/max/edges are NaN or infinite (tensorboardX `add_histogram_raw`),
an hparams metric that is NaN, an exception tensor full of NaN/Inf (the `tsvis` writer), and
runs and tags named with unicode, spaces, quotes, HTML, `%`, `?`, `#`, emoji and 200+
characters. Media (images, audio, text, PR curves, embeddings, a graph) come from the torch
writer of `tests/writers.py`. `build(root)` returns what was written, so a fuzzer can check
the server still lists it.

Also what both fuzzers share: the body checks (strict JSON, no traceback, no server path),
the hostile values, the budget (TSVIS_FUZZ_EXAMPLES), a reader of the server's log that names
the exception behind a failure, and the summary printed after each module.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

from tests import writers

NAN, INF = float("nan"), float("inf")

# Directory names a user may well choose (every one is a legal file name on Linux).
ODD_RUNS = [
    "ünïcødé 日本語",
    "with space",
    "quo\"te's",
    "<img src=x onerror=alert(1)>",
    "L" * 200,
    "100%",
    "what?x=1",
    "hash#tag",
    "🔥emoji🎉",
]
# Tag names written into every odd run (tags may contain '/').
ODD_TAGS = [
    "loss",
    "ü/ß päth",
    "sp ace/ta g",
    "q\"t'",
    "<img src=x>",
    "pct%20%",
    "q?a=1&b=2",
    "h#1",
    "🔥/📉",
    "t" * 300,
]
NAN_SCALARS = [1.0, NAN, INF, -INF, 2.5]
LONG_STEPS = 3000  # a series long enough to be downsampled


@dataclass
class FuzzLogs:
    """What `build` wrote: run -> scalar tags, and the runs holding each other kind."""

    root: Path
    scalars: dict[str, list[str]] = field(default_factory=dict)
    histograms: dict[str, list[str]] = field(default_factory=dict)

    @property
    def runs(self) -> list[str]:
        return sorted(set(self.scalars) | set(self.histograms))


def _write_nan_run(logdir: Path, logs: FuzzLogs, run: str) -> None:
    """NaN/Inf scalars, a long series, NaN histograms, a NaN hparams metric (tensorboardX)."""
    from tensorboardX import SummaryWriter

    w = SummaryWriter(str(logdir / run), max_queue=100_000, flush_secs=3600)
    wall = writers.WALL0
    for step, value in enumerate(NAN_SCALARS):
        w.add_scalar("odd/values", value, step, walltime=wall + step)
    for step in range(LONG_STEPS):
        w.add_scalar("long", float(np.sin(step / 50.0)), step, walltime=wall + step)
    limits, counts = [0.0, 1.0, 2.0], [1.0, 2.0, 3.0]
    for step in range(3):  # a good histogram first, so the tag has something readable
        w.add_histogram("h/good", np.arange(10.0) + step, step, walltime=wall + step)
    w.add_histogram_raw("h/nan_sum", 0.0, 2.0, 6, NAN, 10.0, limits, counts, 0, walltime=wall)
    w.add_histogram_raw("h/nan_sum", 0.0, 2.0, 6, 5.0, 10.0, limits, counts, 1, walltime=wall + 1)
    w.add_histogram_raw("h/nan_minmax", NAN, NAN, 6, 5.0, NAN, limits, counts, 0, walltime=wall)
    w.add_histogram_raw("h/inf_edges", -INF, INF, 6, INF, INF, [-INF, 0.0, INF], counts, 0, walltime=wall)
    w.add_hparams({"lr": 0.1, "opt": "adam"}, {"m/acc": NAN, "m/loss": INF}, name="hp", global_step=1)
    w.close()
    logs.scalars[run] = ["long", "odd/values"]
    logs.histograms[run] = ["h/good", "h/inf_edges", "h/nan_minmax", "h/nan_sum"]


def _write_odd_run(logdir: Path, logs: FuzzLogs, run: str, rng: np.random.Generator) -> None:
    """Odd tag names for scalars, a histogram, an image and a text, in an oddly named run.

    tensorboardX's `add_*` would sanitize the tags (`<img src=x>` -> `_img_src_x_`), so the
    summaries are built with its own summary functions and only the tag is replaced, then
    written by its file writer: exactly what another writer (or TensorFlow) may store.
    """
    from tensorboardX import SummaryWriter
    from tensorboardX import summary as xs
    from tensorboardX.proto.summary_pb2 import Summary

    w = SummaryWriter(str(logdir / run), max_queue=100_000, flush_secs=3600)
    out = w._get_file_writer()
    wall = writers.WALL0

    def emit(tag: str, value: Summary.Value, step: int) -> None:
        value = Summary.Value.FromString(value.SerializeToString())
        value.tag = tag
        out.add_summary(Summary(value=[value]), step, wall + step)

    for tag in ODD_TAGS:
        for step in range(3):
            number = [NAN, 1.0, -INF][step] if tag == "loss" else step * 0.5
            out.add_summary(Summary(value=[Summary.Value(tag=tag, simple_value=number)]), step, wall + step)
    emit(ODD_TAGS[4], xs.histogram("h", rng.normal(size=50), "auto").value[0], 1)
    emit(ODD_TAGS[1], xs.image("i", rng.random((3, 4, 5)).astype(np.float32)).value[0], 1)
    emit(ODD_TAGS[8], xs.text("t", "<script>alert(1)</script> ✓").value[0], 1)
    cube = np.array([[[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]], dtype=np.float32)
    faces = np.array([[[0, 1, 3], [0, 3, 2], [4, 5, 7], [4, 7, 6]]], dtype=np.int32)
    w.add_mesh("mesh/<b>cube</b>", cube, faces=faces, global_step=1)
    w.add_mesh("mesh/cloud", cube * np.float32(NAN) if run == ODD_RUNS[0] else cube, global_step=2)
    w.close()
    logs.scalars[run] = list(ODD_TAGS)
    logs.histograms[run] = [ODD_TAGS[4]]


_TSVIS_EXCEPTIONS = textwrap.dedent(
    """
    import sys
    import numpy as np
    from tsvis import SummaryWriter
    w = SummaryWriter(sys.argv[1], max_queue=1000, flush_secs=3600)
    rng = np.random.default_rng(7)
    for step in range(3):
        grad = rng.normal(size=(4, 6))
        grad[0, step] = np.nan
        grad[1, 0] = np.inf
        grad[2, 1] = -np.inf
        w.add_exception("grad/ü nan", grad, step)
    w.add_exception("all_nan", np.full((2, 3), np.nan), 0)
    w.add_embedding("emb/ö", rng.random((12, 3)).astype(np.float32),
                    label=np.array(["<b>x</b>", "ü", "", "a\\tb"] * 3), step=2)
    w.close()
    """
)


def _write_tsvis_run(run_dir: Path) -> None:
    """Exception tensors with NaN/Inf and an embedding with odd labels (the `tsvis` writer)."""
    run_dir.mkdir(parents=True)
    env = dict(os.environ, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python")
    subprocess.run([sys.executable, "-c", _TSVIS_EXCEPTIONS, str(run_dir)], env=env, check=True,
                   capture_output=True, timeout=120)


def build(root: Path) -> FuzzLogs:
    """Write the hostile logdir under `root` (created) and describe it."""
    root.mkdir(parents=True, exist_ok=True)
    logs = FuzzLogs(root)
    rng = np.random.default_rng(99)
    env_before = dict(os.environ)
    try:
        _write_nan_run(root, logs, "nan")
        for run in ODD_RUNS:
            _write_odd_run(root, logs, run, rng)
        (root / "media").mkdir()
        writers.write_torch_logs(root / "media")  # images, audio, text, PR, hparams, graph, embedding
        logs.scalars["media"] = ["acc64", "loss", "lr"]
        logs.histograms["media"] = ["weights"]
        _write_tsvis_run(root / "exc")
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    return logs


# -- what every fuzzer asserts about a body ------------------------------------------------

LEAK_MARKERS = ("Traceback", 'File "', "/root", "site-packages")


def _no_constants(name: str) -> None:
    raise ValueError(f"bare {name} is not JSON")


def strict_json(text: str | bytes) -> Any:
    """`json.loads` that refuses NaN/Infinity (what a browser's JSON.parse refuses)."""
    return json.loads(text, parse_constant=_no_constants)


def leaks(body: str, secret_paths: list[str]) -> list[str]:
    """The traceback markers and server paths found in `body` (none is the only good answer)."""
    found = [m for m in LEAK_MARKERS if m in body]
    return found + [p for p in secret_paths if p and p in body]


def secret_paths(*dirs: Path) -> list[str]:
    """Absolute paths a body must never show: the given dirs and the package's own source."""
    import tsvis_live

    paths = [str(Path(tsvis_live.__file__).resolve().parent.parent)]
    for d in dirs:
        paths += [str(d), str(Path(d).resolve())]
    return sorted(set(paths))


# -- hostile values shared by the fuzzers --------------------------------------------------

HOSTILE_STRINGS = [
    "", " ", "\x00", "a\x00b", "\t\r\n", "\r\nX-Injected: 1",
    "../../../../etc/passwd", "/etc/passwd", "..\\..\\boot.ini", "C:\\Windows\\win.ini", "x/../y",
    "%2e%2e%2f%2e%2e%2fetc", "..", ".", "./", "//server/share",
    "'; DROP TABLE runs;--", "\" OR 1=1 --", "<script>alert(1)</script>", "{{7*7}}", "${jndi:ldap://x}",
    "null", "undefined", "NaN", "Infinity", "-Infinity", "true", "[]", "{}", "[[[[[[[[", "{\"a\":",
    "\u202e\u0644\u0627", "\x1b[31mred", "\ufeffbom", "ünïcødé 日本語", "🔥" * 50, "é" * 3000, "A" * 5000,
]
HOSTILE_NUMBERS = [
    "-1", "0", "1", "-0", "2147483647", "2147483648", str(2**53 + 1), str(2**62), str(2**63 - 1),
    str(2**63), str(2**64), str(-(2**63)), str(-(2**63) - 1), str(10**30), str(-(10**30)), "9" * 5000,
    "1e400", "-1e400", "1e308", "1.5", "12.0", "-0.0", "nan", "NaN", "inf", "-inf", "Infinity",
    "0x10", " 3 ", "+5", "1_000", "٣", "１２", "1e2", "1,2", "", "abc",
]


def hostile_text() -> st.SearchStrategy[str]:
    """Fixed nasty strings or arbitrary unicode text (no surrogates: they cannot be sent)."""
    free = st.text(st.characters(exclude_categories=["Cs"]), max_size=64)
    return st.one_of(st.sampled_from(HOSTILE_STRINGS), free).filter(lambda s: not leaks(s, []))


def hostile_number() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(HOSTILE_NUMBERS),
        st.integers().map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        hostile_text(),
    )


def hostile_extras(session_id: str) -> st.SearchStrategy[tuple[str, list[tuple[str, str]], bytes | None]]:
    """Rarely another method (only GET is served), hostile headers, a body (over 1 MiB: 413)."""
    header = st.one_of(
        st.tuples(st.just("Host"), st.sampled_from(["evil.example", "evil.example:80", "127.0.0.1:1", "localhost",
                                                     "[::1]", "", "a" * 300, "127.0.0.1.evil.example", "0x7f.1"])),
        st.tuples(st.just("Cookie"), st.sampled_from([session_id, "../x", "0" * 16, "A" * 4000, '"q"', "%00", ""])
                  .map(lambda v: f"session_id={v}")),
        st.tuples(st.just("Authorization"), st.sampled_from(["Bearer x", "Bearer " + "t" * 5000, "Basic Og==", ""])),
        st.tuples(st.just("Origin"), st.sampled_from(["http://evil.example", "null", "file://"])),
        st.tuples(st.just("If-None-Match"), st.sampled_from(['"abc"', "*", 'W/"x"', '"' + "0" * 64 + '"'])),
        st.tuples(st.sampled_from(["Range", "Accept-Encoding", "X-Forwarded-For", "Accept"]),
                  st.sampled_from(["bytes=0-1", "bytes=-1", "gzip, br", "1.2.3.4", "*/*", "text/html"])),
    )
    method = st.sampled_from(["GET"] * 6 + ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
    body = st.sampled_from([None, b"{}", b"x" * (2 * 1024 * 1024)])
    return st.tuples(method, st.lists(header, max_size=2, unique_by=lambda h: h[0]), body)


def nested(depth: int, kind: str = "[") -> str:
    """JSON (or almost JSON) nested `depth` deep."""
    if kind == "[":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def fuzz_examples(default: int) -> int:
    """The example budget: `default`, or TSVIS_FUZZ_EXAMPLES for a long run."""
    raw = os.environ.get("TSVIS_FUZZ_EXAMPLES", "")
    return int(raw) if raw.strip() else default


def print_summary(request: Any, text: str) -> None:
    """Show a fuzzer's summary on the terminal even when the tests pass (and output is captured)."""
    capman = request.config.pluginmanager.getplugin("capturemanager")
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    if reporter is None:
        print(text)
        return
    with capman.global_and_fixture_disabled() if capman else contextlib.nullcontext():
        reporter.write_line(text)


class ServerLog:
    """A server's log read as it grows, to name the exception behind a failure."""

    ERROR = re.compile(r"^(\w+(?:\.\w+)*(?:Error|Exception|Exit)\b[^\n]*)", re.M)

    def __init__(self, path: Path) -> None:
        self.path, self.offset = Path(path), 0

    def next_error(self, wait: float = 0.0) -> str:
        """The last exception line logged since the previous call; waits up to `wait` s for one
        (a server may log just after answering); '' when there is none."""
        deadline = time.monotonic() + wait
        while True:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                new = f.read()
            found = self.ERROR.findall(new.decode(errors="replace"))
            if found or time.monotonic() >= deadline:
                self.offset += len(new)
                return found[-1][:160] if found else ""
            time.sleep(0.05)
