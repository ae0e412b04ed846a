"""Embeddings: step list and shape, 2-D/3-D projections, the sample behind a point.

PCA and t-SNE run off the event loop (PCA in a thread, t-SNE in a worker process) and are
cached in the session store's computed results (`Store.computed_get`/`computed_put`) under `compute.projection.projection_key`,
so the same request is computed once, also across restarts. A computation is never tied to
the request that started it: when the client gives up (the frontend's timeout is 35 s) the
result still lands in the cache, and concurrent identical requests share one computation.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import multiprocessing
import struct
import wave
import zlib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tsvis_live.compute.projection import project, projection_key
from tsvis_live.http import params
from tsvis_live.http.context import session_for
from tsvis_live.http.errors import ApiError
from tsvis_live.http.json import ok
from tsvis_live.ingest.pool import kill_workers
from tsvis_live.session import Session
from tsvis_live.store import codec
from tsvis_live.store.codec import sniff_mime
from tsvis_live.store.provider import NotFound, TensorEntry

log = logging.getLogger(__name__)

KIND = "embedding"
_pool: ProcessPoolExecutor | None = None
_inflight: dict[tuple[str, str], asyncio.Future] = {}
_math_limited = False


def single_threaded_math() -> None:
    """One BLAS/OpenMP thread per computing thread, for the whole process.

    The server shares its cores with ingest (and often with training): OpenMP and OpenBLAS
    threads then spin-wait against each other and everything else. Measured on a loaded
    2-core machine: t-SNE of 10 points 2.1 s -> 0.17 s, of 100 points 10.1 s -> 0.59 s;
    PCA of 1000 x 784 3.0 s -> 0.55 s. Also the t-SNE workers' initializer.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def _warm_worker() -> None:
    """Worker initializer: single-threaded math, and scikit-learn's t-SNE imported once
    at start-up instead of inside the first request."""
    import sklearn.manifold  # noqa: F401  (first: limits reach only libraries already loaded)

    single_threaded_math()


def _process_pool() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:  # spawn: never fork a process that runs threads (writer, readers)
        _pool = ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_warm_worker)
    return _pool


def warm_up() -> None:
    """Start a t-SNE worker now (spawn + imports take about a second), so that the first
    projection finds it ready: the frontend asks for `/api/projector` (the embedding's
    steps) before it asks for points."""
    if _pool is None:
        _process_pool().submit(int)  # any task makes the pool spawn its workers


def shutdown_workers() -> None:
    """Stop the t-SNE worker processes now (called at server shutdown).

    Workers are terminated, not awaited: one still importing scikit-learn (warmed up by
    getCategory) or in the middle of a long t-SNE would otherwise hold the exit for
    seconds, and a result computed now could not be stored anyway.
    """
    global _pool
    if _pool is not None:
        _discard(_pool)


def _vectors(entries: list[TensorEntry]) -> list[TensorEntry]:
    return [e for e in entries if not e.meta.get("sample_only")]


def _with_sample(entries: list[TensorEntry]) -> TensorEntry | None:
    found = [e for e in entries if "sample" in e.extras]
    return max(found, key=lambda e: e.cursor) if found else None


async def meta(session: Session, run: str, tag: str) -> dict[str, Any]:
    entries = await session.store.tensor_entries(run, KIND, tag)
    vectors = _vectors(entries)
    if not vectors:
        raise NotFound(f"embedding tag {tag!r} of run {run!r} holds no vectors")
    steps = sorted({e.step for e in vectors})
    [newest] = await session.store.arrays([max(vectors, key=lambda e: (e.step, e.cursor)).blob_id])
    sample = _with_sample(entries)
    return {tag: steps, "shape": list(newest.shape), "sample": sample is not None,
            "sample_type": sample.meta.get("sample_type", "") if sample is not None else ""}


def _labels(labels: np.ndarray | None, n: int) -> list[Any]:
    """One printable label per point, or [] (the frontend then shows "NULL")."""
    if labels is None:
        return []
    labels = labels.reshape(-1)
    if len(labels) != n:
        return []
    if labels.dtype.kind in "biuf":
        return labels.tolist()
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in labels.tolist()]


async def vectors_at(session: Session, run: str, tag: str, step: int) -> tuple[np.ndarray, list[Any]]:
    entries = [e for e in _vectors(await session.store.tensor_entries(run, KIND, tag)) if e.step == step]
    if not entries:
        raise NotFound(f"no embedding at step {step} for tag {tag!r} in run {run!r}")
    entry = max(entries, key=lambda e: e.cursor)
    labels_id = entry.extras.get("labels")
    matrix, *labels = await session.store.arrays([entry.blob_id] + ([labels_id] if labels_id is not None else []))
    matrix = matrix.reshape(len(matrix), -1) if matrix.ndim != 2 else matrix
    return matrix, _labels(labels[0] if labels else None, len(matrix))


async def _compute(session: Session, key: str, matrix: np.ndarray, method: str, dims: int) -> np.ndarray:
    loop = asyncio.get_running_loop()
    global _math_limited
    if not _math_limited:
        single_threaded_math()
        _math_limited = True
    if method != "tsne":  # PCA: the default thread pool
        result = await loop.run_in_executor(None, project, matrix, method, dims)
    else:
        result = await _in_worker(project, matrix, method, dims)
    await session.store.computed_put(key, codec.pack_array(result))
    return result


async def _in_worker(fn: Callable[..., np.ndarray], *args: Any) -> np.ndarray:
    """Run `fn` in a worker process; a pool whose worker died is replaced, and tried once more.

    A dead worker (the OOM killer's choice on a big t-SNE, a signal) breaks the pool for good:
    without this, every later t-SNE of the server failed until a restart.
    """
    loop = asyncio.get_running_loop()
    for attempt in (1, 2):
        pool = _process_pool()
        try:
            return await loop.run_in_executor(pool, fn, *args)
        except BrokenProcessPool:
            _discard(pool)
            log.warning("a t-SNE worker process died (attempt %d); starting a new one", attempt)
    raise ApiError(503, "The t-SNE worker process died twice (killed, perhaps out of memory) "
                        "before it finished; try again, or use PCA.")


def _discard(pool: ProcessPoolExecutor) -> None:
    global _pool
    if _pool is pool:
        _pool = None
    kill_workers(pool)
    pool.shutdown(wait=False, cancel_futures=True)


async def projection(session: Session, matrix: np.ndarray, method: str, dims: int) -> np.ndarray:
    """The cached projection of `matrix`, computing it (once) when missing."""
    loop = asyncio.get_running_loop()
    key = await loop.run_in_executor(None, lambda: projection_key(matrix, method, dims))
    cached = await session.store.computed_get(key)
    if cached is not None:
        return codec.unpack_array(cached)
    slot = (session.id, key)
    future = _inflight.get(slot)
    if future is None:
        future = asyncio.ensure_future(_compute(session, key, matrix, method, dims))
        _inflight[slot] = future
        future.add_done_callback(lambda _f: _inflight.pop(slot, None))
    return await asyncio.shield(future)


async def projector(request: Request) -> Response:
    run, tag = params.run_tag(request)
    session = await session_for(request)
    body = await meta(session, run, tag)
    warm_up()
    return ok(body)


async def projector_data(request: Request) -> Response:
    run, tag = params.run_tag(request)
    step = params.integer(request, "step")
    method = params.choice(request, "method", ("pca", "tsne"))
    dims = int(params.choice(request, "dims", ("2", "3"), "2"))  # type: ignore[arg-type]
    session = await session_for(request)
    matrix, labels = await vectors_at(session, run, tag, step)
    points = await projection(session, matrix, method, dims)  # type: ignore[arg-type]
    return ok({request.query_params["step"]: [points.tolist(), labels]})


async def raw_vectors(request: Request) -> Response:
    """`getEmbedding` / `projector_raw`: the vectors themselves, `{step: [values, labels]}`."""
    run, tag = params.run_tag(request)
    step = params.integer(request, "step")
    session = await session_for(request)
    matrix, labels = await vectors_at(session, run, tag, step)
    return ok({request.query_params["step"]: [matrix.tolist(), labels]})


def as_image(pixels: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 1|3|4) or CHW numbers -> uint8 (H, W) or (H, W, 3|4) pixels.

    Floats in [0, 1] are scaled to 0..255; NaN is black.
    """
    a = np.asarray(pixels)
    if a.dtype.kind == "f":
        a = np.nan_to_num(a, nan=0.0)
        a = a * 255.0 if a.size and float(np.max(a)) <= 1.0 else a
    a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):
        a = a.transpose(1, 2, 0)  # CHW -> HWC
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 1:
        a = a.reshape(1, -1)
    if a.ndim != 2 and not (a.ndim == 3 and a.shape[-1] in (3, 4)):
        raise ValueError(f"cannot show a sample of shape {a.shape} as an image")
    return a


def _png(pixels: np.ndarray) -> bytes:
    """(H, W), (H, W, 1|3|4) numbers -> PNG bytes (see `as_image`)."""
    a = as_image(pixels)
    h, w = a.shape[:2]
    color = 0 if a.ndim == 2 else (2 if a.shape[-1] == 3 else 6)
    raw = b"".join(b"\x00" + a[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _wav(samples: np.ndarray, rate: int) -> bytes:
    """Mono/multichannel samples (floats in [-1, 1] or int16) -> 16-bit PCM WAV bytes."""
    a = np.asarray(samples)
    if a.dtype.kind == "f":
        a = (np.clip(np.nan_to_num(a), -1.0, 1.0) * 32767).astype("<i2")
    a = a.astype("<i2").reshape(len(a), -1) if a.ndim else a.reshape(1, 1).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(a.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(a.tobytes())
    return buf.getvalue()


def sample_data_url(sample: Any, sample_type: str, meta: dict[str, Any]) -> str:
    """What the frontend shows for a point: an image/audio data URL, or the text itself."""
    if isinstance(sample, np.ndarray) and sample.dtype.kind in "SO" and sample.size == 1:
        sample = sample.reshape(-1)[0]
    if isinstance(sample, (bytes, np.bytes_)):
        data = bytes(sample)
        mime = sniff_mime(data)
        if mime != "application/octet-stream":
            return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        return data.decode("utf-8", "replace")
    if sample_type == "text" or isinstance(sample, str) or np.asarray(sample).dtype.kind == "U":
        value = np.asarray(sample)
        return str(value.item()) if value.size == 1 else " ".join(str(v) for v in value.reshape(-1).tolist())
    if sample_type == "audio":
        rate = int(meta.get("sample_rate", 44100))
        return "data:audio/wav;base64," + base64.b64encode(_wav(np.asarray(sample), rate)).decode("ascii")
    return "data:image/png;base64," + base64.b64encode(_png(np.asarray(sample))).decode("ascii")


async def sample_at(session: Session, run: str, tag: str, index: int) -> str:
    entry = _with_sample(await session.store.tensor_entries(run, KIND, tag))
    if entry is None:
        raise NotFound(f"embedding tag {tag!r} of run {run!r} has no samples")
    [samples] = await session.store.arrays([entry.extras["sample"]])
    if not 0 <= index < len(samples):
        raise NotFound(f"sample index {index} of tag {tag!r} (it has {len(samples)} samples)")
    return await session.store.offload(sample_data_url, samples[index], entry.meta.get("sample_type", ""),
                                       entry.meta)


async def projector_sample(request: Request) -> Response:
    run, tag = params.run_tag(request)
    index = params.integer(request, "index", minimum=0)
    session = await session_for(request)
    return ok(await sample_at(session, run, tag, index))


def routes() -> list[Route]:
    return [
        Route("/api/projector", projector),
        Route("/api/projector_data", projector_data),
        Route("/api/projector_sample", projector_sample),
        Route("/api/projector_raw", raw_vectors),
        Route("/api/getEmbedding", raw_vectors),
    ]
