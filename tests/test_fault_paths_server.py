"""Issue 8 faults against a real `tsvis-live` process: symlink leaks, cycles, a recreated logdir.

Each test starts the real CLI (tests/serverproc.py), writes events with tensorboardX, and reads
what the server answers over HTTP; `stop()` sends Ctrl-C and fails the test if the server does
not exit cleanly within its timeout.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import httpx
import numpy as np

from tests.eventfiles import write_scalars
from tests.serverproc import ServerProcess

NAME = "events.out.tfevents.1700000000.host"
SECRETS = [f"secret{i}" for i in range(6)]


def get(server: ServerProcess, path: str, **params) -> httpx.Response:
    return httpx.get(server.url + path, params=params, timeout=30)


def status(server: ServerProcess) -> dict:
    r = get(server, "/api/live/status")
    assert r.status_code == 200, r.text
    return r.json()["data"]


def write_loss(run_dir: Path, steps: range) -> None:
    from tensorboardX import SummaryWriter

    w = SummaryWriter(str(run_dir), flush_secs=1)
    for s in steps:
        w.add_scalar("loss", s * 0.5, s)
    w.close()


def poll_until(server: ServerProcess, since: int, run: str, want: int, timeout: float) -> tuple[list, float]:
    """Points of `run`/loss after cursor `since` until `want` arrived; (steps, seconds taken)."""
    subs = json.dumps([{"kind": "scalar", "run": run, "tag": "loss"}])
    t0 = time.monotonic()
    steps: list[int] = []
    cursor = since
    while time.monotonic() - t0 < timeout:
        r = get(server, "/api/live/poll", since=cursor, subs=subs)
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        for msg in data["messages"]:
            if msg.get("type") == "points" and msg["run"] == run:
                steps += [p[1] for p in msg["points"]]
        cursor = data["cursor"]
        if len(steps) >= want:
            return steps, time.monotonic() - t0
        time.sleep(0.2)
    return steps, time.monotonic() - t0


def test_symlinked_metadata_outside_never_reaches_getembedding(tmp_path: Path) -> None:
    from tensorboardX import SummaryWriter

    logdir = tmp_path / "logs"
    rng = np.random.default_rng(5)
    w = SummaryWriter(str(logdir))
    w.add_embedding(rng.standard_normal((6, 3)).astype(np.float32), metadata=list("abcdef"),
                    global_step=1, tag="ok")
    w.add_embedding(rng.standard_normal((6, 3)).astype(np.float32), metadata=list("ghijkl"),
                    global_step=1, tag="leak")
    w.close()
    (outside := tmp_path / "outside").mkdir()
    (outside / "metadata.tsv").write_text("\n".join(SECRETS) + "\n")
    (leak_meta,) = [p for p in logdir.rglob("metadata.tsv") if "leak" in str(p)]
    leak_meta.unlink()
    leak_meta.symlink_to(outside / "metadata.tsv")
    server = ServerProcess(logdir, tmp_path / "data")
    try:
        server.wait_ready()
        ok = get(server, "/api/getEmbedding", run=".", tag="ok", step=1)
        assert ok.status_code == 200 and '"a"' in ok.text  # the control embedding is served
        leak = get(server, "/api/getEmbedding", run=".", tag="leak", step=1)
        assert "secret" not in leak.text, leak.text[:300]
        cat = get(server, "/api/getCategory", run=".")
        assert "secret" not in cat.text
    finally:
        server.stop()


def test_two_symlink_cycles_ready_with_real_runs_and_ctrl_c_works(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    for run in ("r1", "r2"):
        write_scalars(logdir / run / NAME, "loss", range(3))
    (logdir / "r1" / "up").symlink_to("..", target_is_directory=True)
    (logdir / "r2" / "side").symlink_to("../r1", target_is_directory=True)
    (logdir / "r2" / "self").symlink_to(".", target_is_directory=True)
    server = ServerProcess(logdir, tmp_path / "data")
    try:
        server.wait_ready(timeout=30)
        st = status(server)
        assert sorted(f["path"] for f in st["files"]) == [f"r1/{NAME}", f"r2/{NAME}"]
        # the recursive watch did not loop on the cycles: a live write still arrives
        write_loss(logdir / "r1" / "live", range(5))
        steps, _ = poll_until(server, st["cursor"], "r1/live", 5, timeout=20)
        assert steps == list(range(5))
        st = status(server)
        assert len(st["files"]) == 3
    finally:
        server.stop()  # SIGINT; fails unless the process exits 0 within 15 s


def test_recreated_logdir_is_watched_again(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    write_loss(logdir / "before", range(3))
    server = ServerProcess(logdir, tmp_path / "data")
    try:
        server.wait_ready()
        cursor = status(server)["cursor"]
        shutil.rmtree(logdir)
        time.sleep(1.0)  # let the server notice the logdir is gone
        assert status(server)["read_only"] is True
        logdir.mkdir()
        time.sleep(1.0)
        write_loss(logdir / "after", range(4))
        steps, took = poll_until(server, cursor, "after", 4, timeout=12)
        assert steps == [0, 1, 2, 3], f"only {steps} after {took:.1f} s"
        cursor = status(server)["cursor"]
        write_loss(logdir / "again", range(2))  # and the watch keeps working after that
        steps, took = poll_until(server, cursor, "again", 2, timeout=12)
        assert steps == [0, 1], f"only {steps} after {took:.1f} s"
        shutil.rmtree(logdir / "again")  # a run directory deleted and made again
        time.sleep(0.5)
        cursor = status(server)["cursor"]
        write_loss(logdir / "again", range(10, 13))
        steps, took = poll_until(server, cursor, "again", 3, timeout=12)
        assert steps == [10, 11, 12], f"only {steps} after {took:.1f} s"
    finally:
        server.stop()


def inotify_watches(pid: int) -> int:
    """How many inotify watches process `pid` holds (Linux /proc)."""
    count = 0
    for fd in Path(f"/proc/{pid}/fdinfo").iterdir():
        try:
            count += sum(line.startswith("inotify") for line in fd.read_text().splitlines())
        except OSError:
            pass
    return count


def test_watch_does_not_follow_symlinks_out_of_the_logdir(tmp_path: Path) -> None:
    logdir, outside = tmp_path / "logs", tmp_path / "outside"
    write_loss(logdir / "run", range(2))
    for i in range(300):
        (outside / f"d{i}" / "sub").mkdir(parents=True)
    (logdir / "run" / "data").symlink_to(outside, target_is_directory=True)
    (logdir / "run" / "loop").symlink_to("..", target_is_directory=True)
    server = ServerProcess(logdir, tmp_path / "data")
    try:
        server.wait_ready()
        cursor = status(server)["cursor"]
        write_loss(logdir / "run" / "live", range(3))  # the watch works...
        steps, _ = poll_until(server, cursor, "run/live", 3, timeout=12)
        assert steps == [0, 1, 2]
        watches = inotify_watches(server.proc.pid)
        assert 0 < watches < 20, watches  # ...on the logdir's 3 directories, not 600 outside
        problems = [p for p in status(server)["problems"] if p["area"] == "discovery"]
        assert [p["subject"] for p in problems] == ["run/data"]  # the user learns why it is missing
        assert "outside the logdir" in problems[0]["message"]
    finally:
        server.stop()
