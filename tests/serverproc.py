"""Start a real `tsvis-live` server process on loopback for tests, and stop it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    def __init__(self, logdir: Path, data_dir: Path, *extra: str, log_path: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"
        self.log_path = log_path or Path(data_dir) / f"server-{self.port}.log"
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        cmd = [sys.executable, "-m", "tsvis_live.cli", "--logdir", str(logdir), "--data-dir", str(data_dir),
               "--port", str(self.port), *extra]
        self.token = extra[extra.index("--token") + 1] if "--token" in extra else None
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=os.environ.copy())

    def wait_ready(self, timeout: float = 60.0) -> ServerProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log()}")
            try:
                query = f"?token={self.token}" if self.token else ""
                with urllib.request.urlopen(self.url + "/api/live/status" + query, timeout=2) as r:
                    if r.status == 200 and b'"ready":true' in r.read():
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"server not ready after {timeout} s: {self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        """Ctrl-C, as a user would; a server that does not exit cleanly fails the test."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._log.close()
                raise AssertionError(f"server ignored Ctrl-C for 15 s: {self.log()}") from None
        self._log.close()
        if self.proc.returncode != 0:
            raise AssertionError(f"server exited with {self.proc.returncode} on Ctrl-C: {self.log()}")


@contextmanager
def running_server(logdir: Path, data_dir: Path, *extra: str):
    server = ServerProcess(logdir, data_dir, *extra)
    try:
        yield server.wait_ready()
    except BaseException:
        print(f"--- server log (last 4000 characters) ---\n{server.log()}")  # shown by pytest on failure
        raise
    finally:
        server.stop()
