"""Start a real `tsvis-live` server process and talk HTTP to it (stdlib only, keep-alive)."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlencode

from bench.procs import PYTHON

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_cmd(logdir: Path, port: int, data_dir: Path) -> list[str]:
    exe = shutil.which("tsvis-live", path=str(Path(PYTHON).parent))
    base = [exe] if exe else [PYTHON, "-m", "tsvis_live.cli"]
    return base + ["--logdir", str(logdir), "--port", str(port), "--data-dir", str(data_dir),
                   "--log-level", "warning"]


class Server:
    """A tsvis-live process; `stop()` sends SIGINT (Ctrl-C) and then SIGKILL if it lingers."""

    def __init__(self, logdir: Path, data_dir: Path, log_path: Path | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.log_path = log_path or data_dir / "server.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(server_cmd(logdir, self.port, data_dir), cwd=REPO,
                                     stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self._conn: http.client.HTTPConnection | None = None

    def conn(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        return self._conn

    def get(self, path: str, **params: object) -> tuple[int, bytes]:
        url = path + ("?" + urlencode(params) if params else "")
        for attempt in range(2):
            try:
                c = self.conn()
                c.request("GET", url)
                resp = c.getresponse()
                return resp.status, resp.read()
            except (ConnectionError, http.client.HTTPException, OSError):
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def get_json(self, path: str, **params: object) -> tuple[int, dict]:
        status, body = self.get(path, **params)
        try:
            return status, json.loads(body)
        except ValueError:
            return status, {}

    def wait_until(self, check, timeout: float = 120.0, interval: float = 0.005) -> float:
        """Poll `check(self)` until it returns true; return seconds since the process started."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {self.tail()}")
            try:
                if check(self):
                    return time.perf_counter() - self.t0
            except (ConnectionError, OSError, http.client.HTTPException):
                pass
            time.sleep(interval)
        raise TimeoutError(f"server not ready after {timeout} s: {self.tail()}")

    def rss_mb(self, key: str = "VmRSS") -> float:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")

    def tail(self, n: int = 800) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
