"""`tsvis_live.open(...)` and `tsvis-live export`: a stored session as tables, no log re-read.

Logs from the real torch writer (Lightning-style repeated steps included), ingested by the real
CLI; the tables must equal what was written.
"""

from __future__ import annotations

import csv
import io
import math
import subprocess
import sys
from pathlib import Path

import pytest
from torch.utils.tensorboard import SummaryWriter

import tsvis_live
from tsvis_live.stored import NoStoredSession


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tsvis_live.cli", *args], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def session(tmp_path: Path) -> tuple[Path, Path]:
    logdir, data = tmp_path / "logs", tmp_path / "data"
    for lr in ("0.1", "0.01"):
        w = SummaryWriter(str(logdir / f"lr={lr}"))
        for step in range(5):
            w.add_scalar("loss", float(lr) * (5 - step), step)
        w.add_scalar("epoch", 0.0, 4)
        w.add_scalar("epoch", 1.0, 4)  # a repeated step, as Lightning writes it
        w.add_scalar("acc", float("nan"), 0)
        w.close()
    done = cli("ingest", "--logdir", str(logdir), "--data-dir", str(data), "--quiet")
    assert done.returncode == 0, done.stderr
    return logdir, data


def test_open_gives_runs_tags_and_dataframes(session) -> None:
    logdir, data = session
    with tsvis_live.open(logdir, data_dir=data) as s:
        assert sorted(s.runs()) == ["lr=0.01", "lr=0.1"]
        assert sorted(s.tags()["lr=0.1"]) == ["acc", "epoch", "loss"]
        df = s.scalars(tag="loss")
        assert list(df.columns) == ["run", "tag", "step", "wall_time", "value"]
        one = df[df.run == "lr=0.1"].sort_values("step")
        assert one.step.tolist() == [0, 1, 2, 3, 4]
        assert one.value.tolist() == pytest.approx([0.5, 0.4, 0.3, 0.2, 0.1], rel=1e-6)
        epoch = s.scalars(run="lr=0.1", tag="epoch")
        assert epoch.value.tolist() == [1.0]  # the newest write of step 4, as the API shows it
        assert s.scalars(run="lr=0.1", tag="epoch", all_writes=True).value.tolist() == [0.0, 1.0]
        assert math.isnan(s.scalars(run="lr=0.1", tag="acc").value.iloc[0])
    with tsvis_live.open(next(data.glob("*.sqlite"))) as s:  # the database file itself
        assert len(s.scalars()) == 2 * (5 + 1 + 1)


def test_export_csv_equals_the_stored_points(session) -> None:
    logdir, data = session
    done = cli("export", "--logdir", str(logdir), "--data-dir", str(data), "--tag", "loss")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert len(rows) == 10 and set(rows[0]) == {"run", "tag", "step", "wall_time", "value"}
    assert sorted({r["run"] for r in rows}) == ["lr=0.01", "lr=0.1"]
    assert "exported 10 scalar points" in done.stderr


def test_a_logdir_never_ingested_is_a_sentence(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(NoStoredSession, match="tsvis-live ingest"):
        tsvis_live.open(tmp_path / "empty", data_dir=tmp_path / "data")
    done = cli("export", "--logdir", str(tmp_path / "empty"), "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
