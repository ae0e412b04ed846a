"""WebSocket fuzzer: random valid and hostile frames on /ws of ONE real server.

The server (tests/serverproc.py, started once for this module) serves the hostile logdir of
`tests/fuzzlogs.py`. Each Hypothesis example opens a connection (the `websockets` client),
sends a random sequence of frames (subscribe/unsubscribe per docs/protocol.md with valid and
hostile kinds, runs, tags, `since` and `max_points`; ping; options; unknown ops; non-JSON;
deeply nested JSON; binary frames; frames of 64 KiB to 17 MiB), then a ping, and reads until
the pong. The rules:
- the server never drops the TCP connection without a close frame (close code 1006) and
  never closes with 1011 (internal error); other close codes (1008 policy, 1009 too big,
  1003 unsupported data...) are answers;
- every frame it sends is text, strict JSON (no bare NaN/Infinity), an object with a known
  `type`, and shows no traceback and no server path;
- after every fuzzed connection a fresh client still gets the right answer (hello, then the
  NaN/Inf series of the logdir, exactly): the server survived.

Budget: about 2,000 frames (one connection per ~4 frames), well under a minute. A longer run:
`TSVIS_FUZZ_EXAMPLES=50000 python -m pytest -q tests/test_fuzz_ws.py` (frames), split into
parts of ~2,000 frames. Reproducible: part N draws with the fixed seed N (`@seed`) and there
is no example database. Failures are collected per distinct error (the server log names the
exception) and reported with the shortest failing frame sequence.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests import fuzzlogs
from tests.fuzzlogs import hostile_text, nested
from tests.serverproc import ServerProcess

FRAMES = fuzzlogs.fuzz_examples(2000)
PARTS = max(1, -(-FRAMES // 2000))  # one test per ~2,000 frames: each stays far from the 300 s timeout
PART_FRAMES = FRAMES // PARTS
MAX_PER_CONNECTION = 15  # frames per fuzzed connection: 1 to 15, about 4 on average
TYPES = {"hello", "points", "category", "heartbeat", "resync", "error", "pong", "batch"}
ANSWER_CLOSE_CODES = {1000, 1001, 1003, 1007, 1008, 1009}
WAIT = 60.0  # seconds for an answer: generous (a loaded machine), only a hang trips it
# A big frame ends its connection's sequence: the client sends nothing more and reads until
# the server answers it (an error, points for its tag, or a close). A server that refuses a
# frame at the protocol layer (uvicorn's ws_max_size: close 1009) closes its socket before
# reading the rest; anything the client sends meanwhile makes the kernel answer with a reset
# that can destroy the unread 1009 close frame (the client sees 1006 although the server sent
# 1009). That race is in docs/reliability.md ("The adversarial suite"); the fuzzer keeps it
# out of the verdict so that a run is repeatable.
BIG = 64 * 1024
CHECK_KEY = ("scalar", "nan", "odd/values")
CHECK_POINTS = [[fuzzlogs.writers.WALL0 + i, i, v] for i, v in enumerate([1.0, "NaN", "Infinity", "-Infinity", 2.5])]


def json_value(depth: int = 2) -> st.SearchStrategy[Any]:
    """Any JSON value a hostile client may put where a string or an integer belongs."""
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                        hostile_text(), st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**30, -1, 1.5, 1e308]))
    return st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                        max_leaves=depth * 3)


def frames(series: list[tuple[str, str, str]], cursor: int) -> st.SearchStrategy[str | bytes]:
    """One client frame: valid protocol messages, hostile variants of them, or garbage."""
    key = st.sampled_from(series)
    since = st.one_of(st.none(), st.integers(0, cursor + 5), st.sampled_from([2**63, 2**63 - 1, 2**64, 10**30]),
                      json_value(1))
    max_points = st.one_of(st.none(), st.integers(1, 5000), json_value(1))

    def sub(op: str, k: tuple[str, str, str], s: Any, m: Any) -> str:
        msg: dict[str, Any] = {"op": op, "kind": k[0], "run": k[1], "tag": k[2]}
        if s is not None:
            msg["since"] = s
        if m is not None:
            msg["max_points"] = m
        return json.dumps(msg)

    valid = st.one_of(
        st.builds(sub, st.just("subscribe"), key, st.one_of(st.none(), st.integers(0, cursor)), st.none()),
        st.builds(sub, st.sampled_from(["subscribe", "unsubscribe"]), key, since, max_points),
        st.sampled_from(['{"op":"ping"}', '{"op":"options","batch":true}', '{"op":"options","batch":false}']),
    )
    field = st.sampled_from(["op", "kind", "run", "tag", "since", "max_points", "batch"])
    hostile_sub = st.builds(lambda k, f, v: json.dumps({"op": "subscribe", "kind": k[0], "run": k[1], "tag": k[2], f: v}),
                            key, field, json_value())
    garbage = st.one_of(
        hostile_text(),
        st.sampled_from(["", "null", "[]", "1", '"str"', "{", '{"op":', "NaN", '{"op":"subscribe","since":NaN}',
                         '{"op":"ping"}' * 2, '{"op": "ping", "op": "subscribe"}']),
        st.builds(lambda v: json.dumps({"op": v}), json_value()),
        st.integers(1, 60000).map(lambda d: nested(d)),
        st.integers(1, 20000).map(lambda d: nested(d, "{")),
        st.integers(1, 5000).map(lambda d: json.dumps({"op": "subscribe", "kind": "scalar", "run": "nan", "tag": "x"})
                                 .replace('"x"', nested(d))),
        st.binary(max_size=64),
        st.sampled_from([b'{"op":"ping"}', b"", b"\xff\xfe", b"\x00" * 1024]),
    )
    def big(n: int) -> st.SearchStrategy[str | bytes]:
        return st.sampled_from(["x" * n, json.dumps({"op": "subscribe", "kind": "scalar", "run": "nan", "tag": "t" * n}),
                                b"\x00" * n])

    def pick(i: int) -> st.SearchStrategy[str | bytes]:  # weights in percent: big frames stay rare
        if i < 40:
            return valid
        if i < 55:
            return hostile_sub
        if i < 94:
            return garbage
        if i < 98:
            return big(64 * 1024 + 1)
        if i < 99:
            return st.sampled_from([1024 * 1024 + 1, 4 * 1024 * 1024]).flatmap(big)
        return st.just("y" * (17 * 1024 * 1024))  # over uvicorn's 16 MiB frame limit

    return st.integers(0, 99).flatmap(pick).filter(lambda f: not isinstance(f, str) or not fuzzlogs.leaks(f, []))


def describe(seq: list[str | bytes]) -> str:
    def one(f: str | bytes) -> str:
        kind = "binary" if isinstance(f, bytes) else "text"
        return f"<{kind} {len(f)}: {f[:60]!r}...>" if len(f) > 120 else f"{kind} {f!r}"

    return "[" + ", ".join(one(f) for f in seq) + "]"


class WsChecker:
    """Runs fuzzed connections and records every broken promise."""

    def __init__(self, server: ServerProcess, secrets: list[str]) -> None:
        self.server, self.secrets = server, secrets
        self.log = fuzzlogs.ServerLog(server.log_path)
        self.frames = self.connections = 0
        self.failures: dict[str, dict[str, Any]] = {}

    def fail(self, problem: str, error: str, seq: list[str | bytes]) -> None:
        key = f"{problem}: {error or 'nothing in the server log'}"
        entry = self.failures.setdefault(key, {"count": 0, "frames": seq})
        entry["count"] += 1
        if sum(map(len, seq)) < sum(map(len, entry["frames"])):
            entry["frames"] = seq

    def check_frame(self, raw: str | bytes) -> tuple[list[str], dict[str, Any] | None]:
        if isinstance(raw, bytes):
            return ["server sent a binary frame"], None
        problems = [f"frame leaks {m!r}" for m in fuzzlogs.leaks(raw, self.secrets)]
        try:
            msg = fuzzlogs.strict_json(raw)
        except ValueError as exc:
            return [*problems, f"frame is not strict JSON: {str(exc)[:60]}"], None
        inner = msg.get("messages") if isinstance(msg, dict) and msg.get("type") == "batch" else [msg]
        if not isinstance(inner, list) or not all(isinstance(m, dict) and m.get("type") in TYPES for m in inner):
            problems.append(f"frame is not a known message: {raw[:80]!r}")
        return problems, msg

    def run(self, seq: list[str | bytes]) -> None:
        """One fuzzed connection, then the survival check."""
        self.connections += 1
        problems: list[str] = []
        try:
            with connect(self.server.ws_url, max_size=None, open_timeout=WAIT, close_timeout=10) as ws:
                problems += self.check_frame(ws.recv(timeout=WAIT))[0]
                try:
                    for i, frame in enumerate(seq):
                        self.frames += 1
                        ws.send(frame)
                        if len(frame) >= BIG:  # see BIG
                            seq = seq[: i + 1]
                            problems += self.await_answer(ws)
                            break
                    else:
                        ws.send('{"op":"ping"}')
                        problems += self.await_answer(ws, pong=True)
                except ConnectionClosed as exc:
                    problems += self.close_problems(exc)
                except TimeoutError:
                    problems.append(f"no answer within {WAIT:.0f} s")
        except (OSError, TimeoutError, ConnectionClosed) as exc:
            problems.append(f"could not connect: {type(exc).__name__}")
        problems += self.survives()
        error = self.log.next_error() if problems else ""  # logged before the survival check ends
        for problem in dict.fromkeys(problems):
            self.fail(problem, error, seq)

    def await_answer(self, ws: Any, pong: bool = False) -> list[str]:
        """Read (checking every frame) until the pong, or else until an error or points for a
        long tag (the answer to a big frame)."""
        problems: list[str] = []
        while True:
            found, msg = self.check_frame(ws.recv(timeout=WAIT))
            problems += found
            inner = msg.get("messages") if isinstance(msg, dict) and msg.get("type") == "batch" else [msg]
            for m in inner if isinstance(inner, list) else []:
                if not isinstance(m, dict):
                    continue
                if pong and m.get("type") == "pong":
                    return problems
                if not pong and (m.get("type") == "error" or len(str(m.get("tag", ""))) >= 1000):
                    return problems

    @staticmethod
    def close_problems(exc: ConnectionClosed) -> list[str]:
        if exc.rcvd is None:
            return ["TCP connection dropped without a close frame (1006)"]
        if exc.rcvd.code not in ANSWER_CLOSE_CODES:
            return [f"closed with code {exc.rcvd.code} ({exc.rcvd.reason[:60]!r})"]
        return []

    def survives(self) -> list[str]:
        """A fresh client gets hello and exactly the NaN/Inf series."""
        if self.server.proc.poll() is not None:
            return [f"server process exited with {self.server.proc.returncode}"]
        try:
            with connect(self.server.ws_url, open_timeout=WAIT, close_timeout=10) as ws:
                hello = json.loads(ws.recv(timeout=WAIT))
                kind, run, tag = CHECK_KEY
                ws.send(json.dumps({"op": "subscribe", "kind": kind, "run": run, "tag": tag}))
                msg = json.loads(ws.recv(timeout=WAIT))
        except (OSError, TimeoutError, ConnectionClosed, ValueError) as exc:
            return [f"server did not survive: a fresh client failed ({type(exc).__name__})"]
        if hello.get("type") != "hello" or msg.get("type") != "points" or msg.get("points") != CHECK_POINTS:
            return [f"server did not survive: fresh client got {str(msg)[:120]}"]
        return []

    def report(self, since: dict[str, int] | None = None) -> str:
        since = since or {}
        return "\n".join(f"{p} x{e['count']} e.g. {describe(e['frames'])[:400]}"
                         for p, e in sorted(self.failures.items()) if since.get(p) != e["count"])

    def snapshot(self) -> dict[str, int]:
        return {k: v["count"] for k, v in self.failures.items()}


@pytest.fixture(scope="module")
def ws_fuzz(tmp_path_factory: pytest.TempPathFactory,
            request: pytest.FixtureRequest) -> Iterator[tuple[WsChecker, list[tuple[str, str, str]], int]]:
    base = tmp_path_factory.mktemp("fuzz_ws")
    logs = fuzzlogs.build(base / "logs")
    server = ServerProcess(base / "logs", base / "data")
    checker = None
    try:
        server.wait_ready(120)
        checker = WsChecker(server, fuzzlogs.secret_paths(base / "logs", base / "data"))
        cursor = httpx.get(server.url + "/api/live/status", timeout=60).json()["data"]["cursor"]
        series = [("scalar", r, t) for r, tags in logs.scalars.items() for t in tags]
        series += [("histogram", r, t) for r, tags in logs.histograms.items() for t in tags]
        yield checker, series, cursor
    finally:
        if checker is not None:
            failed = sum(e["count"] for e in checker.failures.values())
            fuzzlogs.print_summary(request, (
                f"\nWS fuzz: {checker.frames} frames on {checker.connections} connections (seeds 0..{PARTS - 1}, "
                f"TSVIS_FUZZ_EXAMPLES={FRAMES}), {failed} failures\n{checker.report()}"))
        server.stop()


def test_fresh_client_gets_the_nan_series(ws_fuzz: tuple[WsChecker, list, int]) -> None:
    """The survival check itself works on a fresh server (else it would prove nothing)."""
    checker, _, _ = ws_fuzz
    assert checker.survives() == []


KNOWN: list[tuple[str, list[str | bytes]]] = [  # issue 8 #11: always sent, whatever Hypothesis draws
    ("binary", [b"\x00\x01"]),
    ("binary-json", [b'{"op":"ping"}']),
    ("since-2**63", [json.dumps({"op": "subscribe", "kind": "scalar", "run": "nan", "tag": "long", "since": 2**63})]),
    ("since-10**30", [json.dumps({"op": "subscribe", "kind": "histogram", "run": "nan", "tag": "h/nan_sum",
                                  "since": 10**30})]),
    ("nested-list", [nested(100_000)]),
    ("nested-dict", [nested(5_000, "{")]),
    ("nested-tag", [json.dumps({"op": "subscribe", "kind": "scalar", "run": "nan", "tag": [[[[]]]]})
                    .replace("[[[[]]]]", nested(3000))]),
    ("oversize-17MiB", ["z" * (17 * 1024 * 1024)]),
    ("max_points-10**30", [json.dumps({"op": "subscribe", "kind": "scalar", "run": "nan", "tag": "long",
                                       "max_points": 10**30})]),
    ("nan-histograms-since-0", [json.dumps({"op": "subscribe", "kind": "histogram", "run": "nan", "tag": t, "since": 0})
                                for t in ("h/nan_sum", "h/nan_minmax", "h/inf_edges")]),
    ("empty-and-null", ["", "null", "[]"]),
]


@pytest.mark.parametrize(("name", "seq"), KNOWN, ids=[n for n, _ in KNOWN])
def test_known_attacks(ws_fuzz: tuple[WsChecker, list, int], name: str, seq: list[str | bytes]) -> None:
    checker, _, _ = ws_fuzz
    before = checker.snapshot()
    checker.run(seq)
    assert not checker.report(before), f"{name}:\n{checker.report(before)}"


@pytest.mark.parametrize("part", range(PARTS))
def test_fuzz_ws(ws_fuzz: tuple[WsChecker, list, int], part: int) -> None:
    """About PART_FRAMES frames over PART_FRAMES / 4 connections (seed `part`); every promise kept."""
    checker, series, cursor = ws_fuzz
    before, started = checker.snapshot(), checker.frames

    @seed(part)
    @settings(max_examples=max(5, PART_FRAMES // 4), database=None, deadline=None,
              phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))
    @given(st.lists(frames(series, cursor), min_size=1, max_size=MAX_PER_CONNECTION))
    def run(seq: list[str | bytes]) -> None:
        checker.run(seq)

    t0 = time.monotonic()
    run()
    sent = checker.frames - started
    assert not checker.report(before), (f"part {part}: {sent} frames in {time.monotonic() - t0:.0f} s:\n"
                                        f"{checker.report(before)}")
    assert sent >= PART_FRAMES // 4
