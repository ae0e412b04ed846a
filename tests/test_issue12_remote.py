"""Issue 12 item 6: logdirs on object storage, read through fsspec (s3fs), polled.

Everything real: moto's S3 server (its WSGI app, served by werkzeug on a free loopback port,
as `moto_server` does) with IAM authentication on, so every request must carry a valid SigV4
signature of a real access key; s3fs in a real `tsvis-live` process, configured only by the
environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL); event files written
by tensorboardX and uploaded. A small WSGI layer in front of moto records each request
(method, path, Range header, bytes returned): how many bytes the server fetched is measured
at the S3 server, not reported by the code under test.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import write_special_logs
from tests.eventfiles import scalar_event
from tests.writers import write_tbx_logs
from tsvis_live.formats.tfrecord import encode_record
from tsvis_live.stored import StoredSession

REPO = Path(__file__).resolve().parent.parent
BUCKET = "tsvis-logs"
WALL0 = 1_700_000_000.0


@dataclass
class Request:
    method: str
    path: str
    query: str
    range: str | None
    status: int = 0
    bytes: int = 0


@dataclass
class Recorder:
    """WSGI middleware: every request moto answers, with the body bytes it sent."""

    app: Any
    log: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict, start_response: Any) -> Iterator[bytes]:
        req = Request(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""),
                      environ.get("HTTP_RANGE"))

        def start(status: str, headers: list, exc_info: Any = None) -> Any:
            req.status = int(status.split()[0])
            return start_response(status, headers, exc_info)

        body = self.app(environ, start)
        try:
            for chunk in body:
                req.bytes += len(chunk)
                yield chunk
        finally:
            if hasattr(body, "close"):
                body.close()
            with self.lock:
                self.log.append(req)

    def mark(self) -> int:
        with self.lock:
            return len(self.log)

    def since(self, mark: int) -> list[Request]:
        with self.lock:
            return list(self.log[mark:])


@dataclass
class S3:
    url: str
    key_id: str
    secret: str
    recorder: Recorder

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.url, aws_access_key_id=self.key_id,
                            aws_secret_access_key=self.secret, region_name="us-east-1")

    def env(self, secret: str | None = None) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.key_id, "AWS_SECRET_ACCESS_KEY": secret or self.secret,
                "AWS_ENDPOINT_URL": self.url, "AWS_DEFAULT_REGION": "us-east-1"}

    def upload(self, local: Path, prefix: str) -> None:
        client = self.client()
        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            client.put_object(Bucket=BUCKET, Key=f"{prefix}/{path.relative_to(local).as_posix()}",
                              Body=path.read_bytes())

    def gets(self, mark: int, key: str) -> list[Request]:
        """GETs of one object since `mark` (the server's reads: the test itself only PUTs)."""
        return [r for r in self.recorder.since(mark) if r.method == "GET" and r.path == f"/{BUCKET}/{key}"]


def _auth(url: str, value: str) -> None:
    req = urllib.request.Request(url + "/moto-api/reset-auth", data=value.encode(), method="POST",
                                 headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200


@pytest.fixture(scope="module")
def s3() -> Iterator[S3]:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    recorder = Recorder(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, recorder, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    admin = {"endpoint_url": url, "aws_access_key_id": "bootstrap", "aws_secret_access_key": "bootstrap",
             "region_name": "us-east-1"}
    iam = boto3.client("iam", **admin)
    iam.create_user(UserName="trainer")
    key = iam.create_access_key(UserName="trainer")["AccessKey"]
    iam.put_user_policy(UserName="trainer", PolicyName="s3", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    boto3.client("s3", **admin).create_bucket(Bucket=BUCKET)
    _auth(url, "0")  # from now on every request must be signed by the trainer's key
    try:
        yield S3(url, key["AccessKeyId"], key["SecretAccessKey"], recorder)
    finally:
        _auth(url, "inf")
        server.shutdown()
        thread.join(10)


@pytest.fixture
def remote_server(s3, start_server, tmp_path, monkeypatch):
    """Start `tsvis-live --logdir s3://BUCKET/prefix` with the S3 environment (or a bad secret)."""

    def start(prefix: str, *args: str, secret: str | None = None, data: str = "data", wait: bool = True,
              url: str | None = None):
        for name, value in s3.env(secret).items():
            monkeypatch.setenv(name, value)
        server = start_server(None, tmp_path / data, "--logdir", url or f"s3://{BUCKET}/{prefix}", *args)
        if wait:
            _wait_for(lambda: server.json("/api/live/status")["data"]["ready"], 60)
        return server

    return start


def _wait_for(check, timeout: float = 30.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


def _values(server, run: str, tag: str) -> list[tuple[int, float]]:
    r = server.get("/api/scalar", run=run, tag=tag)
    return [(p["step"], p["value"]) for p in r.json()["data"][tag]] if r.status_code == 200 else []


def _stored(data_dir: Path) -> StoredSession:
    (path,) = data_dir.glob("*.sqlite")
    return StoredSession(path)


def _event_file(run_dir: Path, tag: str, steps: range, scale: float) -> Path:
    from tensorboardX import SummaryWriter

    w = SummaryWriter(str(run_dir), flush_secs=3600)
    for step in steps:
        w.add_scalar(tag, scale * step, step, walltime=WALL0 + step)
    w.close()
    return next(run_dir.glob("events.out.tfevents.*"))


def test_remote_logdir_serves_what_a_local_ingest_of_the_same_files_serves(
        s3, remote_server, start_server, tmp_path) -> None:
    local = tmp_path / "logs"
    write_tbx_logs(local / "tbx")
    write_special_logs(local / "special")  # NaN/Inf, a 30,000-point series, a JSON model graph
    s3.upload(local, "same")
    remote = remote_server("same", "--poll", "0.5", data="remote-data")
    here = start_server(local, tmp_path / "local-data")
    _wait_for(lambda: here.json("/api/live/status")["data"]["ready"], 60)

    assert remote.json("/api/getCategory") == here.json("/api/getCategory")
    category = here.json("/api/getCategory")["data"]
    assert {"tbx", "special", "tbx/trial"} <= set(category)
    with _stored(tmp_path / "remote-data") as r, _stored(tmp_path / "local-data") as here_db:
        assert r.runs() == here_db.runs()
        for kind in ("scalar", "histogram", "image", "text", "pr_curve"):
            assert r.tags(kind) == here_db.tags(kind), kind
        assert here_db.tags("histogram") and here_db.tags("image") and here_db.tags("pr_curve")
        rows = list(here_db.scalar_rows())
        assert len(rows) > 30_000 and "nan" in repr(rows) and "inf" in repr(rows)
        assert repr(list(r.scalar_rows())) == repr(rows)  # as text: NaN equals NaN there
        for run, tags in here_db.tags("histogram").items():
            for tag in tags:
                assert remote.json("/api/histogram", run=run, tag=tag) == here.json("/api/histogram", run=run, tag=tag)
        for run, tags in here_db.tags("image").items():
            for tag in tags:
                assert remote.json("/api/image", run=run, tag=tag) == here.json("/api/image", run=run, tag=tag)
    assert remote.json("/api/graph", run="special", tag="s_graph") == here.json("/api/graph", run="special", tag="s_graph")

    def files(server):
        return sorted((f["path"], f["status"], f["events"], f["offset"])
                      for f in server.json("/api/live/status")["data"]["files"])

    assert files(remote) == files(here)
    status = remote.json("/api/live/status")["data"]
    assert status["logdir"] == f"s3://{BUCKET}/same" and status["problems"] == []
    # every read of an event file was a byte range: no object was downloaded whole twice
    gets = [r for r in s3.recorder.since(0) if r.method == "GET" and "/same/" in r.path]
    assert gets and all(r.range for r in gets if "tfevents" in r.path)
    size = sum(p.stat().st_size for p in local.rglob("*") if p.is_file())
    fetched = sum(r.bytes for r in gets)
    # each byte once, but for the JSON graph's 64 KiB peek and the few bytes past a window's last
    # whole record, fetched again as the start of the next window
    assert size <= fetched <= size + 1024, (size, fetched)
    print(f"first pass: {len(gets)} GETs, {fetched} bytes fetched of {size} stored")


def test_an_appended_object_costs_only_its_new_bytes(s3, remote_server, tmp_path) -> None:
    event = _event_file(tmp_path / "logs" / "run1", "loss", range(200), 0.5)
    key = f"grow/run1/{event.name}"
    s3.upload(tmp_path / "logs", "grow")
    server = remote_server("grow", "--poll", "0.5")
    assert _values(server, "run1", "loss") == [(s, 0.5 * s) for s in range(200)]
    figures = []
    for batch in range(3):
        mark = s3.recorder.mark()
        before = event.stat().st_size
        steps = range(200 + 50 * batch, 250 + 50 * batch)
        with open(event, "ab") as fh:  # what the writer flushes next: 50 more events
            fh.write(b"".join(encode_record(scalar_event("loss", s, 0.5 * s, WALL0 + s)) for s in steps))
        added = event.stat().st_size - before
        s3.client().put_object(Bucket=BUCKET, Key=key, Body=event.read_bytes())  # re-uploaded, longer
        took = _wait_for(lambda s=steps: (s[-1], 0.5 * s[-1]) in _values(server, "run1", "loss"))
        time.sleep(1.2)  # two more polls: an unchanged object must cost nothing more
        gets = s3.gets(mark, key)
        fetched = sum(r.bytes for r in gets)
        figures.append((added, fetched, len(gets), round(took, 2)))
        assert all(r.range for r in gets), gets  # never the whole object
        assert added <= fetched <= added + 64, (added, fetched, gets)  # the new bytes and the head
        assert len(gets) == 2, gets  # one 64-byte head check, one range from the stored offset
    print("appended bytes, fetched bytes, GETs, seconds to served:", figures)
    assert _values(server, "run1", "loss") == [(s, 0.5 * s) for s in range(350)]


def test_a_new_run_is_picked_up_by_polling_at_the_default_interval(s3, remote_server, tmp_path) -> None:
    _event_file(tmp_path / "a" / "run1", "loss", range(3), 1.0)
    s3.upload(tmp_path / "a", "newrun")
    server = remote_server("newrun")  # no --poll: a remote logdir is polled every 5 s
    assert set(server.json("/api/getCategory")["data"]) == {"run1"}
    _event_file(tmp_path / "b" / "run2", "acc", range(4), 0.25)
    s3.upload(tmp_path / "b", "newrun")
    took = _wait_for(lambda: _values(server, "run2", "acc") == [(s, 0.25 * s) for s in range(4)], 30)
    print(f"new run served {took:.2f} s after its upload (default poll 5 s)")
    assert took <= 5.0 + 5.0  # at most one interval, plus a loaded machine's slack


def test_a_rewritten_shorter_object_is_read_again(s3, remote_server, tmp_path) -> None:
    event = _event_file(tmp_path / "v1" / "run1", "loss", range(100), 1.0)
    key = f"rewrite/run1/{event.name}"
    s3.upload(tmp_path / "v1", "rewrite")
    server = remote_server("rewrite", "--poll", "0.5")
    assert len(_values(server, "run1", "loss")) == 100
    shorter = _event_file(tmp_path / "v2" / "run1", "loss", range(7), -3.0)  # a new writer, same name
    assert shorter.stat().st_size < event.stat().st_size
    s3.client().put_object(Bucket=BUCKET, Key=key, Body=shorter.read_bytes())
    _wait_for(lambda: _values(server, "run1", "loss") == [(s, -3.0 * s) for s in range(7)])
    (f,) = server.json("/api/live/status")["data"]["files"]
    assert f["offset"] == shorter.stat().st_size and f["events"] == 8 and f["status"] == "ok"
    # the same size and head but other content: a new version (ETag) is read again too
    same = bytearray(shorter.read_bytes())
    tail = encode_record(scalar_event("loss", 6, 99.0, WALL0 + 6))
    assert len(tail) == len(encode_record(scalar_event("loss", 6, -18.0, WALL0 + 6)))
    same[-len(tail):] = tail
    s3.client().put_object(Bucket=BUCKET, Key=key, Body=bytes(same))
    _wait_for(lambda: (6, 99.0) in _values(server, "run1", "loss"))
    assert len(_values(server, "run1", "loss")) == 7


def test_bad_credentials_and_a_missing_bucket_are_health_problems(s3, remote_server, tmp_path) -> None:
    _event_file(tmp_path / "x" / "run1", "loss", range(3), 1.0)
    s3.upload(tmp_path / "x", "creds")
    bad = remote_server("creds", "--poll", "0.5", secret="not-the-secret", data="bad")
    _wait_for(lambda: bad.json("/api/live/status")["data"]["problems"], 30)
    (problem,) = bad.json("/api/live/status")["data"]["problems"]
    assert problem["area"] == "discovery" and "refused" in problem["message"], problem
    assert "signature" in problem["message"] and "AWS_SECRET_ACCESS_KEY" in problem["message"]
    assert bad.json("/api/getCategory")["data"] == {}
    assert bad.proc.poll() is None  # serving, and retrying at every poll
    assert any(r.status == 403 for r in s3.recorder.since(0))  # the S3 server did refuse the signature

    missing = remote_server("", "--poll", "0.5", url="s3://no-such-bucket/logs", data="missing")
    _wait_for(lambda: missing.json("/api/live/status")["data"]["problems"], 30)
    (problem,) = missing.json("/api/live/status")["data"]["problems"]
    assert "no such bucket" in problem["message"], problem
    assert missing.json("/api/getCategory")["data"] == {} and missing.proc.poll() is None


def test_restart_fetches_nothing_again_and_url_spellings_are_one_session(s3, remote_server, tmp_path) -> None:
    event = _event_file(tmp_path / "r" / "run1", "loss", range(50), 2.0)
    s3.upload(tmp_path / "r", "restart")
    first = remote_server("restart", "--poll", "0.5")
    sid = first.json("/api/live/status")["data"]["session_id"]
    first.stop()
    mark = s3.recorder.mark()
    again = remote_server("", "--poll", "0.5", url=f"s3a://{BUCKET}/restart/")  # spelled otherwise
    assert again.json("/api/live/status")["data"]["session_id"] == sid
    assert _values(again, "run1", "loss") == [(s, 2.0 * s) for s in range(50)]
    time.sleep(1.2)
    assert s3.gets(mark, f"restart/run1/{event.name}") == []  # stored offsets: nothing re-read
    lists = [r for r in s3.recorder.since(mark) if r.method == "GET" and "list-type=2" in r.query]
    assert lists  # only listings
    again.stop()
    third = remote_server("restart", "--poll", "0.5")  # (the lock of the second is released)
    assert third.json("/api/live/status")["data"]["session_id"] == sid


def test_a_spec_mixing_local_and_remote_roots(s3, start_server, tmp_path, monkeypatch) -> None:
    _event_file(tmp_path / "remote" / "run1", "loss", range(4), 1.0)
    s3.upload(tmp_path / "remote", "mixed")
    local = _event_file(tmp_path / "local" / "run1", "loss", range(4), -1.0)
    for name, value in s3.env().items():
        monkeypatch.setenv(name, value)
    server = start_server(None, tmp_path / "data", "--logdir_spec",
                          f"here:{tmp_path / 'local'},there:s3://{BUCKET}/mixed", "--poll", "0.5")
    _wait_for(lambda: server.json("/api/live/status")["data"]["ready"], 60)
    assert set(server.json("/api/getCategory")["data"]) == {"here/run1", "there/run1"}
    assert _values(server, "there/run1", "loss") == [(s, 1.0 * s) for s in range(4)]
    assert _values(server, "here/run1", "loss") == [(s, -1.0 * s) for s in range(4)]
    with open(local, "ab") as fh:  # the local root is polled with the remote one
        fh.write(encode_record(scalar_event("loss", 4, -4.0, WALL0 + 4)))
    _wait_for(lambda: (4, -4.0) in _values(server, "here/run1", "loss"), 20)


def test_beyond_loopback_the_status_hides_the_store_url(s3, tmp_path, monkeypatch) -> None:
    """A remote client learns a root's name, not its bucket URL (as it learns no local path)."""
    import httpx

    from tests.conftest import spawn_server
    from tests.test_security_hosts import NON_LOOPBACK

    for name, value in s3.env("not-the-secret").items():
        monkeypatch.setenv(name, value)
    server = spawn_server(None, tmp_path / "data", "--logdir_spec", f"there:s3://{BUCKET}/hidden", "--poll",
                          "0.5", "--host", NON_LOOPBACK, "--token", "tok", wait=False, log_dir=tmp_path)
    try:
        port = int(server.url.rsplit(":", 1)[1])

        def problems(host: str) -> list:
            try:
                r = httpx.get(f"http://{host}:{port}/api/live/status?token=tok", timeout=10,
                              headers={"Host": f"{NON_LOOPBACK}:{port}"})
                return r.json()["data"]["problems"]
            except httpx.HTTPError:
                return []

        _wait_for(lambda: problems(NON_LOOPBACK), 60)
        (problem,) = problems(NON_LOOPBACK)
        assert problem["subject"] == "there" and "refused" in problem["message"]
        assert "s3://" not in problem["message"] and BUCKET not in problem["message"], problem
    finally:
        server.stop()


def _cli(*args: str, code: str = "") -> subprocess.CompletedProcess:
    script = f"import sys\n{code}\nfrom tsvis_live.cli import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=60,
                          cwd=REPO)


def test_unknown_scheme_and_missing_extra_are_one_line_errors(tmp_path: Path) -> None:
    r = _cli("--logdir", "foo://bucket/logs", "--data-dir", str(tmp_path))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [r.stderr.strip()]
    assert r.stderr.startswith("tsvis-live: unknown logdir scheme 'foo://' (install"), r.stderr
    # s3fs not installed (its import blocked): the extra to install is named
    r = _cli("--logdir", "s3://bucket/logs", "--data-dir", str(tmp_path), code="sys.modules['s3fs'] = None")
    assert r.returncode == 2
    assert r.stderr.strip() == "tsvis-live: reading s3:// logdirs needs s3fs: pip install 'tsvis-live[s3]'"
    r = _cli("ingest", "--logdir", "foo://x", "--data-dir", str(tmp_path))
    assert r.returncode == 2 and "unknown logdir scheme 'foo://'" in r.stderr
    assert not list(tmp_path.glob("*.sqlite"))  # no session database was created for it
