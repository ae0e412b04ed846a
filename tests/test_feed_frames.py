"""Live messages stay under the 1 MiB frame limit WebSocket clients apply by default.

A window of finely bucketed histograms (tensorboardX's default bins give ~770 buckets) used to
go out as one multi-megabyte message, and the `websockets` client closed the socket with 1009.
"""

from __future__ import annotations

import json

from tsvis_live.stream.feed import MAX_POINTS_PER_MESSAGE, batches, chunked, encode

MIB = 1024 * 1024


def _histograms(n: int, buckets: int) -> list[list]:
    return [[1.7e9 + i / 3, i, -1.2345678901234567, 1.2345678901234567,
             [[-1.0 + k / 3, -1.0 + (k + 1) / 3, float(k % 7) / 3] for k in range(buckets)]] for i in range(n)]


def test_histogram_messages_stay_under_a_mebibyte_and_keep_every_point_in_order() -> None:
    points = _histograms(200, 770)
    messages = chunked("histogram", "r", "w", points, list(range(1, 201)))
    assert len(messages) > 1
    assert all(len(encode(m)) < MIB for m in messages)
    assert [p[1] for m in messages for p in m["points"]] == list(range(200))
    assert [m["cursor"] for m in messages] == [int(m["points"][-1][1]) + 1 for m in messages]


def test_scalar_messages_are_cut_by_point_count() -> None:
    points = [[1.7e9, i, 0.5] for i in range(12_000)]
    messages = chunked("scalar", "r", "loss", points, list(range(12_000)))
    assert [len(m["points"]) for m in messages] == [MAX_POINTS_PER_MESSAGE, MAX_POINTS_PER_MESSAGE, 2000]


def test_batched_frames_stay_under_a_mebibyte() -> None:
    encoded = [encode(m) for m in chunked("histogram", "r", "w", _histograms(200, 770), list(range(200)))]
    frames = ['{"type":"batch","messages":[' + ",".join(g) + "]}" for g in batches(encoded)]
    assert all(len(f) < MIB for f in frames)
    assert sum(len(json.loads(f)["messages"]) for f in frames) == len(encoded)
