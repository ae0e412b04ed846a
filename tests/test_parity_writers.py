"""Parity with TensorBoard for the writers of this venv (tensorboardX, torch.utils.tensorboard,
TS-VIS): each writes a complete logdir, TensorBoard 2.21's Python loader reads it keeping every
point, a real tsvis-live server serves it through the TS-VIS API (`all_writes=1`), and every
value is compared (`bench.parity`). Every difference must have a known cause.

The TensorFlow, Keras, TF1 and Lightning writers need their own venvs (TensorFlow beside
TensorBoard changes what TensorBoard and torch load): `python -m bench.parity` runs them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench import parity


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> dict:
    scratch = tmp_path_factory.mktemp("parity")
    return parity.run(list(parity.MAIN_WRITERS), main_only=True, scratch=scratch)


def test_every_main_writer_ran_in_this_venv(outcome: dict) -> None:
    assert outcome["skipped"] == {}
    assert set(outcome["results"]) == set(parity.MAIN_WRITERS)
    assert {r["python"] for r in outcome["results"].values()} == {sys.executable}


def test_no_unexplained_difference(outcome: dict) -> None:
    bad = parity.unexplained(outcome["results"])
    assert bad == [], parity.report(outcome)


# What each writer must have produced and TensorBoard read (a lower bound on N, so an empty
# side cannot pass), and the kinds whose every item must be exactly equal.
MINIMUM = {
    "tbx": {"scalars": 26, "histograms": 6, "images": 4, "text": 2, "pr_curves": 2,
            "custom_scalars": 1, "hparams": 6, "graphs": 9, "embeddings": 2},
    "torch": {"scalars": 40, "histograms": 6, "images": 4, "audio": 1, "text": 2,
              "pr_curves": 2, "custom_scalars": 1, "hparams": 6, "graphs": 9, "embeddings": 2},
    "tsvis": {"scalars": 8, "images": 3, "audio": 1, "hparams": 3},
}
EXACT = ("scalars", "images", "text", "pr_curves", "custom_scalars", "hparams", "graphs")


@pytest.mark.parametrize("writer", parity.MAIN_WRITERS)
def test_tensorboard_and_tsvis_live_see_the_same_items(outcome: dict, writer: str) -> None:
    kinds = outcome["results"][writer]["kinds"]
    for kind, least in MINIMUM[writer].items():
        assert kinds[kind]["n"] >= least, (kind, parity.report(outcome))
    for kind in EXACT:
        entry = kinds[kind]
        cell = parity.cell(entry)
        assert cell.split(" +")[0] in ("-", f"equal {entry['n']}/{entry['n']}"), (kind, cell)
        assert not [d for d in entry["diffs"] if d["code"] in ("missing", "value")], kind


def test_float64_nan_inf_and_repeated_steps_are_compared_exactly(outcome: dict) -> None:
    """torch's float64 scalar, NaN/+Inf/-Inf and a resumed job's rewritten steps are among the
    points found equal (TensorBoard's Python loader keeps a v2 file's step going back)."""
    kinds = outcome["results"]["torch"]["kinds"]
    assert kinds["scalars"]["diffs"] == []
    assert kinds["scalars"]["n"] == 40  # 9 tags x 4 steps + 2 resumed writes + 2 hparams metrics
    assert outcome["results"]["tsvis"]["kinds"]["scalars"]["diffs"] == []


def test_table_and_report_name_every_writer(outcome: dict) -> None:
    text = parity.report(outcome)
    assert text.splitlines()[0] == "| kind | tbx | torch | tsvis |"
    assert "UNEXPLAINED" not in text
    assert Path(parity.__file__).name == "parity.py"


def test_comparison_flags_a_changed_or_dropped_point() -> None:
    """The comparator itself: a value off by one ulp, a dropped point and a blob with other
    bytes are unexplained differences; NaN equals NaN."""
    from bench.parity_compare import compare
    from bench.parity_read import empty_view

    tb, sv = empty_view(), empty_view()
    tb["scalars"]["run\tloss"] = [[1.0, 0, float("nan")], [2.0, 1, 0.5], [3.0, 2, 0.25]]
    sv["scalars"]["run\tloss"] = [[1.0, 0, float("nan")], [2.0, 1, 0.5000000000000001]]
    tb["images"]["run\timg"] = [[1.0, 0, 0, 6, 4, "aa"]]
    sv["images"]["run\timg"] = [[1.0, 0, 0, 6, 4, "ab"]]
    out = compare(tb, sv)
    assert out["scalars"][0] == 3
    assert [(d.code, d.as_dict()["explained"]) for d in out["scalars"][1]] == [
        ("value", False), ("missing", False)]
    assert [d.code for d in out["images"][1]] == ["value"]
    sv["scalars"]["run\tloss"] = [list(p) for p in tb["scalars"]["run\tloss"]]
    assert compare(tb, sv)["scalars"][1] == []
