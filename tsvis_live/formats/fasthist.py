"""The records of a window that are not plain scalars: histograms the compiled scan found are
taken as columns, everything else goes to `EventDecoder.decode` in record order.

Why: a Python object per histogram (tag decoded, plugin looked up, record built, then taken
apart again by the store) cost as much as decoding the rest of the window. Whether a histogram
found by `_native.histograms` is one is the rule of `_take` (what `decode` would do): a legacy
`histo` or a value with histogram metadata always; a bare tensor only if its tag is known as
"histograms"; a tensor of tag "custom_scalars__config__" or a tag that is not UTF-8 never;
taking one notes its tag as "histograms" when it was not.

That rule only needs per-record work where a tag's plugin may change. Between two records that
go to `decode` (barriers), a tag that has no plain scalar in the window (`_Plugins` would make it
"scalars") changes plugin only through its own histograms: the first one of each tag decides
and notes, the others are taken. If that first one is a bare tensor whose tag is not known as
"histograms", the rest of the window is decided record by record, as before.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from tsvis_live.formats import _native
from tsvis_live.histcolumns import HistogramColumns
from tsvis_live.records import Batch

if TYPE_CHECKING:
    from tsvis_live.formats.events import EventDecoder

log = logging.getLogger(__name__)
_CONFIG = "custom_scalars__config__"


def add_histograms(batch: Batch, hists: list) -> None:
    """Append `hists` to `batch.histograms`; columns stay columns when the batch has none yet."""
    if not hists:
        return
    if isinstance(hists, HistogramColumns) and type(batch.histograms) is list and not batch.histograms:
        batch.histograms = hists
    else:
        batch.histograms.extend(hists)


class _Slow:
    """The records (index, data start, data end) that are not fast, decoded into `batch`."""

    def __init__(self, window: bytes, base: int, numbers: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                 decoder: EventDecoder, batch: Batch, live: Any) -> None:
        self.window, self.base, self.decoder, self.batch, self.live = window, base, decoder, batch, live
        self.numbers, self.starts, self.ends = numbers.tolist(), starts.tolist(), ends.tolist()
        self.proto: list[tuple[int, int, int]] = []  # (position, first, end) of histograms decode made

    def at(self, p: int) -> None:
        """Make record p the current one for `_Plugins` and `_Scalars` (see `fastpath`)."""
        if self.live is not None:
            self.live.cur = self.batch.scalars.cur = self.numbers[p]

    def decode(self, p: int) -> None:
        from tsvis_live.formats.events import DecodeError

        self.at(p)
        hists = self.batch.histograms
        n = len(hists)
        try:
            self.decoder.decode(self.window[self.starts[p] : self.ends[p]], self.batch)
        except DecodeError as exc:
            log.debug("skipping record at byte %d: %s", self.base + self.starts[p] - 12, exc)
            self.batch.skipped += 1
        if len(self.batch.histograms) != n:
            self.proto.append((p, n, len(self.batch.histograms)))


def decode_slow(window: bytes, base: int, numbers: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                decoder: EventDecoder, batch: Batch, live: Any, hits: _native.Hits | None) -> None:
    """Decode the records `numbers` (data at starts..ends) into `batch`, taking the histograms
    `hits` (numbered among these records) as `decode` would, without building them."""
    slow = _Slow(window, base, numbers, starts, ends, decoder, batch, live)
    if not hits:
        for p in range(len(slow.numbers)):
            slow.decode(p)
        return
    names = [utf8(t) for t in hits.tags]
    fast = live.fast if live is not None else {}
    tensor = (hits.flags & _native.HIST_TENSOR) != 0
    meta = (hits.flags & _native.HIST_META) != 0
    sure = ~tensor | meta  # taken whatever the tag's plugin (the tag permitting)
    odd = np.array([n is None or n in fast for n in names], dtype=bool)
    config = np.array([n == _CONFIG for n in names], dtype=bool)
    tid, pos = hits.tag_ids, hits.index
    simple = np.flatnonzero(~odd[tid] & ~(tensor & config[tid]))  # hits decided by their tag's first
    spos = pos[simple]
    barrier = np.ones(len(slow.numbers), dtype=bool)
    barrier[spos] = False
    barriers = np.flatnonzero(barrier)
    key = np.searchsorted(barriers, spos).astype(np.int64) * len(names) + tid[simple]
    first = np.sort(np.unique(key, return_index=True)[1])  # each tag's first hit between barriers
    hit_at = np.full(len(slow.numbers), -1, dtype=np.int64)
    hit_at[pos] = np.arange(len(pos))
    ev_pos = np.concatenate([barriers, spos[first]])
    order = np.argsort(ev_pos, kind="stable")
    ev_hit = np.concatenate([np.full(len(barriers), -1, dtype=np.int64), simple[first]])[order]
    taken: list[int] = []
    stop = len(slow.numbers)
    for p, k in zip(ev_pos[order].tolist(), ev_hit.tolist()):  # a few per window: no lists made
        if k >= 0:
            tag = names[tid[k]]
            if decoder.plugins.get(tag) != "histograms":
                if not sure[k]:  # a bare tensor of a tag not (yet) known as histograms
                    stop = p
                    break
                slow.at(p)
                decoder._note(tag, "histograms", slow.batch)
        elif (k := int(hit_at[p])) >= 0 and _take(slow, p, names[tid[k]], bool(tensor[k]), bool(meta[k])):
            taken.append(k)
        else:
            slow.decode(p)
    if stop < len(slow.numbers):  # after a bare tensor decided otherwise: one by one
        tid_l, tensor_l, meta_l, hit_l = tid.tolist(), tensor.tolist(), meta.tolist(), hit_at.tolist()
        for p in range(stop, len(slow.numbers)):
            if (k := hit_l[p]) >= 0 and _take(slow, p, names[tid_l[k]], tensor_l[k], meta_l[k]):
                taken.append(k)
            else:
                slow.decode(p)
    acc = simple[spos < stop]
    if taken:
        acc = np.sort(np.concatenate([acc, np.asarray(taken, dtype=np.int64)]))
    if not len(acc):
        return
    batch.events += len(acc)
    rows = hits.rows
    cols = HistogramColumns(names, tid[acc], hits.step[acc], hits.stats[acc], rows[:-1][acc], rows[1:][acc],
                            hits.buckets)
    if not slow.proto:
        add_histograms(batch, cols)
        return
    # a window mixing both (rare): records in record order, as decode gives them
    n0 = slow.proto[0][1]
    made = batch.histograms[n0:]
    parts = [(p, j, h) for p, a, b in slow.proto for j, h in enumerate(made[a - n0 : b - n0])]
    parts += [(int(p), 0, h) for p, h in zip(pos[acc].tolist(), cols)]
    del batch.histograms[n0:]
    batch.histograms.extend(h for _, _, h in sorted(parts, key=lambda x: (x[0], x[1])))


def _take(slow: _Slow, p: int, tag: str | None, tensor: bool, meta: bool) -> bool:
    """Whether `decode` would take hit p as a histogram (noting its tag if need be)."""
    slow.at(p)
    plugin = slow.decoder.plugins.get(tag)
    if tag is None or (tensor and (tag == _CONFIG or (not meta and plugin != "histograms"))):
        return False
    if plugin != "histograms":
        slow.decoder._note(tag, "histograms", slow.batch)
    return True


def utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:  # protobuf rejects it too: the record takes the slow path
        return None
