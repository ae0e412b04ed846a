"""How far an ingest pass has got (shared by the CLI's progress bar and /api/live/status)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Progress:
    files_done: int = 0
    files_total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    events: int = 0
    points: int = 0
    skipped: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started
