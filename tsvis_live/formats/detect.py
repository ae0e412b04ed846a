"""Decide from a path alone (plus, for JSON, a peek) which log format a file holds.

Why names: discovery runs on every file of a logdir, often while writers are creating them, so
it must be cheap and must not depend on content that may not be written yet. The one exception
is a `*.json` beside event files: training logdirs hold plenty of JSON (configs, metrics), so a
non-empty JSON whose head shows no model structure is refused. A file refused while it was
empty may be accepted later: callers should call `detect` again when a refused file changes.

Formats:
- `events`: TFRecord event files, tailed by byte offset. TensorFlow/PyTorch/tensorboardX/OneFlow
  name them `events.out.tfevents.*`; the TS-VIS writer `[<writer>.]events.out.<yymmdd-HHMMSS>.*`.
- `oneflow_projector`: `<run>/projector/projector[.gradit].<ts>.log`, one raw message each.
- `oneflow_graph`: `<run>/graph/structure_graph.json`, or `structure_graph.json` in the run.
- `tb_projector`: `projector_config.pbtxt` (TensorBoard projector, PyTorch/tensorboardX). A
  TensorFlow `checkpoint` state file beside one stands for that config (see `detect`).
- `json_model`: a model graph written by the TS-VIS writer's `add_json_graph` as
  `<log_dir>/<name>.json` (default name `model`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from tsvis_live.formats.paths import open_contained

TAILED_FORMATS: frozenset[str] = frozenset({"events"})
WHOLE_FILE_FORMATS: frozenset[str] = frozenset(
    {"oneflow_projector", "oneflow_graph", "tb_projector", "json_model"}
)

# `events.out.<yymmdd-HHMMSS>.<host>`, optionally prefixed by a writer name (projector, hparams)
_TSVIS_EVENTS = re.compile(r"(?:^|\.)events\.out\.\d{6}-\d{6}\.")
_JUNK_SUFFIXES = (".tmp", ".temp", ".swp", ".swx", ".part", ".partial", ".lock", ".crc", "~")
_JSON_MODEL_DEFAULT = "model.json"  # SummaryWriter.add_json_graph(name="model")
_JSON_PEEK = 64 << 10
_JSON_MARKERS = (b'"class_name"', b'"layers"')


@dataclass(frozen=True)
class LogFile:
    path: Path
    format: str
    run_dir: Path
    root: Path | None = field(default=None, compare=False)  # the logdir: nothing outside is read

    @property
    def logdir(self) -> Path:
        """What every file this log names must resolve inside (its run when built by hand)."""
        return self.root if self.root is not None else self.run_dir


def is_event_file(name: str) -> bool:
    """True for event file names of every writer we know (TensorFlow family and TS-VIS)."""
    return "tfevents" in name or _TSVIS_EVENTS.search(name) is not None


def _junk(name: str) -> bool:
    return name.startswith(".") or name.lower().endswith(_JUNK_SUFFIXES)


def _inside(path: Path, logdir: Path) -> bool:
    try:
        path.relative_to(logdir)
    except ValueError:
        return False
    return True


def _up(directory: Path, logdir: Path) -> Path:
    """The parent of a writer's subdirectory, never above the logdir."""
    return directory if directory == logdir else directory.parent


def _dir_has_events(directory: Path) -> bool:
    try:
        with os.scandir(directory) as entries:
            return any(is_event_file(e.name) and e.is_file() for e in entries)
    except OSError:
        return False


def _looks_like_model(path: Path, logdir: Path) -> bool:
    """False only when the file has content and its head shows no Keras-like model keys."""
    try:
        with open_contained(path, logdir) as f:
            head = f.read(_JSON_PEEK)
    except OSError:
        return True  # cannot tell yet; reading will report the problem
    if not head.strip():
        return True
    return any(marker in head for marker in _JSON_MARKERS)


def detect(path: Path, logdir: Path) -> LogFile | None:
    """The format and run of `path` (a file under `logdir`), or None when it is no log file."""
    path, logdir = Path(path), Path(logdir)
    if not _inside(path, logdir) or path == logdir:
        return None
    name = path.name
    if _junk(name):
        return None
    parent = path.parent

    if is_event_file(name):
        return LogFile(path, "events", parent, logdir)
    if name == "projector_config.pbtxt":
        return LogFile(path, "tb_projector", parent, logdir)
    if name == "checkpoint" and (parent / "projector_config.pbtxt").is_file():
        # a TensorFlow checkpoint saved beside a projector config changes what the config
        # yields: a change of this state file (written last by a save) means the config's
        return LogFile(parent / "projector_config.pbtxt", "tb_projector", parent, logdir)
    if name.startswith("projector") and name.endswith(".log") and parent.name == "projector":
        return LogFile(path, "oneflow_projector", _up(parent, logdir), logdir)
    if name == "structure_graph.json":
        run_dir = _up(parent, logdir) if parent.name == "graph" else parent
        return LogFile(path, "oneflow_graph", run_dir, logdir)
    if name.endswith(".json") and len(name) > len(".json"):
        if (name == _JSON_MODEL_DEFAULT or _dir_has_events(parent)) and _looks_like_model(path, logdir):
            return LogFile(path, "json_model", parent, logdir)
    return None


def run_name(run_dir: Path, logdir: Path) -> str:
    """The run's name as the API shows it: '.' for the logdir, else a '/'-separated path."""
    rel = Path(run_dir).relative_to(Path(logdir))
    return "." if rel == Path(".") else rel.as_posix()
