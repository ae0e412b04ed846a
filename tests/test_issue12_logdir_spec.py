"""Issue 12 item 7: `--logdir_spec name1:path1,name2:path2` and several `--logdir` values.

Real tensorboardX writers, real server processes. Two named roots holding runs of the same
names are served as `a/run1`, `b/run1`; points written while serving arrive from both; a
symlink in either root that leads outside it (to the other root, or to a secret directory) is
not read. TensorBoard's facts followed (tensorboard 2.x `data_ingester._parse_event_files_spec`
and `AddRunsFromDirectory`): commas separate entries, the first colon splits a name off unless
the entry is a URL or starts with '/', a named root's runs are `name/<run>`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tensorboardX import SummaryWriter

from tests.eventfiles import scalar_event
from tsvis_live.formats.tfrecord import encode_record
from tsvis_live.ingest.source import LogdirError, parse_spec

REPO = Path(__file__).resolve().parent.parent
WALL0 = 1_700_000_000.0


def _write(run_dir: Path, tag: str, steps: range, scale: float) -> Path:
    """A closed tensorboardX event file (its flush() does not drain the writer's queue)."""
    w = SummaryWriter(str(run_dir), flush_secs=3600)
    for step in steps:
        w.add_scalar(tag, scale * step, step, walltime=WALL0 + step)
    w.close()
    return next(run_dir.glob("events.out.tfevents.*"))


def _append(path: Path, tag: str, step: int, value: float) -> None:
    """What the writer would flush next: one more framed event at the end of its file."""
    with open(path, "ab") as fh:
        fh.write(encode_record(scalar_event(tag, step, value, WALL0 + step)))


def _values(server, run: str, tag: str) -> list[tuple[int, float]]:
    r = server.get("/api/scalar", run=run, tag=tag)
    if r.status_code != 200:
        return []
    return [(p["step"], p["value"]) for p in r.json()["data"][tag]]


def _wait_for(check, timeout: float = 30.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


@pytest.fixture
def roots(tmp_path: Path):
    a, b, secret = tmp_path / "rootA", tmp_path / "rootB", tmp_path / "secret"
    files = {
        "a": _write(a / "run1", "loss", range(5), 1.0),
        "b": _write(b / "run1", "loss", range(5), 10.0),
        "a.": _write(a, "top", range(3), 2.0),  # events in root a itself: the run "a"
    }
    _write(secret / "leak", "secret", range(3), -1.0)
    (a / "escape").symlink_to(secret / "leak")  # a link out of root a: never read
    (b / "other").symlink_to(a / "run1")  # a link from b into a: outside b, never read
    return a, b, files


def _run_names(server) -> set[str]:
    return set(server.json("/api/getCategory")["data"])


def test_two_named_roots_with_the_same_runs_are_prefixed_and_live(roots, start_server) -> None:
    a, b, files = roots
    server = start_server(None, None, "--logdir_spec", f"a:{a},b:{b}")
    _wait_for(lambda: {"a/run1", "b/run1", "a"} <= _run_names(server))
    runs = _run_names(server)
    assert runs == {"a/run1", "b/run1", "a"}, runs  # no a/escape, no b/other, nothing secret
    assert _values(server, "a/run1", "loss") == [(s, 1.0 * s) for s in range(5)]
    assert _values(server, "b/run1", "loss") == [(s, 10.0 * s) for s in range(5)]
    assert _values(server, "a", "top") == [(s, 2.0 * s) for s in range(3)]
    stored = server.json("/api/live/status")["data"]["files"]
    assert sorted(f["path"].rsplit("/", 1)[0] for f in stored) == ["a", "a/run1", "b/run1"]
    problems = server.json("/api/live/status")["data"]["problems"]
    subjects = {p["subject"] for p in problems if p["area"] == "discovery"}
    assert {"a/escape", "b/other"} <= subjects, problems  # each reported under its root's name

    # live: points written to both roots while serving arrive from both
    _append(files["a"], "loss", 5, 123.0)
    _append(files["b"], "loss", 5, 456.0)
    took = _wait_for(lambda: (5, 123.0) in _values(server, "a/run1", "loss")
                     and (5, 456.0) in _values(server, "b/run1", "loss"), timeout=20)
    assert took < 10, took
    # a new run in root b is picked up as b/<run>
    _write(b / "run2", "acc", range(2), 0.5)
    _wait_for(lambda: "b/run2" in _run_names(server))
    assert _values(server, "b/run2", "acc") == [(0, 0.0), (1, 0.5)]
    status = server.json("/api/live/status")["data"]
    assert status["logdir"] == f"a:{a},b:{b}"


def test_several_logdir_values_are_named_by_their_directories(roots, start_server) -> None:
    a, b, _files = roots
    server = start_server(a, None, "--logdir", str(b))
    _wait_for(lambda: {"rootA/run1", "rootB/run1"} <= _run_names(server))
    assert _run_names(server) == {"rootA", "rootA/run1", "rootB/run1"}
    assert _values(server, "rootB/run1", "loss") == [(s, 10.0 * s) for s in range(5)]
    sid = server.json("/api/live/status")["data"]["session_id"]
    server.stop()
    # the same roots through --logdir_spec are the same session (the id is the whole spec)
    again = start_server(None, None, "--logdir_spec", f"rootA:{a},rootB:{b}")
    assert again.json("/api/live/status")["data"]["session_id"] == sid
    again.stop()
    single = start_server(a, None)
    assert single.json("/api/live/status")["data"]["session_id"] != sid
    assert "run1" in _run_names(single) and "rootA/run1" not in _run_names(single)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tsvis_live.cli", *args], capture_output=True, text=True,
                          timeout=60, cwd=REPO)


def test_bad_specs_are_one_line_errors(tmp_path: Path) -> None:
    cases = [
        (["--logdir", str(tmp_path), "--logdir_spec", f"a:{tmp_path}"], "not allowed with"),
        (["--logdir_spec", f"a:{tmp_path},"], "empty entry"),
        (["--logdir_spec", f"a:{tmp_path},b:{tmp_path}"], "twice"),
        (["--logdir_spec", f"../x:{tmp_path}"], "run name"),
        (["--logdir", str(tmp_path / "x" / "same"), "--logdir", str(tmp_path / "y" / "same")], "both named"),
    ]
    for args, words in cases:
        r = _cli(*args, "--data-dir", str(tmp_path / "data"))
        assert r.returncode == 2, (args, r.stderr)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert words in lines[-1], (args, r.stderr)
        assert "Traceback" not in r.stderr


def test_spec_parsing_follows_tensorboard() -> None:
    here = os.path.realpath(".")
    assert parse_spec("a:/x,/y:z,s3://bkt/p,n:s3://bkt/q,rel") == [
        ("a", "/x"), ("", "/y:z"), ("", "s3://bkt/p"), ("n", "s3://bkt/q"), ("", os.path.join(here, "rel"))]
    assert parse_spec("name:/path:with/colon") == [("name", "/path:with/colon")]
    assert parse_spec(":/x") == [("", "/x")]  # an empty name is no name (TensorBoard's `if name`)
    with pytest.raises(LogdirError):
        parse_spec("a:")


def test_a_non_loopback_client_learns_no_root_path(roots, tmp_path: Path) -> None:
    """The status names the roots only by their names beyond loopback (problems included)."""
    import json

    import httpx

    from tests.conftest import spawn_server
    from tests.test_security_hosts import NON_LOOPBACK

    a, b, _files = roots
    server = spawn_server(None, tmp_path / "data", "--logdir_spec", f"a:{a},b:{b}", "--host", NON_LOOPBACK,
                          "--token", "tok", wait=False, log_dir=tmp_path)
    try:
        port = int(server.url.rsplit(":", 1)[1])
        status = f"http://{NON_LOOPBACK}:{port}/api/live/status?token=tok"

        def ready() -> bool:
            try:
                return httpx.get(status, timeout=10).json()["data"]["ready"]
            except httpx.HTTPError:
                return False

        _wait_for(ready, 90)
        data = httpx.get(status, timeout=10).json()["data"]
        assert {p["subject"] for p in data["problems"]} >= {"a/escape", "b/other"}
        assert data["logdir"] == "a+b" and str(tmp_path) not in json.dumps(data), data
    finally:
        server.stop()


def test_a_root_created_after_the_start_is_watched(roots, start_server, tmp_path: Path) -> None:
    a, _b, files = roots
    later = tmp_path / "later"  # not there yet: the other root is served meanwhile
    server = start_server(None, None, "--logdir_spec", f"a:{a},c:{later}")
    _wait_for(lambda: server.json("/api/live/status")["data"]["ready"])
    assert _run_names(server) == {"a", "a/run1"}
    _write(later / "run1", "loss", range(3), 7.0)
    took = _wait_for(lambda: _values(server, "c/run1", "loss") == [(s, 7.0 * s) for s in range(3)], 20)
    _append(files["a"], "loss", 5, 55.0)  # the first root is still watched after the re-arming
    took_a = _wait_for(lambda: (5, 55.0) in _values(server, "a/run1", "loss"), 20)
    assert took < 10 and took_a < 10, (took, took_a)


def test_two_unnamed_roots_giving_a_file_one_name_read_the_first(tmp_path: Path) -> None:
    from tsvis_live.health import Health
    from tsvis_live.ingest.source import build

    one = _write(tmp_path / "one" / "run1", "loss", range(2), 1.0)
    two = _write(tmp_path / "two" / "run1", "loss", range(2), 2.0)
    two.rename(two.with_name(one.name))  # the same file name under run1 in both roots
    _write(tmp_path / "two" / "run2", "loss", range(2), 2.0)
    source = build(parse_spec(f"{tmp_path / 'one'},{tmp_path / 'two'}"))
    health = Health()
    files = source.discover(health)
    assert len(files) == 2 and f"run1/{one.name}" in {source.key(lf) for lf in files}
    assert {source.run(lf) for lf in files} == {"run1", "run2"}
    assert next(lf for lf in files if source.run(lf) == "run1").root == tmp_path / "one"
    (problem,) = [p for p in health.snapshot() if p["area"] == "discovery"]
    assert problem["subject"] == f"run1/{one.name}" and "first root" in problem["message"]
    (tmp_path / "two" / "run1" / one.name).unlink()
    source.discover(health)
    assert health.snapshot() == []  # cleared once the clash is gone
