"""Projector embeddings that live in a TensorFlow checkpoint, as TensorBoard's projector finds them.

A `projector_config.pbtxt` entry with a `tensor_name` and no `tensor_path` names a variable of
a checkpoint (TensorFlow 2 object checkpoints spell it `embedding/.ATTRIBUTES/VARIABLE_VALUE`,
TF1 `Saver` checkpoints `emb` or `emb:0`; a trailing `:0` is dropped, as TensorBoard does).
Which checkpoint, in TensorBoard's order:
1. the config's `model_checkpoint_path` (relative to the config's directory here; TensorBoard
   takes it relative to its own working directory, which only works for absolute paths);
2. the config's `model_checkpoint_dir`, through its `checkpoint` state file (our addition:
   TensorBoard ignores that field);
3. the newest checkpoint named by the `checkpoint` state file in the run's directory (the
   config's; for a config under `<run>/plugins/projector/`, `<run>`), else in its parent,
   never above the logdir.
An entry with neither `tensor_name` nor `tensor_path`, or a config without entries, stands for
every 2-D variable of that checkpoint except optimizer slots (`.OPTIMIZER_SLOT`), each
labelled by that entry's metadata when its row count fits (TensorBoard's rule). Differences:
a run without a projector config is not searched for checkpoints (TensorBoard lists every
2-D weight of any run's checkpoint; here the config is the opt-in), and tensors over
`MAX_TENSOR_BYTES` are refused rather than held in memory.

The tag is the tensor name, the step the checkpoint's number (`embedding.ckpt-3` -> 3, else
0), the wall time the index file's modification time. Values become float32 (N, D), the
projector's own precision.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from tsvis_live.formats.checkpoint import (
    STATE_FILE,
    Bundle,
    CheckpointError,
    checkpoint_step,
    latest_checkpoint,
    resolve_prefix,
)
from tsvis_live.formats.paths import is_within, real_root
from tsvis_live.records import TensorRecord

MAX_TENSOR_BYTES = 256 << 20  # one embedding as stored in the checkpoint
MAX_AUTO_BYTES = 256 << 20  # all the variables an unnamed entry stands for, together
OPTIMIZER_SLOT = ".OPTIMIZER_SLOT"


def tensor_key(name: str) -> str:
    """The checkpoint key an entry's `tensor_name` means (TensorBoard drops a trailing ':0')."""
    return name[:-2] if name.endswith(":0") else name


def _rel(path: Path, logdir: Path) -> str:
    try:
        return Path(os.path.relpath(path, logdir)).as_posix()
    except ValueError:
        return path.name


def _resolve_dir(spelled: str, base: Path, logdir: Path) -> Path:
    """`model_checkpoint_dir`: relative to the config; absolute only inside the logdir, else
    the directory of that name beside the config (a logdir moved since it was written)."""
    path = Path(spelled)
    if not path.is_absolute():
        return Path(os.path.normpath(base / path))
    return path if is_within(os.path.realpath(path), real_root(logdir)) else base / path.name


def search_dirs(base: Path, logdir: Path) -> list[Path]:
    """Where TensorBoard looks for a run's checkpoint: the run's directory, then its parent."""
    run = base.parent.parent if base.parts[-2:] == ("plugins", "projector") else base
    dirs = [run]
    root = real_root(logdir)
    if os.path.realpath(run) != root and is_within(os.path.realpath(run.parent), root):
        dirs.append(run.parent)
    return dirs


def companions(config: Any, base: Path, logdir: Path) -> list[Path]:
    """Files besides the config whose change changes what it yields: the files its entries
    name, and the checkpoint it follows (explicit prefix, or the `checkpoint` state files)."""
    out: list[Path] = []
    uses_checkpoint = not config.embeddings
    for emb in config.embeddings:
        for spelled in (emb.tensor_path, emb.metadata_path, emb.sprite.image_path):
            if spelled and not os.path.isabs(spelled):
                out.append(base / spelled)
        uses_checkpoint = uses_checkpoint or not emb.tensor_path
    if uses_checkpoint:
        if config.model_checkpoint_path:
            prefix = resolve_prefix(config.model_checkpoint_path, base, logdir)
            out.append(prefix.with_name(prefix.name + ".index"))
        elif config.model_checkpoint_dir:
            out.append(_resolve_dir(config.model_checkpoint_dir, base, logdir) / STATE_FILE)
        else:
            out.extend(d / STATE_FILE for d in search_dirs(base, logdir))
    return out


class CheckpointSource:
    """The checkpoint one projector config uses, found and opened on first need."""

    def __init__(self, config: Any, base: Path, logdir: Path) -> None:
        self.config, self.base, self.logdir = config, base, logdir
        self._bundle: Bundle | None = None
        self._error: CheckpointError | None = None
        self.auto_bytes = 0

    def _find(self) -> Path | None:
        if self.config.model_checkpoint_path:
            return resolve_prefix(self.config.model_checkpoint_path, self.base, self.logdir)
        if self.config.model_checkpoint_dir:
            directory = _resolve_dir(self.config.model_checkpoint_dir, self.base, self.logdir)
            found = latest_checkpoint(directory, self.logdir)
            if found is None:
                raise CheckpointError(f"model_checkpoint_dir {_rel(directory, self.logdir)!r} holds no "
                                      "`checkpoint` state file")
            return found
        for directory in search_dirs(self.base, self.logdir):
            found = latest_checkpoint(directory, self.logdir)
            if found is not None:
                return found
        return None

    def bundle(self, required: bool = True) -> Bundle | None:
        """The opened checkpoint; raises `CheckpointError` (remembered) when there is none and
        `required`, else answers None for "no checkpoint at all"."""
        if self._bundle is not None:
            return self._bundle
        if self._error is not None:
            raise self._error
        try:
            prefix = self._find()
            if prefix is None:
                if not required:
                    return None
                where = " or ".join(repr(_rel(d, self.logdir)) for d in search_dirs(self.base, self.logdir))
                raise CheckpointError(f"no checkpoint found: the config has no model_checkpoint_path and "
                                      f"there is no checkpoint state file in {where} (the file named "
                                      "checkpoint)")
            self._bundle = Bundle(prefix, self.logdir)
        except CheckpointError as err:
            self._error = err
            raise
        return self._bundle

    def record(self, name: str) -> TensorRecord:
        """The embedding record of one checkpoint tensor."""
        bundle = self.bundle()
        assert bundle is not None
        key = tensor_key(name)
        value = bundle.read(key, MAX_TENSOR_BYTES)
        if value.ndim == 0:
            raise CheckpointError(f"tensor {key!r} of checkpoint {bundle.prefix.name} is a scalar, "
                                  "not a set of points")
        if np.iscomplexobj(value):
            raise CheckpointError(f"tensor {key!r} of checkpoint {bundle.prefix.name} holds complex numbers")
        value = np.ascontiguousarray(value.reshape(value.shape[0], -1), dtype=np.float32)
        index = bundle.prefix.with_name(bundle.prefix.name + ".index")
        try:
            wall = index.stat().st_mtime
        except OSError:
            wall = 0.0
        return TensorRecord("embedding", key, checkpoint_step(bundle.prefix), wall, value)

    def others(self, named: set[str]) -> list[str]:
        """Every 2-D variable not named by the config, not an optimizer slot, in name order,
        within `MAX_AUTO_BYTES` together (the rest is left out, in name order)."""
        bundle = self.bundle(required=False)
        if bundle is None:
            return []
        out = []
        for name in sorted(bundle.entries):
            entry = bundle.entries[name]
            if name in named or OPTIMIZER_SLOT in name or len(entry.shape) != 2 or entry.slices:
                continue
            if self.auto_bytes + entry.size > MAX_AUTO_BYTES:
                continue
            self.auto_bytes += entry.size
            out.append(name)
        return out
