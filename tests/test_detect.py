"""Format detection on files written by the real writers (and OneFlow's layout, built by hand)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tsvis_live.formats.detect import TAILED_FORMATS, WHOLE_FILE_FORMATS, LogFile, detect, run_name

KERAS_MODEL = {"class_name": "Sequential", "config": {"name": "seq", "layers": []}}

TSVIS_WRITER = """
import sys
from tsvis.logger.summary_writer import SummaryWriter
w = SummaryWriter(sys.argv[1])
w.get_writer("projector")
w.get_writer("hparams")
w.add_json_graph(sys.argv[2], name=sys.argv[3])
w.close()
"""


def tsvis_write(logdir: Path, model_json: str, name: str = "model") -> None:
    """Run the TS-VIS writer in a child: its generated protos need the pure-Python runtime."""
    env = dict(os.environ, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python")
    subprocess.run([sys.executable, "-c", TSVIS_WRITER, str(logdir), model_json, name],
                   check=True, env=env, timeout=120, capture_output=True)


def detect_all(logdir: Path) -> dict[str, LogFile]:
    found = {}
    for path in sorted(logdir.rglob("*")):
        if path.is_file():
            lf = detect(path, logdir)
            if lf is not None:
                found[path.relative_to(logdir).as_posix()] = lf
    return found


def test_pytorch_writer_files(tmp_path: Path) -> None:
    import torch  # installed by the test command: a missing torch fails here
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path)) as w:
        w.add_scalar("loss", 1.0, 0)
        w.add_scalars("acc", {"train": 1.0, "val": 2.0}, 0)
        w.add_embedding(torch.zeros(4, 3), metadata=list("abcd"),
                        label_img=torch.zeros(4, 3, 2, 2), global_step=7, tag="emb")
    found = detect_all(tmp_path)
    formats = {k: v.format for k, v in found.items()}
    assert formats.pop("projector_config.pbtxt") == "tb_projector"
    assert sorted(formats.values()) == ["events"] * 3
    assert sorted(run_name(found[k].run_dir, tmp_path) for k in formats) == [".", "acc_train", "acc_val"]
    assert found["projector_config.pbtxt"].run_dir == tmp_path
    # the projector's data files are reached through the config, never on their own
    for name in ("tensors.tsv", "metadata.tsv", "sprite.png"):
        assert detect(tmp_path / "00007" / "emb" / name, tmp_path) is None


def test_tsvis_writer_files(tmp_path: Path) -> None:
    run = tmp_path / "exp1"
    tsvis_write(run, json.dumps(KERAS_MODEL))
    found = detect_all(tmp_path)
    names = sorted(found)
    assert len(names) == 4
    events = [n for n in names if found[n].format == "events"]
    assert len(events) == 3
    assert sorted(n.split("/")[1].split(".")[0] for n in events) == ["events", "hparams", "projector"]
    assert all("tfevents" not in n for n in events)
    assert found["exp1/model.json"] == LogFile(run / "model.json", "json_model", run)
    assert {run_name(lf.run_dir, tmp_path) for lf in found.values()} == {"exp1"}


def test_json_beside_events_needs_a_model_shape(tmp_path: Path) -> None:
    tsvis_write(tmp_path, json.dumps(KERAS_MODEL), name="net")
    (tmp_path / "config.json").write_text(json.dumps({"lr": 0.1, "epochs": 3}))
    (tmp_path / "pending.json").write_text("")  # not written yet: accepted, reading decides
    assert detect(tmp_path / "net.json", tmp_path).format == "json_model"
    assert detect(tmp_path / "config.json", tmp_path) is None
    assert detect(tmp_path / "pending.json", tmp_path).format == "json_model"


def test_json_without_events(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "model.json").write_text(json.dumps(KERAS_MODEL))
    (tmp_path / "a" / "other.json").write_text(json.dumps(KERAS_MODEL))
    assert detect(tmp_path / "a" / "model.json", tmp_path).format == "json_model"
    assert detect(tmp_path / "a" / "other.json", tmp_path) is None


def test_oneflow_layout(tmp_path: Path) -> None:
    run = tmp_path / "job"
    for rel in ("projector/projector.1620000000.log", "projector/projector.gradit.1620000000.log",
                "graph/structure_graph.json", "events.out.tfevents.1620000000.host.v2"):
        (run / rel).parent.mkdir(parents=True, exist_ok=True)
        (run / rel).write_bytes(b"")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "structure_graph.json").write_text("[]")
    found = detect_all(tmp_path)
    assert {k: (v.format, run_name(v.run_dir, tmp_path)) for k, v in found.items()} == {
        "job/projector/projector.1620000000.log": ("oneflow_projector", "job"),
        "job/projector/projector.gradit.1620000000.log": ("oneflow_projector", "job"),
        "job/graph/structure_graph.json": ("oneflow_graph", "job"),
        "job/events.out.tfevents.1620000000.host.v2": ("events", "job"),
        "old/structure_graph.json": ("oneflow_graph", "old"),
    }


def test_oneflow_dirs_at_the_logdir_root(tmp_path: Path) -> None:
    (tmp_path / "projector").mkdir()
    (tmp_path / "projector" / "projector.1.log").write_bytes(b"")
    lf = detect(tmp_path / "projector" / "projector.1.log", tmp_path)
    assert (lf.format, run_name(lf.run_dir, tmp_path)) == ("oneflow_projector", ".")
    # pointing the logdir at the projector directory itself still stays inside it
    lf = detect(tmp_path / "projector" / "projector.1.log", tmp_path / "projector")
    assert lf.run_dir == tmp_path / "projector"


@pytest.mark.parametrize("name", [
    ".events.out.tfevents.1.h", "events.out.tfevents.1.h.tmp", "events.out.tfevents.1.h~",
    "notes.txt", "checkpoint", "model.ckpt-1.index", "projector.1.log", "events.out.bad",
    "data.json.swp", "x.pbtxt",
])
def test_non_logs(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"x")
    (tmp_path / "events.out.tfevents.1.h").write_bytes(b"")  # makes *.json candidates here
    assert detect(tmp_path / name, tmp_path) is None


def test_outside_the_logdir(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    outside = tmp_path / "events.out.tfevents.1.h"
    outside.write_bytes(b"")
    assert detect(outside, tmp_path / "logs") is None


def test_format_sets_and_run_names(tmp_path: Path) -> None:
    assert TAILED_FORMATS == {"events"}
    assert WHOLE_FILE_FORMATS == {"oneflow_projector", "oneflow_graph", "tb_projector", "json_model"}
    assert run_name(tmp_path, tmp_path) == "."
    assert run_name(tmp_path / "a" / "b c", tmp_path) == "a/b c"
    with pytest.raises(ValueError):
        run_name(tmp_path.parent, tmp_path)
