"""Which files an ingest pass is reading right now.

Live tailing and the first pass over a big logdir run side by side (live must not wait for the
backlog), but one file must never be read by both at once: each commit carries the file's
offset, and two readers would store the same bytes twice. A pass claims a file before reading
it; a pass that finds the file claimed marks it dirty instead, and the holder reads it once
more before letting go, so no appended byte waits for the next event.
"""

from __future__ import annotations

import threading


class FileClaims:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: set[str] = set()
        self._dirty: set[str] = set()
        self._planned: set[str] = set()  # files the backlog pass has yet to read

    def claim(self, path: str) -> bool:
        """Take `path`; False (and the holder is told to read again) when another pass has it."""
        with self._lock:
            if path in self._held:
                self._dirty.add(path)
                return False
            self._held.add(path)
            return True

    def release(self, path: str) -> bool:
        """Let go of `path`; True when it changed meanwhile and should be read again."""
        with self._lock:
            self._held.discard(path)
            if path in self._dirty:
                self._dirty.discard(path)
                return True
            return False

    def plan(self, paths: list[str]) -> None:
        with self._lock:
            self._planned = set(paths)

    def done(self, path: str) -> None:
        with self._lock:
            self._planned.discard(path)

    def planned(self, path: str) -> bool:
        with self._lock:
            return path in self._planned
