"""The projector's bulk reads: every point's thumbnail in one image, every point's metadata in
one table (tsvis-live extensions; the TS-VIS contract reads one sample at a time).

A 2,000-point sprite used to cost 2,000 `/api/projector_sample` requests; the atlas is one
PNG the dashboard cuts up itself. The metadata table carries every column of a TensorBoard
`metadata.tsv`, not only the label column, so the dashboard can search and colour by any.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tsvis_live.http import params
from tsvis_live.http.api_projector import KIND, _labels, _vectors, _with_sample, as_image
from tsvis_live.http.context import session_for
from tsvis_live.http.errors import ApiError
from tsvis_live.http.json import ok
from tsvis_live.store.provider import NotFound

MAX_ATLAS_SIDE = 4096  # pixels: a 4096^2 RGBA atlas is 64 MB decoded in the browser, the ceiling
MAX_CELL = 128


def atlas_png(samples: np.ndarray, start: int, count: int, cell: int) -> tuple[bytes, int]:
    """PNG of samples[start:start+count] as `cell`-px squares in rows of `columns`; (png, columns).

    Each thumbnail is scaled to fit its cell, aspect kept, centred on a transparent background.
    """
    from PIL import Image

    columns = max(1, math.ceil(math.sqrt(count)))
    rows = max(1, math.ceil(count / columns))
    atlas = Image.new("RGBA", (columns * cell, rows * cell), (0, 0, 0, 0))
    for k in range(count):
        thumb = Image.fromarray(as_image(samples[start + k])).convert("RGBA")
        scale = cell / max(thumb.width, thumb.height)  # fit the cell, larger or smaller
        thumb = thumb.resize((max(1, round(thumb.width * scale)), max(1, round(thumb.height * scale))),
                             Image.Resampling.BILINEAR)
        x, y = (k % columns) * cell, (k // columns) * cell
        atlas.paste(thumb, (x + (cell - thumb.width) // 2, y + (cell - thumb.height) // 2))
    out = io.BytesIO()
    atlas.save(out, format="PNG", compress_level=1)
    return out.getvalue(), columns


async def projector_sprite(request: Request) -> Response:
    """`/api/projector_sprite?run&tag[&start=0][&count=all][&size=32]`: an atlas PNG.

    Cells are `size` px, or the images' own size when they are smaller (no upscaling).

    Headers say how to cut it: `X-Sprite-Columns`, `X-Sprite-Cell`, `X-Sprite-Count`,
    `X-Sprite-Total` (samples the embedding has). 404 when its samples are not images.
    """
    run, tag = params.run_tag(request)
    start = params.integer(request, "start", 0, minimum=0)
    size = params.integer(request, "size", 32, minimum=4, maximum=MAX_CELL)
    session = await session_for(request)
    entry = _with_sample(await session.store.tensor_entries(run, KIND, tag))
    if entry is None:
        raise NotFound(f"embedding tag {tag!r} of run {run!r} has no samples")
    if entry.meta.get("sample_type", "image") not in ("", "image"):
        raise NotFound(f"the samples of embedding tag {tag!r} are {entry.meta['sample_type']}, not images")
    [samples] = await session.store.arrays([entry.extras["sample"]])
    total = len(samples)
    if total:  # never larger than the images themselves: the page scales them when it draws
        try:
            size = max(4, min(size, max(as_image(samples[0]).shape[:2])))
        except ValueError as err:
            raise NotFound(f"the samples of embedding tag {tag!r} cannot be drawn: {err}") from err
    fits = (MAX_ATLAS_SIDE // size) ** 2
    count = params.integer(request, "count", min(total - start, fits) if start < total else 0, minimum=0)
    if start > total:
        raise ApiError(400, f"start={start} is past the last sample ({total} samples).")
    if count > fits:
        raise ApiError(400, f"count={count} thumbnails of {size} px do not fit one {MAX_ATLAS_SIDE}-px "
                            f"atlas (at most {fits}); page with start=.")
    count = min(count, total - start)
    try:
        png, columns = await session.store.offload(atlas_png, samples, start, count, size)
    except ValueError as err:  # a sample that is not an image
        raise NotFound(f"the samples of embedding tag {tag!r} cannot be drawn: {err}") from err
    headers = {"X-Sprite-Columns": str(columns), "X-Sprite-Cell": str(size), "X-Sprite-Count": str(count),
               "X-Sprite-Total": str(total), "Cache-Control": "no-cache"}
    return Response(png, media_type="image/png", headers=headers)


def metadata_table(labels: list[Any], table: np.ndarray | None, columns: list[str] | None,
                   label_name: str | None) -> dict[str, Any]:
    """{"columns": [...], "rows": [[...] per point]}: every metadata column, or the labels alone."""
    if table is not None and columns:
        rows = [[v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row]
                for row in table.reshape(len(table), -1).tolist()]
        return {"columns": list(columns), "rows": rows}
    return {"columns": [label_name or "label"] if labels else [], "rows": [[v] for v in labels]}


async def projector_metadata(request: Request) -> Response:
    """`/api/projector_metadata?run&tag&step`: every point's metadata row, in point order."""
    run, tag = params.run_tag(request)
    step = params.integer(request, "step")
    session = await session_for(request)
    entries = [e for e in _vectors(await session.store.tensor_entries(run, KIND, tag)) if e.step == step]
    if not entries:
        raise NotFound(f"no embedding at step {step} for tag {tag!r} in run {run!r}")
    entry = max(entries, key=lambda e: e.cursor)
    ids = [entry.blob_id] + [entry.extras[k] for k in ("labels", "metadata") if k in entry.extras]
    matrix, *extra = await session.store.arrays(ids)
    n = len(matrix)
    labels = _labels(extra[0], n) if "labels" in entry.extras else []
    table = extra[-1] if "metadata" in entry.extras else None
    if table is not None and len(table) != n:
        table = None
    body = metadata_table(labels, table, entry.meta.get("metadata_columns"), entry.meta.get("label_name"))
    return ok(body)


def routes() -> list[Route]:
    return [
        Route("/api/projector_sprite", projector_sprite),
        Route("/api/projector_metadata", projector_metadata),
    ]
