"""What a live client receives: point and category messages, exactly once each.

A `Feed` holds one client's subscriptions and, per series, the cursor of the last point it was
sent (its watermark). Stored points (a replay) and live commits both pass through it, and any
point at or below the watermark is dropped, which is what makes the seam between "what was
stored" and "what arrives now" free of gaps and duplicates: the subscription is registered
before the stored points are read, so every point is in the replay, in a later commit, or both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tsvis_live.compute.jsonsafe import dumps
from tsvis_live.store.provider import ScalarRead, SeriesRead
from tsvis_live.store.writer import SECTION, Commit

KINDS = ("scalar", "histogram")
MAX_POINTS_PER_MESSAGE = 5000
# Numbers per message (a scalar point is 3, a histogram 3 + 3 per bucket): at most ~25 characters
# each, this keeps every message well under 1 MiB, the default frame limit of WebSocket clients
# (a window of finely bucketed histograms used to make one multi-megabyte frame).
MAX_NUMBERS_PER_MESSAGE = 30_000
FRAME_BUDGET = 768 * 1024  # characters of one batched frame

Key = tuple[str, str, str]  # kind, run, tag


class Message(dict):
    """A protocol message that is JSON-encoded once, however many clients it is sent to."""

    __slots__ = ("_json",)

    def json(self) -> str:
        try:
            return self._json
        except AttributeError:
            self._json = dumps(self).decode()
            return self._json


def encode(message: dict[str, Any]) -> str:
    return message.json() if isinstance(message, Message) else dumps(message).decode()


def points_message(kind: str, run: str, tag: str, points: list[list[Any]], cursor: int, **extra: Any) -> Message:
    return Message(type="points", kind=kind, run=run, tag=tag, points=points, cursor=cursor, **extra)


def category_message(run: str, kind: str, tag: str | None, cursor: int) -> Message:
    """A new run (kind "run") or a new tag (kind = its getCategory section)."""
    if kind == "run":
        return Message(type="category", run=run, kind="run", tags=[], cursor=cursor)
    return Message(type="category", run=run, kind=SECTION.get(kind, kind), series_kind=kind, tags=[tag],
                   cursor=cursor)


def _cost(point: list[Any]) -> int:
    return 3 + 3 * len(point[4]) if len(point) > 4 else 3


def chunked(kind: str, run: str, tag: str, points: list[list[Any]], cursors: list[int], **extra: Any) -> list[dict]:
    """Points messages of at most MAX_POINTS_PER_MESSAGE points and MAX_NUMBERS_PER_MESSAGE
    numbers each (every message holds at least one point)."""
    out: list[dict] = []
    start, numbers = 0, 0
    for i, point in enumerate(points):
        cost = _cost(point) if kind == "histogram" else 3
        if i > start and (i - start >= MAX_POINTS_PER_MESSAGE or numbers + cost > MAX_NUMBERS_PER_MESSAGE):
            out.append(points_message(kind, run, tag, points[start:i], int(cursors[i - 1]), **extra))
            start, numbers = i, 0
        numbers += cost
    if start < len(points):
        out.append(points_message(kind, run, tag, points[start:], int(cursors[len(points) - 1]), **extra))
    return out


def batches(encoded: list[str], budget: int = FRAME_BUDGET) -> list[list[str]]:
    """Encoded messages grouped into batch frames of at most `budget` characters (a message
    larger than that alone is its own group)."""
    groups: list[list[str]] = []
    size = 0
    for text in encoded:
        if not groups or size + len(text) > budget:
            groups.append([])
            size = 0
        groups[-1].append(text)
        size += len(text) + 1
    return groups


def protocol_rows(read: SeriesRead) -> tuple[list[list[Any]], list[int]]:
    """A series read from the store as protocol rows, with each row's cursor."""
    if isinstance(read, ScalarRead):
        s = read.points
        rows = [list(p) for p in zip(s.wall_times.tolist(), s.steps.tolist(), s.values.tolist())]
        return rows, s.cursors.tolist()
    return [h.as_list() for h in read.points], [h.cursor for h in read.points]


@dataclass
class Feed:
    """One client's subscriptions and watermarks."""

    watermarks: dict[Key, int] = field(default_factory=dict)

    def subscribe(self, key: Key, watermark: int) -> None:
        self.watermarks[key] = watermark

    def unsubscribe(self, key: Key) -> None:
        self.watermarks.pop(key, None)

    def clear(self) -> dict[Key, int]:
        old, self.watermarks = self.watermarks, {}
        return old

    def weigh(self, commit: Commit) -> int:
        """How many of a commit's points this client follows (what its buffer counts)."""
        marks = self.watermarks
        if not marks:
            return 0
        return sum(len(u.cursors) for u in commit.updates if (u.kind, u.run, u.tag) in marks)

    def accept(self, key: Key, points: list[list[Any]], cursors: list[int]) -> list[dict[str, Any]]:
        """Messages for the points above the key's watermark (which then moves up)."""
        mark = self.watermarks.get(key)
        if mark is None or not cursors:
            return []
        if cursors[0] <= mark:
            keep = [i for i, c in enumerate(cursors) if c > mark]
            points = [points[i] for i in keep]
            cursors = [cursors[i] for i in keep]
        if not cursors:
            return []
        self.watermarks[key] = cursors[-1]
        return chunked(key[0], key[1], key[2], points, cursors)

    def from_commits(self, commits: Iterable[Commit]) -> list[dict[str, Any]]:
        """Category messages plus the subscribed points of a run of commits, in commit order.

        The usual case (the client has seen nothing of an update yet) reuses the update's
        shared, already-encoded messages, so fan-out to many clients costs little per client.
        """
        messages: list[dict[str, Any]] = []
        for commit in commits:
            messages.extend(category_message(c.run, c.kind, c.tag, c.cursor) for c in commit.categories)
            for upd in commit.updates:
                key = (upd.kind, upd.run, upd.tag)
                mark = self.watermarks.get(key)
                if mark is None or not upd.cursors:
                    continue
                if upd.cursors[0] > mark:
                    shared = upd.memo.get("messages")
                    if shared is None:
                        shared = upd.memo["messages"] = chunked(*key, upd.points(), list(upd.cursors))
                    messages.extend(shared)
                    self.watermarks[key] = upd.cursors[-1]
                else:
                    messages.extend(self.accept(key, upd.points(), list(upd.cursors)))
        return messages
