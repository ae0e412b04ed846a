"""Images, audio and text: paged lists, data-URL samples for the frontend, raw bytes.

Lists page with `offset`/`limit` (default: everything, which is what the TS-VIS frontend
asks for) and tell the full length in `X-Total-Count`. Several samples of one step (TF2
`max_outputs`, audio batches) are told apart by `index`. MIME types are sniffed from the
bytes, never taken from what a writer claimed (the original labelled every image PNG).
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tsvis_live.http import params
from tsvis_live.http.context import session_for
from tsvis_live.http.json import ok
from tsvis_live.store.codec import sniff_mime
from tsvis_live.store.provider import MediaEntry, MediaPage

IMMUTABLE = "public, max-age=31536000, immutable"


def mime_of(data: bytes, kind: str) -> str:
    """The sniffed type; bytes of no known format stay application/octet-stream."""
    return "application/json; charset=utf-8" if kind == "text" else sniff_mime(data)


def audio_label(meta: dict[str, Any]) -> str:
    """The writer's label (TF2 audio tensors), else what the original showed for a
    Summary.Audio: "采样率: 16000.0, 声道: 1, 帧长度: 4000" (rate, channels, frames)."""
    if "label" in meta:
        return str(meta["label"])
    if "num_channels" not in meta:  # stored before the channel count was kept
        return ""
    return (f"采样率: {float(meta.get('sample_rate', 0.0))}, 声道: {meta['num_channels']}, "
            f"帧长度: {meta.get('length_frames', 0)}")


def wav_shape(data: bytes) -> dict[str, Any]:
    """sample_rate, num_channels and length_frames read from a PCM WAV header ({} if not one).

    For audio stored before the channel count was kept in its metadata."""
    if len(data) < 36 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return {}
    pos, fmt, frames = 12, None, None
    while pos + 8 <= len(data) and (fmt is None or frames is None):
        kind, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if kind == b"fmt " and size >= 16 and pos + 24 <= len(data):
            fmt = struct.unpack_from("<HHIIHH", data, pos + 8)
        elif kind == b"data" and fmt is not None:
            block = fmt[4] or 1
            frames = min(size, len(data) - pos - 8) // block
        pos += 8 + size + (size & 1)
    if fmt is None or frames is None:
        return {}
    return {"sample_rate": float(fmt[2]), "num_channels": fmt[1], "length_frames": frames}


def _entry(kind: str, e: MediaEntry) -> dict[str, Any]:
    out: dict[str, Any] = {"wall_time": e.wall_time, "step": e.step}
    if kind == "image":
        out["width"] = e.meta.get("width", 0)
        out["height"] = e.meta.get("height", 0)
    elif kind == "audio":
        out["label"] = audio_label(e.meta)
        out["contentType"] = e.mime
        if "sample_rate" in e.meta:
            out["sample_rate"] = e.meta["sample_rate"]
    out["index"] = e.index
    out["v"] = e.digest.hex()[:16]  # content version: /api/blob?...&v= is cached for good
    return out


def _texts(data: bytes) -> list[str]:
    """A stored text value (UTF-8 JSON list of strings); always a list for the frontend."""
    try:
        value = json.loads(data)
    except ValueError:
        return [data.decode("utf-8", "replace")]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _needs_bytes(kind: str) -> bool | Callable[[MediaEntry], bool]:
    """Which entries of a page are answered from their bytes: every text (the value itself),
    audio stored before its shape was kept in the metadata (read from the WAV header)."""
    if kind == "text":
        return True
    if kind == "audio":
        return lambda e: "label" not in e.meta and "num_channels" not in e.meta
    return False


def media_rows(kind: str, page: MediaPage) -> list[dict[str, Any]]:
    rows = []
    for e, data in zip(page.entries, page.data):
        if kind == "audio" and data is not None:
            e.meta = {**wav_shape(data), **e.meta}
        row = _entry(kind, e)
        if kind == "text":
            row["value"] = _texts(data or b"")
        rows.append(row)
    return rows


def _list_endpoint(kind: str):
    async def handler(request: Request) -> Response:
        run, tag = params.run_tag(request)
        offset, limit = params.paging(request)
        session = await session_for(request)
        page = await session.store.media_page(run, kind, tag, offset, limit, with_data=_needs_bytes(kind))
        return ok({tag: media_rows(kind, page)}, headers={"X-Total-Count": str(page.total)})

    handler.__name__ = f"{kind}_list"
    handler.__doc__ = f"{kind} samples of a run and tag, paged."
    return handler


async def _sample(request: Request, kind: str) -> tuple[bytes, str, bytes]:
    run, tag = params.run_tag(request)
    step = params.integer(request, "step")
    index = params.integer(request, "index", 0, minimum=0)
    session = await session_for(request)
    data, _stored, digest = await session.store.media_blob(run, kind, tag, step, index)
    return data, mime_of(data, kind), digest


def _raw_endpoint(kind: str):
    async def handler(request: Request) -> Response:
        data, mime, _digest = await _sample(request, kind)
        return ok(f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}")

    handler.__name__ = f"{kind}_raw"
    handler.__doc__ = f"One {kind} sample as a data URL (what the TS-VIS frontend puts in src)."
    return handler


async def blob(request: Request) -> Response:
    """Raw bytes of one sample for `<img>`/`<audio>`: sniffed type, strong ETag.

    A URL that names the content version (`v`, from the media list) is cached for a year;
    without it the browser revalidates (a 304 when unchanged), since a rewritten step may
    hold different bytes under the same run/tag/step/index.
    """
    kind = params.choice(request, "kind", ("image", "audio", "text"), "image")
    data, mime, digest = await _sample(request, kind)  # type: ignore[arg-type]
    etag = '"' + digest.hex() + '"'
    version = request.query_params.get("v")
    cache = IMMUTABLE if version and digest.hex().startswith(version) and len(version) >= 8 else "no-cache"
    headers = {"ETag": etag, "Cache-Control": cache}
    match = request.headers.get("if-none-match")
    if match and (match.strip() == "*" or etag in [m.strip() for m in match.split(",")]):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=mime, headers=headers)


def routes() -> list[Route]:
    return [
        Route("/api/image", _list_endpoint("image")),
        Route("/api/audio", _list_endpoint("audio")),
        Route("/api/text", _list_endpoint("text")),
        Route("/api/image_raw", _raw_endpoint("image")),
        Route("/api/audio_raw", _raw_endpoint("audio")),
        Route("/api/blob", blob),
    ]
