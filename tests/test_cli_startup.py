"""Start-up: the cyclic garbage collector is paused while a command imports, never longer.

In process (`tsvis_live.cli.main`), on a real logdir and a real SQLite file.
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from tests.eventfiles import write_scalars
from tsvis_live.cli import main

NAME = "events.out.tfevents.1700000000.host"


def test_every_command_leaves_the_collector_as_it_found_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    logdir = tmp_path / "logs"
    write_scalars(logdir / "run" / NAME, "loss", range(3))
    ingest = ["ingest", "--logdir", str(logdir), "--data-dir", str(tmp_path / "data"), "--json", "--quiet"]
    assert gc.isenabled()
    assert main(["ingest", "--logdir", str(tmp_path / "missing")]) == 2  # an early return
    assert gc.isenabled()
    with pytest.raises(SystemExit):
        main(["ingest", "--version"])  # argparse exits
    assert gc.isenabled()
    assert main(ingest) == 0
    assert gc.isenabled()
    assert '"events": 4' in capsys.readouterr().out
    gc.disable()  # a caller's own choice is kept
    try:
        assert main(ingest) == 0
        assert not gc.isenabled()
    finally:
        gc.enable()
