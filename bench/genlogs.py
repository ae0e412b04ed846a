"""Generate a reproducible TensorBoard logdir for the benchmarks, fast, and cache it.

Events are real `Event` protos (tensorboard.compat.proto) framed with tsvis-live's own
`encode_record`. The layout imitates training jobs: every run logs `scalar_tags` scalars per
step (one event per value, as PyTorch/tensorboardX do), `hist_tags` histograms every
`hist_every` steps and a few PNG images. Two styles are mixed: most runs write legacy
`simple_value` scalars and `histo` histograms (tensorboardX/torch); every third run writes
TF2-style tensor summaries (DT_FLOAT rank-0 scalars, (k, 3) DT_DOUBLE histograms) with plugin
metadata on the first value of each tag. Odd runs are split into two event files (a resumed
job). Steps grow monotonically per tag, so no loader ever purges anything.

    python -m bench.genlogs [--quick] [--runs N] [--steps N] ...
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import struct
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2

from tsvis_live.formats.tfrecord import encode_record

GEN_VERSION = 1
OUT_DIR = Path(__file__).resolve().parent / "out"
BASE_WALL_TIME = 1_700_000_000.0
SCALAR_TAG_NAMES = ["loss", "accuracy", "lr", "grad_norm", "throughput"]
SCALAR_GROUPS = ["train", "eval", "opt", "sys"]


@dataclass(frozen=True)
class GenParams:
    runs: int = 10
    scalar_tags: int = 20
    steps: int = 10_000
    hist_tags: int = 4
    hist_every: int = 10
    buckets: int = 30
    images_per_run: int = 3
    seed: int = 1234

    @property
    def scalar_events(self) -> int:
        return self.runs * self.scalar_tags * self.steps

    @property
    def histogram_events(self) -> int:
        return self.runs * self.hist_tags * len(range(0, self.steps, self.hist_every))

    def key(self) -> str:
        blob = json.dumps({"v": GEN_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:10]


FULL = GenParams()
QUICK = GenParams(runs=4, scalar_tags=10, steps=2_000, hist_tags=2, hist_every=20, images_per_run=2)


def run_name(i: int) -> str:
    lr = ["1e-3", "3e-4", "1e-4"][i % 3]
    return f"sweep_lr{lr}/seed{i:02d}"


def scalar_tag(j: int) -> str:
    return f"{SCALAR_GROUPS[j % len(SCALAR_GROUPS)]}/{SCALAR_TAG_NAMES[j // len(SCALAR_GROUPS) % 5]}_{j:02d}"


def hist_tag(j: int) -> str:
    return f"weights/layer{j:02d}"


def tensor_style(i: int) -> bool:
    return i % 3 == 2


def _png(width: int, height: int, rgb: np.ndarray) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _scalar_meta() -> summary_pb2.SummaryMetadata:
    meta = summary_pb2.SummaryMetadata()
    meta.plugin_data.plugin_name = "scalars"
    meta.data_class = summary_pb2.DATA_CLASS_SCALAR
    return meta


def _hist_meta() -> summary_pb2.SummaryMetadata:
    meta = summary_pb2.SummaryMetadata()
    meta.plugin_data.plugin_name = "histograms"
    meta.data_class = summary_pb2.DATA_CLASS_TENSOR
    return meta


def _file_name(wall: float, index: int) -> str:
    return f"events.out.tfevents.{int(wall)}.benchhost.{4242 + index}.0"


def _version_event(wall: float) -> bytes:
    return encode_record(event_pb2.Event(wall_time=wall, step=0, file_version="brain.Event:2").SerializeToString())


def _write_run(args: tuple[GenParams, int, str]) -> dict[str, int]:
    """Write one run; returns counts. Runs in a worker process."""
    params, i, root = args
    rng = np.random.default_rng(params.seed + i)
    steps = np.arange(params.steps)
    walls = BASE_WALL_TIME + i * 10.0 + steps * 0.05 + rng.random(params.steps) * 0.01
    # realistic curves: decaying losses, saturating accuracies, noisy throughput
    values = np.empty((params.scalar_tags, params.steps), dtype=np.float32)
    for j in range(params.scalar_tags):
        scale = 1.0 + 0.1 * j
        decay = np.exp(-steps / (2000.0 + 100 * j + 300 * i))
        noise = rng.normal(0, 0.02, params.steps)
        values[j] = scale * decay + noise if j % 2 == 0 else 1.0 - 0.9 * decay + noise
    tensors = tensor_style(i)
    split = params.steps // 2 if i % 2 == 1 else params.steps
    run_dir = Path(root, run_name(i))
    run_dir.mkdir(parents=True, exist_ok=True)
    scalar_tags = [scalar_tag(j) for j in range(params.scalar_tags)]
    hist_tags = [hist_tag(j) for j in range(params.hist_tags)]
    image_steps = set(np.linspace(0, params.steps - 1, params.images_per_run, dtype=int).tolist()) if params.images_per_run else set()
    scalar_meta, hist_meta = _scalar_meta(), _hist_meta()
    f32_shape = tensor_shape_pb2.TensorShapeProto()
    counts = {"files": 0, "bytes": 0, "scalars": 0, "histograms": 0, "images": 0, "records": 0}
    Event, Summary, Value = event_pb2.Event, summary_pb2.Summary, summary_pb2.Summary.Value
    file = None
    out: list[bytes] = []

    def flush() -> None:
        nonlocal out
        if file is not None and out:
            file.write(b"".join(out))
        out = []

    try:
        for s in range(params.steps):
            if s == 0 or s == split:
                flush()
                if file is not None:
                    file.close()
                path = run_dir / _file_name(walls[s], i)
                file = open(path, "wb")  # noqa: SIM115 - closed in finally / on split
                counts["files"] += 1
                out.append(_version_event(walls[s]))
                counts["records"] += 1
                meta_done: set[str] = set()
            wall, step = float(walls[s]), int(s)
            col = values[:, s]
            for j, tag in enumerate(scalar_tags):
                v = float(col[j])
                if tensors:
                    tp = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=f32_shape, float_val=[v])
                    if tag in meta_done:
                        val = Value(tag=tag, tensor=tp)
                    else:
                        val = Value(tag=tag, tensor=tp, metadata=scalar_meta)
                        meta_done.add(tag)
                else:
                    val = Value(tag=tag, simple_value=v)
                out.append(encode_record(Event(wall_time=wall, step=step, summary=Summary(value=[val])).SerializeToString()))
            counts["scalars"] += len(scalar_tags)
            counts["records"] += len(scalar_tags)
            if s % params.hist_every == 0:
                for j, tag in enumerate(hist_tags):
                    sample = rng.normal(0.0, 0.05 + 0.01 * j + s * 1e-5, 256)
                    cnt, edges = np.histogram(sample, bins=params.buckets)
                    if tensors:
                        arr = np.stack([edges[:-1], edges[1:], cnt.astype(np.float64)], axis=1)
                        shape = tensor_shape_pb2.TensorShapeProto(
                            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=params.buckets), tensor_shape_pb2.TensorShapeProto.Dim(size=3)]
                        )
                        tp = tensor_pb2.TensorProto(dtype=types_pb2.DT_DOUBLE, tensor_shape=shape, tensor_content=arr.astype("<f8").tobytes())
                        if tag in meta_done:
                            val = Value(tag=tag, tensor=tp)
                        else:
                            val = Value(tag=tag, tensor=tp, metadata=hist_meta)
                            meta_done.add(tag)
                    else:
                        histo = summary_pb2.HistogramProto(
                            min=float(sample.min()), max=float(sample.max()), num=float(sample.size),
                            sum=float(sample.sum()), sum_squares=float((sample * sample).sum()),
                            bucket_limit=edges[1:].tolist(), bucket=cnt.astype(np.float64).tolist(),
                        )
                        val = Value(tag=tag, histo=histo)
                    out.append(encode_record(Event(wall_time=wall, step=step, summary=Summary(value=[val])).SerializeToString()))
                counts["histograms"] += len(hist_tags)
                counts["records"] += len(hist_tags)
            if s in image_steps:
                h = w = 32
                rgb = (rng.random((h, w, 3)) * 255).astype(np.uint8)
                img = Summary.Image(height=h, width=w, colorspace=3, encoded_image_string=_png(w, h, rgb))
                out.append(encode_record(Event(wall_time=wall, step=step, summary=Summary(value=[Value(tag="samples/input", image=img)])).SerializeToString()))
                counts["images"] += 1
                counts["records"] += 1
            if len(out) > 20_000:
                flush()
        flush()
    finally:
        if file is not None:
            file.close()
    counts["bytes"] = sum(p.stat().st_size for p in run_dir.iterdir())
    return counts


def generate(params: GenParams, root: Path, workers: int | None = None) -> dict[str, int]:
    workers = workers or os.cpu_count() or 1
    totals = {"runs": params.runs, "files": 0, "bytes": 0, "scalars": 0, "histograms": 0, "images": 0, "records": 0}
    jobs = [(params, i, str(root)) for i in range(params.runs)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for counts in pool.map(_write_run, jobs):
            for k, v in counts.items():
                totals[k] += v
    return totals


def ensure_logdir(params: GenParams, out_dir: Path = OUT_DIR, verbose: bool = True) -> tuple[Path, dict]:
    """Return (logdir, manifest), generating it unless a cached copy with the same key exists."""
    name = f"logdir-{params.key()}"
    logdir = out_dir / name
    manifest_path = out_dir / f"{name}.json"
    if logdir.is_dir() and manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if verbose:
            print(f"[genlogs] cached {logdir} ({_describe(manifest)})")
        return logdir, manifest
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    t0 = time.perf_counter()
    totals = generate(params, tmp)
    seconds = time.perf_counter() - t0
    shutil.rmtree(logdir, ignore_errors=True)
    tmp.rename(logdir)
    manifest = {"params": asdict(params), "key": params.key(), "generated_seconds": round(seconds, 2), **totals}
    manifest_path.write_text(json.dumps(manifest, indent=1))
    if verbose:
        print(f"[genlogs] generated {logdir} in {seconds:.1f} s ({_describe(manifest)})")
    return logdir, manifest


def _describe(m: dict) -> str:
    return (
        f"{m['runs']} runs, {m['files']} files, {m['bytes'] / 1e6:.1f} MB, {m['records']:,} records: "
        f"{m['scalars']:,} scalars, {m['histograms']:,} histograms, {m['images']} images"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    for f in ("runs", "scalar_tags", "steps", "hist_tags", "hist_every", "buckets", "images_per_run", "seed"):
        ap.add_argument("--" + f.replace("_", "-"), type=int)
    args = ap.parse_args(argv)
    base = QUICK if args.quick else FULL
    overrides = {k: v for k, v in vars(args).items() if k != "quick" and v is not None}
    params = GenParams(**{**asdict(base), **overrides})
    logdir, _ = ensure_logdir(params)
    print(logdir)


if __name__ == "__main__":
    main()
