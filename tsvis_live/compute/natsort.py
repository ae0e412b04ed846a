"""Natural ordering of tag names and their scalar-panel group.

TS-VIS and TensorBoard users name tags ``layer10/loss``; plain string order puts
``layer10`` before ``layer2``. Only ASCII digits count as numbers so that exotic
Unicode digits never change the order.

The dashboard sorts with the same rule (``naturalCompare`` in ``web/src/data/natsort.ts``); both
pass the shared vectors in ``tests/natsort_vectors.json``. Only ``A``-``Z`` are folded:
full Unicode case folding differs between Python and JavaScript (``"ß".casefold()`` is
``"ss"``, JavaScript has no casefold), so the two sorts would disagree on such names.
"""

from __future__ import annotations

import re
from functools import lru_cache

_DIGITS = re.compile(r"([0-9]+)")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@lru_cache(maxsize=65536)  # the same tag names recur in every run of a getCategory answer
def natural_key(s: str) -> tuple:
    """Sort key: alternating text (``A``-``Z`` folded to lower case) and integers, then the raw string.

    ``re.split`` with a capture group always yields text at even positions and digit
    runs at odd ones, so two keys only ever compare str with str and int with int.
    The raw string at the end makes the order total (``"A01"`` < ``"a01"`` < ``"a1"``).
    """
    parts = _DIGITS.split(s)
    key: list[str | int] = []
    for i, part in enumerate(parts):
        key.append(int(part) if i % 2 else part.translate(_ASCII_LOWER))
    return (tuple(key), s)


def natsorted(items) -> list[str]:
    """Return ``items`` sorted by :func:`natural_key`."""
    return sorted(items, key=natural_key)


def group_of(tag: str) -> str:
    """The scalar panel's group: the part before the first ``/`` (whole tag if none).

    A tag starting with ``/`` belongs to the group ``""``, literally as specified.
    """
    return tag.split("/", 1)[0]
