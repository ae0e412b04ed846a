"""What is wrong right now, for `/api/live/status` and for the log (each problem logged once).

Every part of a session that can meet a fault (the store, one log file, discovery, the ingest
lock) reports it here under a key instead of raising past its caller: one bad file never stops
the others, and an operator sees every open problem in one place. A problem that goes away is
cleared by its owner, and the log says so once as well.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("tsvis_live")


@dataclass
class Problem:
    area: str  # store | file | discovery | ingest
    subject: str  # the file (relative to the logdir), or what else is affected
    message: str  # one sentence for a person
    since: float = field(default_factory=time.time)
    attempts: int = 1
    retry_at: float | None = None  # wall time of the next retry, when one is scheduled

    def as_json(self) -> dict[str, Any]:
        return {"area": self.area, "subject": self.subject, "message": self.message,
                "since": self.since, "attempts": self.attempts, "retry_at": self.retry_at}


class Health:
    """Open problems of one session, keyed by (area, subject); thread-safe."""

    def __init__(self) -> None:
        self._problems: dict[tuple[str, str], Problem] = {}
        self._lock = threading.Lock()

    def report(self, area: str, subject: str, message: str, retry_at: float | None = None) -> Problem:
        """Record a problem; logged the first time (or when its message changes), not on repeats."""
        key = (area, subject)
        with self._lock:
            old = self._problems.get(key)
            if old is not None:
                old.attempts += 1
                old.retry_at = retry_at
                changed = old.message != message
                old.message = message
                problem = old
            else:
                problem = self._problems[key] = Problem(area, subject, message, retry_at=retry_at)
                changed = True
        if changed:
            log.warning("%s: %s", subject, message)
        return problem

    def clear(self, area: str, subject: str) -> None:
        with self._lock:
            old = self._problems.pop((area, subject), None)
        if old is not None:
            log.info("%s: recovered after %d failed attempts", subject, old.attempts)

    def get(self, area: str, subject: str) -> Problem | None:
        with self._lock:
            return self._problems.get((area, subject))

    def problems(self, area: str | None = None) -> list[Problem]:
        with self._lock:
            found = [p for p in self._problems.values() if area is None or p.area == area]
        return sorted(found, key=lambda p: (p.area, p.subject))

    def snapshot(self, hide: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Every open problem as JSON; the `hide` prefixes (absolute paths a remote client
        must not learn) are cut from messages and subjects, leaving the relative part."""
        out = [p.as_json() for p in self.problems()]
        for item in out:
            item["subject"], item["message"] = redact(item["subject"], hide), redact(item["message"], hide)
        return out


def redact(text: str, prefixes: tuple[str, ...]) -> str:
    """`text` with each absolute path prefix cut to what follows it ('.' for the prefix itself)."""
    for prefix in prefixes:
        bare = prefix.rstrip("/")
        if bare:
            text = text.replace(bare + "/", "").replace(bare, ".")
    return text
