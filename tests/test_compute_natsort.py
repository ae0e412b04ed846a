import json
import random
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tsvis_live.compute.natsort import group_of, natsorted, natural_key


def test_numbers_compare_as_numbers():
    tags = ["layer10/w", "layer2/w", "layer1/w", "Layer3", "loss", "a01", "a1", "a"]
    assert natsorted(tags) == ["a", "a01", "a1", "layer1/w", "layer2/w", "Layer3", "layer10/w", "loss"]


def test_digits_first_and_unicode_digits():
    assert natsorted(["x", "10", "9", "x٣"]) == ["9", "10", "x", "x٣"]


@given(st.lists(st.text(max_size=8)))
def test_total_order_never_raises(xs):
    out = sorted(xs, key=natural_key)
    assert sorted(out) == sorted(xs)
    keys = [natural_key(x) for x in out]
    assert keys == sorted(keys)


def test_group_of():
    assert group_of("train/loss") == "train"
    assert group_of("loss") == "loss"
    assert group_of("a/b/c") == "a"
    assert group_of("/x") == ""


VECTORS = json.loads((Path(__file__).parent / "natsort_vectors.json").read_text())


def test_shared_vectors_sorted_order():
    """The same file is checked by web/test/natsort.test.ts against the dashboard's sort."""
    want = VECTORS["sorted"]
    assert len(want) > 30
    for seed in range(5):
        shuffled = want[:]
        random.Random(seed).shuffle(shuffled)
        assert natsorted(shuffled) == want
    for a, b in zip(want, want[1:]):
        assert natural_key(a) < natural_key(b), (a, b)


def test_shared_vectors_pairs():
    for p in VECTORS["pairs"]:
        ka, kb = natural_key(p["a"]), natural_key(p["b"])
        assert (ka > kb) - (ka < kb) == p["order"], p
