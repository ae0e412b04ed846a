"""Property-based HTTP fuzzer: every route of docs/api.md and /api/live/* against ONE real server.

The server (tests/serverproc.py, started once for this module) serves the hostile logdir of
`tests/fuzzlogs.py`: NaN/Inf scalars, NaN/Inf histograms, odd run and tag names, media.
Hypothesis fills each route's documented parameters with values from the server's own
getCategory answer (and the steps its list endpoints report) mixed with hostile ones: huge
and negative integers, floats, NaN, empty, long strings, NUL, unicode, path traversal, nested
JSON where JSON is expected, repeated and unknown parameters. Every response must have:
status < 500; a strict-JSON body when the type is JSON (no bare NaN/Infinity); a JSON envelope
with a sentence for every 4xx; no traceback and no server path in the body; and the
keep-alive connection still open afterwards (all requests share one httpx.Client).

Budget: about 2,000 requests spread evenly over the routes (well under a minute). A longer
run: `TSVIS_FUZZ_EXAMPLES=50000 python -m pytest -q tests/test_fuzz_http.py` (the total
number of requests). Reproducible: `derandomize=True` and no example database, so CI draws
the same requests every time. Failures are collected, not shrunk: each route's test fails
with the shortest failing request per distinct error (the server log names the exception).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests import fuzzlogs
from tests.fuzzlogs import hostile_number, hostile_text, nested
from tests.serverproc import ServerProcess

TOTAL = fuzzlogs.fuzz_examples(2000)
SERIES = ("run", "tag")
# route -> {parameter: kind}; "tag" is drawn from the getCategory section named in SECTION.
ROUTES: dict[str, dict[str, str]] = {
    "/api/init": {"id": "name", "trainJobName": "name"},
    "/api/getCategory": {"test": "int"},
    "/api/scalar": {"run": "run", "tag": "tag", "max_points": "int", "start_step": "step", "end_step": "step"},
    "/api/histogram": {"run": "run", "tag": "tag", "samples": "int", "start_step": "step", "end_step": "step"},
    "/api/distribution": {"run": "run", "tag": "tag", "samples": "int", "start_step": "step", "end_step": "step"},
    "/api/image": {"run": "run", "tag": "tag", "offset": "int", "limit": "int"},
    "/api/audio": {"run": "run", "tag": "tag", "offset": "int", "limit": "int"},
    "/api/text": {"run": "run", "tag": "tag", "offset": "int", "limit": "int"},
    "/api/image_raw": {"run": "run", "tag": "tag", "step": "step", "index": "int"},
    "/api/audio_raw": {"run": "run", "tag": "tag", "step": "step", "index": "int"},
    "/api/blob": {"run": "run", "tag": "tag", "step": "step", "index": "int", "kind": "choice:image|audio|text",
                  "v": "version"},
    "/api/graph": {"run": "run", "tag": "choice:s_graph|c_graph"},
    "/api/projector": {"run": "run", "tag": "tag"},
    "/api/projector_data": {"run": "run", "tag": "tag", "step": "step", "method": "choice:pca|tsne|PCA",
                            "dims": "choice:2|3"},
    "/api/projector_sample": {"run": "run", "tag": "tag", "index": "int"},
    "/api/projector_raw": {"run": "run", "tag": "tag", "step": "step"},
    "/api/projector_sprite": {"run": "run", "tag": "tag", "start": "int", "count": "int", "size": "int"},
    "/api/projector_metadata": {"run": "run", "tag": "tag", "step": "step"},
    "/api/mesh/tags": {"run": "run"},
    "/api/mesh/steps": {"run": "run", "tag": "tag"},
    "/api/mesh/data": {"run": "run", "tag": "tag", "step": "step", "sample": "int", "encoding": "choice:base64|json"},
    "/api/getEmbedding": {"run": "run", "tag": "tag", "step": "step"},
    "/api/exception": {"run": "run", "tag": "tag"},
    "/api/exception_data": {"run": "run", "tag": "tag", "step": "step"},
    "/api/exception_hist": {"run": "run", "tag": "tag", "step": "step", "buckets": "int"},
    "/api/exception_box": {"run": "run", "tag": "tag", "step": "step", "up": "number", "down": "number"},
    "/api/hyperparm": {"run": "run"},
    "/api/getCustom": {},
    "/api/getRoc": {"run": "run", "tag": "tag"},
    "/api/live/scalars": {"run": "run", "tag": "tag", "max_points": "int", "start_step": "step",
                          "end_step": "step", "smoothing": "number"},
    "/api/live/export": {"run": "run", "tag": "tag", "format": "choice:csv|json|CSV"},
    "/api/live/poll": {"since": "cursor", "subs": "subs"},
    "/api/live/status": {},
    "*": {},  # any other path: the UI routes and unknown endpoints
}
SECTION = {
    "/api/scalar": "scalar", "/api/live/scalars": "scalar", "/api/live/export": "scalar",
    "/api/histogram": "histogram", "/api/distribution": "histogram",
    "/api/image": "image", "/api/image_raw": "image", "/api/blob": "media",
    "/api/audio": "audio", "/api/audio_raw": "audio", "/api/text": "text",
    "/api/graph": "graph", "/api/hyperparm": "hyperparm", "/api/getRoc": "roc",
    "/api/exception": "exception", "/api/exception_data": "exception", "/api/exception_hist": "exception",
    "/api/exception_box": "exception",
}
SECTION.update({r: "embedding" for r in ROUTES if "projector" in r or r == "/api/getEmbedding"})
SECTION.update({r: "mesh" for r in ROUTES if r.startswith("/api/mesh/")})
OTHER_PATHS = ["/", "/index.html", "/api/nope", "/api", "/api/", "/ws", "/assets/x.js", "/%2e%2e/%2e%2e/etc/passwd",
               "/..%2f..%2fetc%2fpasswd", "/assets/..%2f..%2f..%2fapp.py", "/static/../../x", "/api/live",
               "/api/live/nope", "/favicon.ico", "/%00", "/index.html%00.js", "/" + "a" * 3000]
LOST = "keep-alive connection lost after the answer"
MODES = ("valid",) * 6 + ("hostile",) * 3 + ("omit",)


class Pools:
    """Valid values, as the server itself lists them."""

    def __init__(self, client: httpx.Client, url: str) -> None:
        status = client.get(url + "/api/live/status").json()["data"]
        self.session_id, self.cursor = status["session_id"], status["cursor"]
        cat = client.get(url + "/api/getCategory").json()["data"]
        self.runs = sorted(cat)
        self.pairs: dict[str, list[tuple[str, str]]] = {}
        for run, sections in cat.items():
            for group in sections.get("scalar", {}).values():
                self._add("scalar", run, group)
            self._add("histogram", run, sections.get("statistic", {}).get("histogram", []))
            for kind in ("image", "audio", "text"):
                self._add(kind, run, sections.get("media", {}).get(kind, []))
                self._add("media", run, sections.get("media", {}).get(kind, []))
            for section in ("embedding", "roc", "exception", "graph"):
                self._add(section, run, sections.get(section, []))
            if "hyperparm" in sections:
                self._add("hyperparm", run, [""])
        for run, meshes in client.get(url + "/api/mesh/tags").json()["data"].items():
            self._add("mesh", run, list(meshes))
        self.steps: dict[tuple[str, str], list[int]] = {}
        self.versions: list[str] = []
        for kind in ("image", "audio", "text"):
            for run, tag in self.pairs.get(kind, []):
                entries = client.get(url + f"/api/{kind}", params={"run": run, "tag": tag}).json()["data"][tag]
                self.steps[(run, tag)] = sorted({e["step"] for e in entries})
                self.versions += [e["v"] for e in entries if "v" in e]
        for run, tag in self.pairs.get("embedding", []):
            r = client.get(url + "/api/projector", params={"run": run, "tag": tag})
            if r.status_code == 200:
                self.steps[(run, tag)] = r.json()["data"][tag]
        for run, tag in self.pairs.get("exception", []):
            self.steps[(run, tag)] = client.get(url + "/api/exception", params={"run": run, "tag": tag}).json()[
                "data"][tag]["step"]
        self.all_steps = sorted({s for steps in self.steps.values() for s in steps} | {0, 1, 2, 3, 4})

    def _add(self, section: str, run: str, tags: list[str]) -> None:
        self.pairs.setdefault(section, []).extend((run, t) for t in tags)


def _valid_subs(pools: Pools) -> st.SearchStrategy[str]:
    keys = [("scalar", r, t) for r, t in pools.pairs["scalar"]] + [("histogram", r, t) for r, t in pools.pairs["histogram"]]
    sub = st.sampled_from(keys).map(lambda k: {"kind": k[0], "run": k[1], "tag": k[2]})
    return st.lists(sub, max_size=4).map(json.dumps)


def _hostile_subs(pools: Pools) -> st.SearchStrategy[str]:
    run, tag = pools.pairs["scalar"][0]
    fixed = [
        nested(3), nested(100), nested(990), nested(1500), nested(5000), nested(3000, "{"), "[" * 2000,
        '{"kind":"scalar"}', "[1,2]", "[null]", '[{"kind":[1],"run":"a","tag":"b"}]',
        '[{"kind":{"a":1},"run":"a","tag":"b"}]', '[{"kind":"scalar","run":NaN,"tag":Infinity}]',
        '[{"kind":"scalar","run":"a"}]', json.dumps([{"kind": "scalar", "run": run, "tag": tag}] * 501),
        json.dumps([{"kind": "scalar", "run": run, "tag": tag, "extra": {"deep": [[[[1]]]]}}]), "1e999",
        '"' + "a" * 5000 + '"', "[" + "1," * 3000 + "1]",
    ]
    deep = st.integers(1, 6000).map(lambda d: nested(d, "["))
    return st.one_of(st.sampled_from(fixed), deep, hostile_text())


def _strategies(pools: Pools) -> dict[str, st.SearchStrategy[str]]:
    """Valid values per parameter kind (hostile ones are mixed in by `query`)."""
    return {
        "name": st.sampled_from(["t", "x", "run", pools.runs[0]]),
        "int": st.one_of(st.sampled_from([0, 1, 2, 3, 4, 10, 100, 2000]), st.integers(0, 5000)).map(str),
        "step": st.one_of(st.sampled_from(pools.all_steps), st.integers(0, 3000)).map(str),
        "number": st.one_of(st.floats(-1e6, 1e6), st.sampled_from([0.0, 0.5, 0.99])).map(repr),
        "cursor": st.integers(0, pools.cursor + 10).map(str),
        "version": st.sampled_from(pools.versions or ["0" * 16]),
        "subs": _valid_subs(pools),
    }


@dataclass
class Call:
    """One request to make: a path, its query, and sometimes another method, headers or a body."""

    path: str
    params: list[tuple[str, str]]
    method: str = "GET"
    headers: list[tuple[str, str]] | None = None
    body: bytes | None = None


@st.composite
def query(draw: st.DrawFn, route: str, pools: Pools) -> Call:
    """A Call for `route`: each parameter valid, hostile or left out; sometimes repeated."""
    method, headers, body = draw(fuzzlogs.hostile_extras(pools.session_id)) if draw(st.integers(0, 7)) == 0 else ("GET", [], None)
    if route == "*":
        path = draw(st.one_of(st.sampled_from(OTHER_PATHS), hostile_text().map(lambda s: "/" + s)))
        return Call(path, [], method, headers, body if method in ("POST", "PUT", "PATCH") else None)
    spec, valid = ROUTES[route], _strategies(pools)
    pairs = pools.pairs.get(SECTION.get(route, ""), [])
    pair = draw(st.sampled_from(pairs)) if pairs else (pools.runs[0], "x")
    params: list[tuple[str, str]] = []
    for name, kind in spec.items():
        mode = draw(st.sampled_from(MODES))
        if mode == "omit":
            continue
        if mode == "hostile":
            hostile = _hostile_subs(pools) if kind == "subs" else (
                hostile_number() if kind in ("int", "step", "number", "cursor") else hostile_text())
            params.append((name, draw(hostile)))
        elif name in SERIES:
            other = draw(st.sampled_from(pools.runs)) if name == "run" else draw(st.sampled_from(
                [t for _, t in pairs] or ["x"]))
            params.append((name, pair[SERIES.index(name)] if draw(st.integers(0, 4)) else other))
        elif kind.startswith("choice:"):
            params.append((name, draw(st.sampled_from(kind[7:].split("|")))))
        elif kind == "step" and pools.steps.get(pair) and draw(st.booleans()):
            params.append((name, str(draw(st.sampled_from(pools.steps[pair])))))
        else:
            params.append((name, draw(valid[kind])))
    if params and draw(st.integers(0, 7)) == 0:  # a repeated parameter, before or after
        name = draw(st.sampled_from([n for n, _ in params]))
        extra = (name, draw(st.one_of(hostile_number(), hostile_text())))
        params.insert(draw(st.integers(0, len(params))), extra)
    if draw(st.integers(0, 9)) == 0:  # the session addressed explicitly, or a bogus one
        params.append(("session_id", draw(st.sampled_from([pools.session_id, "0" * 16, "../x", "", "🔥"]))))
    if draw(st.integers(0, 9)) == 0:
        params.append((draw(st.sampled_from(["test", "", "a" * 300, "run[]", "__proto__"])), draw(hostile_text())))
    return Call(route, draw(st.permutations(params)), method, headers, body if method in ("POST", "PUT", "PATCH") else None)


@dataclass
class Sent:
    """One request as sent, for the report."""

    route: str
    request: str  # path and query, as on the wire
    addr: Any = None  # the client end of the connection that carried the answer
    end: float = 0.0
    error: str | None = None  # the server's exception line, once looked up


class Checker:
    """Sends requests on one keep-alive connection and records every broken promise."""

    def __init__(self, server: ServerProcess, logdir: Path, data_dir: Path) -> None:
        self.server = server
        self.client = httpx.Client(timeout=120)
        self.secrets = fuzzlogs.secret_paths(logdir, data_dir)
        self.log = fuzzlogs.ServerLog(server.log_path)
        self.sent: Counter[str] = Counter()
        self.failures: dict[tuple[str, str], dict[str, Any]] = {}
        self._last: Sent | None = None

    def server_error(self, sent: Sent) -> str:
        if sent.error is None:
            sent.error = self.log.next_error(wait=1.0)
        return sent.error

    def send(self, route: str, call: Call) -> None:
        try:
            req = self.client.build_request(call.method, self.server.url + call.path, params=call.params,
                                            headers=call.headers, content=call.body)
        except (httpx.InvalidURL, UnicodeError, ValueError):
            return  # not even sendable (the client refuses it): nothing to learn
        self.sent[route] += 1
        extra = [f"{k}: {v[:40]}" for k, v in call.headers or []] + ([f"body {len(call.body)} B"] if call.body else [])
        sent = Sent(route, f"{call.method} {req.url.raw_path.decode('ascii')}" + (f" [{'; '.join(extra)}]" if extra else ""))
        started = time.monotonic()
        last, self._last = self._last, None
        try:
            r = self.client.send(req)
        except httpx.LocalProtocolError:  # the client's h11 refuses it (e.g. an empty Host)
            self.sent[route] -= 1
            self._last = last
            return
        except httpx.TransportError as exc:
            if last is None:
                self._fail(sent, "connection dropped without an answer", type(exc).__name__, True)
                return
            # the previous answer left a dead connection behind: its fault; try this one afresh
            self._fail(last, LOST, f"next request: {type(exc).__name__}", True)
            self._last = None
            self.sent[route] -= 1
            return self.send(route, call)
        sent.end = time.monotonic()
        try:
            sent.addr = r.extensions["network_stream"].get_extra_info("client_addr")
        except OSError:  # the server closed the socket with (or right after) this answer
            if r.headers.get("connection", "").lower() != "close":
                self._fail(sent, LOST, "socket closed with the answer", True)
        # uvicorn keeps an idle connection 5 s: a new one after a short pause means the last closed it
        if last is not None and sent.addr not in (None, last.addr) and started - last.end < 2.0:
            self._fail(last, LOST, "next request needed a new connection", True)
        for problem in self.problems(route, r, call.method):
            self._fail(sent, problem, f"status {r.status_code}", r.status_code >= 500)
        self._last = sent if sent.addr is not None else None

    def problems(self, route: str, r: httpx.Response, method: str = "GET") -> list[str]:
        found = []
        if r.status_code >= 500:
            found.append(f"HTTP {r.status_code}")
        if r.headers.get("connection", "").lower() == "close":
            found.append("Connection: close")
        text = r.content.decode("utf-8", errors="replace")
        body: Any = None
        if method == "HEAD":  # no body to check
            return found
        if "json" in r.headers.get("content-type", ""):
            try:
                body = fuzzlogs.strict_json(r.content)
            except ValueError as exc:
                found.append(f"not strict JSON: {str(exc)[:80]}")
        if 400 <= r.status_code < 500 and not (
                isinstance(body, dict) and body.get("code") == r.status_code
                and isinstance(body.get("msg"), str) and body["msg"].strip()):
            found.append(f"{r.status_code} without a JSON envelope and a sentence")
        if route == "/api/live/status" and isinstance(body, dict) and isinstance(body.get("data"), dict):
            body["data"].pop("logdir", None)  # shown to a loopback client on purpose (issue 8 #13)
            text = json.dumps(body, ensure_ascii=False)
        found += [f"leaks {marker!r}" for marker in fuzzlogs.leaks(text, self.secrets)]
        return found

    def _fail(self, sent: Sent, problem: str, detail: str, server_side: bool = False) -> None:
        error = self.server_error(sent) if server_side else ""
        key = (sent.route, f"{problem} {error}".strip())
        entry = self.failures.setdefault(key, {"count": 0, "request": sent.request, "detail": detail})
        entry["count"] += 1
        if len(sent.request) < len(entry["request"]):
            entry["request"], entry["detail"] = sent.request, detail

    def snapshot(self) -> dict[tuple[str, str], int]:
        return {k: v["count"] for k, v in self.failures.items()}

    def report(self, since: dict[tuple[str, str], int] | None = None) -> str:
        """One line per distinct failure (only those new or recurring after `since`)."""
        since = since or {}
        return "\n".join(f"{r}: {p} x{e['count']} ({e['detail']}) e.g. {e['request'][:300]}"
                         for (r, p), e in sorted(self.failures.items()) if since.get((r, p)) != e["count"])


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[tuple[Checker, Pools]]:
    base = tmp_path_factory.mktemp("fuzz_http")
    fuzzlogs.build(base / "logs")
    server = ServerProcess(base / "logs", base / "data")
    checker = None
    try:
        server.wait_ready(120)
        checker = Checker(server, base / "logs", base / "data")
        yield checker, Pools(checker.client, server.url)
    finally:
        if checker is not None:
            failed = sum(e["count"] for e in checker.failures.values())
            summary = (f"\nHTTP fuzz: {sum(checker.sent.values())} requests over {len(checker.sent)} routes "
                       f"(derandomized, TSVIS_FUZZ_EXAMPLES={TOTAL}), {failed} failures\n{checker.report()}")
            fuzzlogs.print_summary(request, summary)
            checker.client.close()
        server.stop()


def test_hostile_logdir_is_served(fuzz: tuple[Checker, Pools]) -> None:
    """Every run written is listed, NaN histograms included: otherwise the fuzzing has no teeth."""
    checker, pools = fuzz
    written = {"nan", "media", "exc", *fuzzlogs.ODD_RUNS}
    assert written <= set(pools.runs), f"runs missing from getCategory: {written - set(pools.runs)}"
    hist = {t for r, t in pools.pairs["histogram"] if r == "nan"}
    assert {"h/nan_sum", "h/nan_minmax", "h/inf_edges"} <= hist
    assert {t for r, t in pools.pairs["scalar"] if r == fuzzlogs.ODD_RUNS[3]} == set(fuzzlogs.ODD_TAGS)
    assert pools.steps and pools.versions


KNOWN = [  # issue 8 #12 and friends: always sent, whatever Hypothesis draws
    ("/api/image", {"run": "media", "tag": "img", "offset": str(2**63)}),
    ("/api/text", {"run": "media", "tag": "note/text_summary", "limit": "10", "offset": str(10**30)}),
    ("/api/scalar", {"run": "nan", "tag": "long", "start_step": str(10**30)}),
    ("/api/scalar", {"run": "nan", "tag": "long", "end_step": str(-(2**63) - 1)}),
    ("/api/histogram", {"run": "nan", "tag": "h/nan_sum", "start_step": str(2**63)}),
    ("/api/live/scalars", {"run": "nan", "tag": "long", "start_step": str(2**64), "end_step": str(2**65)}),
    ("/api/image_raw", {"run": "media", "tag": "img", "step": str(2**63)}),
    ("/api/blob", {"run": "media", "tag": "img", "step": "2", "index": str(2**63)}),
    ("/api/getEmbedding", {"run": "exc", "tag": "emb/ö", "step": str(10**30)}),
    ("/api/exception_hist", {"run": "exc", "tag": "grad/ü nan", "step": str(2**63)}),
    ("/api/live/poll", {"since": str(2**63)}),
    ("/api/live/poll", {"since": str(10**30), "subs": '[{"kind":"scalar","run":"nan","tag":"long"}]'}),
    ("/api/live/poll", {"subs": nested(5000)}),
    ("/api/live/poll", {"subs": '[{"kind":[1],"run":"a","tag":"b"}]'}),
    ("/api/live/export", {"run": "ünïcødé 日本語", "tag": "loss"}),
    ("/api/live/export", {"run": "nan", "tag": "odd/values", "format": "json"}),
    ("/api/live/export", {"run": "🔥emoji🎉", "tag": "🔥/📉", "format": "csv"}),
    ("/api/init", {"id": "A" * 5000, "trainJobName": "t"}),
    ("/api/scalar", {"run": "nan", "tag": "long", "max_points": str(10**30)}),
    ("/api/exception_box", {"run": "exc", "tag": "grad/ü nan", "step": "0", "up": "1e400", "down": "nan"}),
]


@pytest.mark.parametrize(("route", "params"), KNOWN, ids=[f"{r}-{i}" for i, (r, _) in enumerate(KNOWN)])
def test_known_attacks(fuzz: tuple[Checker, Pools], route: str, params: dict[str, str]) -> None:
    checker, _ = fuzz
    before = checker.snapshot()
    checker.send(route, Call(route, list(params.items())))
    assert not checker.report(before), checker.report(before)


@pytest.mark.parametrize("route", list(ROUTES))
def test_fuzz_route(fuzz: tuple[Checker, Pools], route: str) -> None:
    """TOTAL / len(ROUTES) requests to `route`; every one keeps every promise."""
    checker, pools = fuzz
    before = checker.snapshot()

    @settings(max_examples=max(5, TOTAL // len(ROUTES)), derandomize=True, database=None, deadline=None,
              phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))
    @given(query(route, pools))
    def run(call: Call) -> None:
        checker.send(route, call)

    run()
    assert not checker.report(before), f"{route} ({checker.sent[route]} requests):\n{checker.report(before)}"
    assert checker.sent[route] >= 5
