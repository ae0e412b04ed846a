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
