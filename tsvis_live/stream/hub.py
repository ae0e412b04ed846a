"""Fan committed points out to live subscribers.

`Hub` is the one interface publishers and subscribers see. `LocalHub` delivers in-process: the
ingest thread publishes a `Commit`, and the event loop puts it on every subscriber's bounded
queue. A subscriber whose queue holds too many points is marked overflowed instead of slowing anyone down; it
must resynchronise from the store. A multi-process deployment would implement the same interface
over an external broker.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Protocol

from tsvis_live.store.writer import Commit

log = logging.getLogger(__name__)


MAX_QUEUED_COMMITS = 10_000  # a reader this many commits behind resyncs, whatever it follows


def _all_points(commit: Commit) -> int:
    return commit.points


class Subscriber:
    """One consumer's inbox of commits, bounded by the points it will be sent.

    `weigh` says how many of a commit's points this consumer follows: a client that follows
    one quiet series is not pushed to resync by a backlog of points it would never receive.
    """

    def __init__(self, max_points: int = 100_000, weigh: Callable[[Commit], int] | None = None) -> None:
        self.queue: deque[Commit] = deque()
        self.max_points = max_points
        self.weigh = weigh or _all_points
        self.points = 0
        self.overflowed = False
        self.wakeup = asyncio.Event()

    def offer(self, commit: Commit) -> None:
        if self.overflowed:
            return
        self.queue.append(commit)
        self.points += self.weigh(commit)
        behind = (self.points > self.max_points and len(self.queue) > 1) or len(self.queue) > MAX_QUEUED_COMMITS
        if behind:  # by more than one commit
            self.overflowed = True
            self.queue.clear()  # free the memory now; the client refetches from the store
            self.points = 0
        self.wakeup.set()

    def drain(self) -> list[Commit]:
        commits = list(self.queue)
        self.queue.clear()
        self.points = 0
        return commits


class Hub(Protocol):
    last_cursor: int

    def publish(self, commit: Commit) -> None: ...
    def subscribe(self, max_points: int = 100_000, weigh: Callable[[Commit], int] | None = None) -> Subscriber: ...
    def unsubscribe(self, sub: Subscriber) -> None: ...


class FanOut:
    """The subscriber side every hub shares: the set of inboxes on this process's event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop
        self._subscribers: set[Subscriber] = set()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self, max_points: int = 100_000, weigh: Callable[[Commit], int] | None = None) -> Subscriber:
        sub = Subscriber(max_points, weigh)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subscribers.discard(sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)


class LocalHub(FanOut):
    """In-process hub; `publish` is safe to call from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(loop)
        self.published = 0
        self.last_cursor = 0  # the newest cursor delivered (seeded from the store at start)

    def publish(self, commit: Commit) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._deliver(commit)
        else:
            loop.call_soon_threadsafe(self._deliver, commit)

    def _deliver(self, commit: Commit) -> None:
        self.published += 1
        self.last_cursor = max(self.last_cursor, commit.cursor)
        for sub in list(self._subscribers):
            sub.offer(commit)
