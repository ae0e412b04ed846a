"""Read what you list: every run and tag getCategory lists answers 200 on its own endpoint.

Tags are whatever a writer put in the event file: `''`, `/abs`, `../x`, `x/../y`, NUL... They
are names in the store, never file paths, so only their length is limited. Written with real
writers (tensorboardX and TensorBoard's own numpy writer), fetched through a real server.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import numpy as np
from tensorboard.compat.proto import event_pb2

ODD = ["", "/abs", "../x", "x/../y", "a\x00b", "..", "C:\\win", "sp ace", "ünï/cødé", "<b>x</b>"]


def write_odd_logs(logdir: Path) -> None:
    """TensorBoard's own writers keep a tag exactly as given; tensorboardX cleans some
    characters (spaces, NUL, a leading '/') but is the writer most users have."""
    from tensorboard.plugins.histogram import summary_v2 as histo_summary
    from tensorboard.plugins.text import summary_v2 as text_summary
    from tensorboard.summary import Writer
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    from tensorboardX import SummaryWriter

    tb = Writer(str(logdir / "tb run"))
    for i, tag in enumerate(ODD):
        tb.add_scalar(tag, 2.0 + i, 1, wall_time=1_700_000_100.0)
    tb.close()
    ev = EventFileWriter(str(logdir / "pb"))
    for i, tag in enumerate(ODD):
        for summary in (histo_summary.histogram_pb(tag, np.arange(10.0) + i),
                        text_summary.text_pb(tag, f"text {i}")):
            ev.add_event(event_pb2.Event(wall_time=1_700_000_000.0 + i, step=0, summary=summary))
    ev.close()
    w = SummaryWriter(str(logdir / "tbx"), flush_secs=3600)
    for i, tag in enumerate(ODD):
        w.add_scalar(tag, 1.0 + i, 0, walltime=1_700_000_000 + i)
        w.add_histogram("h" + tag, np.arange(10.0) + i, 0, walltime=1_700_000_000 + i)
        w.add_text("t" + tag, f"text {i}", 0, walltime=1_700_000_000 + i)
        w.add_image("i" + tag, np.zeros((3, 4, 4), dtype=np.uint8), 0, walltime=1_700_000_000 + i)
    w.close()


def wait_ingested(server, timeout: float = 90) -> None:
    """Until the server has stored what was on disk at start (status `ready`)."""
    deadline = time.monotonic() + timeout
    while not httpx.get(server.url + "/api/live/status", timeout=30).json()["data"]["ready"]:
        assert time.monotonic() < deadline, "the server never became ready"
        time.sleep(0.1)


ENDPOINTS = {"histogram": "/api/histogram", "distribution": "/api/distribution", "image": "/api/image",
             "text": "/api/text", "audio": "/api/audio"}


def test_every_listed_odd_tag_is_readable(start_server, tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    logdir.mkdir()
    write_odd_logs(logdir)
    server = start_server(logdir, None, probe="/api/live/status", probe_query={})
    wait_ingested(server)
    cats = server.json("/api/getCategory")["data"]
    fetched, failures = 0, []
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for run, sections in cats.items():
            items = [("/api/scalar", t) for tags in sections.get("scalar", {}).values() for t in tags]
            items += [(ENDPOINTS[k], t) for sec in ("statistic", "media")
                      for k, tags in sections.get(sec, {}).items() for t in tags]
            for path, tag in items:
                r = client.get(path, params={"run": run, "tag": tag})
                fetched += 1
                if r.status_code != 200:
                    failures.append((path, run, tag, r.status_code, r.text[:200]))
        # the raw scalar series of an odd tag holds exactly what was written
        r = client.get("/api/live/export", params={"run": "tb run", "tag": "a\x00b", "format": "json"})
        assert r.status_code == 200 and [p["value"] for p in r.json()] == [2.0 + ODD.index("a\x00b")]
    assert set(ODD) == {t for tags in cats["tb run"]["scalar"].values() for t in tags}
    assert set(ODD) == set(cats["pb"]["statistic"]["histogram"]) == set(cats["pb"]["media"]["text"])
    assert fetched >= 9 * len(ODD), fetched
    assert not failures, failures


def test_names_are_limited_by_length_only(start_server, tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    logdir.mkdir()
    server = start_server(logdir, None, probe="/api/live/status", probe_query={})
    r = server.get("/api/scalar", run="x", tag="/etc/passwd")
    assert r.status_code == 404, r.text  # a name, looked up, not found (was 400)
    r = server.get("/api/scalar", run="x", tag="t" * 5000)
    assert r.status_code == 400 and "4096" in r.json()["msg"]
