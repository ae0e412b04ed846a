"""Meshes: TensorBoard's mesh plugin data (tensorboardX `add_mesh`, `tensorboard.plugins.mesh`).

A tsvis-live extension (the TS-VIS frontend has no mesh view). Each part of a mesh (vertices,
faces, colors) is stored as its own "mesh" tensor series `<name>_VERTEX|FACE|COLOR`
(`formats.meshes`); these routes group them by mesh name, as TensorBoard's plugin groups its
instance tags, and answer one mesh per step:

- `/api/mesh/tags[?run]`: per run, per mesh: its parts, scene config, batch size, step count;
- `/api/mesh/steps?run&tag`: the steps of one mesh with their sizes (the slider's stops);
- `/api/mesh/data?run&tag[&step][&sample][&encoding]`: the arrays of one step, base64 of the
  little-endian bytes by default (a 100k-vertex mesh is 1.6 MB of text instead of ~3.5 MB of
  JSON numbers, and decodes into a typed array with no parsing), or JSON lists.

A step is a step of the vertices: faces and colors are those written at the same step.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tsvis_live.compute.natsort import natsorted
from tsvis_live.formats.meshes import KIND, mesh_name, split_tag, stored_tag
from tsvis_live.http import params
from tsvis_live.http.context import session_for
from tsvis_live.http.errors import ApiError
from tsvis_live.http.json import ok
from tsvis_live.store.provider import NotFound, TensorEntry

PARTS = ("vertex", "face", "color")
_FIELDS = {"vertex": "vertices", "face": "faces", "color": "colors"}


def mesh_names(tags: Iterable[str]) -> list[str]:
    """The meshes among a run's "mesh" series tags, natural order (getCategory's `mesh`)."""
    return natsorted({mesh_name(t) for t in tags})


def _config(text: Any) -> Any:
    """The writer's json_config as JSON (tensorboardX writes "null" without a config)."""
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _newest_per_step(entries: list[TensorEntry]) -> dict[int, TensorEntry]:
    return {e.step: e for e in entries}  # entries come ordered by (step, cursor)


def _parts(index: dict[tuple[str, str], list[TensorEntry]]) -> dict[str, dict[str, dict[str, list[TensorEntry]]]]:
    """run -> mesh -> part -> entries."""
    out: dict[str, dict[str, dict[str, list[TensorEntry]]]] = {}
    for (run, tag), entries in index.items():
        found = split_tag(tag)
        if found is not None and entries:
            out.setdefault(run, {}).setdefault(found[0], {})[found[1]] = entries
    return out


def _summary(parts: dict[str, list[TensorEntry]]) -> dict[str, Any] | None:
    vertices = parts.get("vertex")
    if not vertices:
        return None  # faces or colors alone are nothing to draw
    last = vertices[-1]
    return {"parts": [p for p in PARTS if p in parts], "config": _config(last.meta.get("config")),
            "samples": int(last.meta.get("shape", [1])[0]), "steps": len(_newest_per_step(vertices)),
            "last_step": last.step}  # entries are ordered by (step, cursor)


async def mesh_tags(request: Request) -> Response:
    """`{run: {mesh: {"parts", "config", "samples", "steps", "last_step"}}}`; `run` narrows it."""
    run = params.series_name(request, "run") if request.query_params.get("run") is not None else None
    session = await session_for(request)
    if run is not None and run not in {r for r, _c in await session.store.runs()}:
        raise NotFound(f"run {run!r} not found")
    grouped = _parts(await session.store.tensor_index(KIND, run))
    out: dict[str, dict[str, Any]] = {}
    for r in natsorted(grouped):
        meshes = {name: s for name in natsorted(grouped[r]) if (s := _summary(grouped[r][name]))}
        if meshes:
            out[r] = meshes
    if run is not None:
        out.setdefault(run, {})
    return ok(out)


async def _mesh_parts(request: Request, run: str, tag: str) -> dict[str, list[TensorEntry]]:
    session = await session_for(request)
    index = await session.store.tensor_index(KIND, run)
    parts = _parts(index).get(run, {}).get(tag, {})
    if not parts.get("vertex"):
        raise NotFound(f"mesh {tag!r} not found in run {run!r}")
    return parts


async def mesh_steps(request: Request) -> Response:
    """`{tag: [{"step", "wall_time", "samples", "vertices", "faces", "colors"}]}`, by step."""
    run, tag = params.run_tag(request)
    parts = await _mesh_parts(request, run, tag)
    by_part = {p: _newest_per_step(parts.get(p, [])) for p in PARTS}
    rows = []
    for step, v in sorted(by_part["vertex"].items()):
        f, c = by_part["face"].get(step), by_part["color"].get(step)
        shape = v.meta.get("shape", [1, 0, 3])
        rows.append({"step": step, "wall_time": v.wall_time, "samples": shape[0], "vertices": shape[1],
                     "faces": f.meta.get("shape", [1, 0, 3])[1] if f else 0, "colors": c is not None})
    return ok({tag: rows})


def _encode(arr: np.ndarray, encoding: str) -> dict[str, Any]:
    arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
    data: Any = base64.b64encode(arr.tobytes()).decode("ascii") if encoding == "base64" else arr.reshape(-1).tolist()
    return {"dtype": arr.dtype.name, "shape": list(arr.shape), "data": data}


def mesh_payload(got: dict[str, tuple[TensorEntry, np.ndarray]], sample: int, encoding: str) -> dict[str, Any]:
    """The arrays of one step as the data route answers them (pure: runs off the event loop).

    Faces naming a vertex past the sample's vertices are left out, colors of another count
    than the vertices are not used; `notes` says so in sentences.
    """
    v_entry, vertices = got["vertex"]
    samples = len(vertices)
    if sample >= samples:
        raise ApiError(400, f"Parameter 'sample' must be below {samples} (the mesh's batch size), got '{sample}'.")
    verts = vertices[sample]
    n = len(verts)
    notes: list[str] = []
    out: dict[str, Any] = {"step": v_entry.step, "wall_time": v_entry.wall_time, "sample": sample,
                           "samples": samples, "config": _config(v_entry.meta.get("config")),
                           "vertices": _encode(verts, encoding), "faces": None, "colors": None}
    if "face" in got:
        faces = got["face"][1]
        if sample < len(faces):
            f = faces[sample]
            keep = (f < n).all(axis=1)
            if not keep.all():
                notes.append(f"{int((~keep).sum())} of {len(f)} faces name a vertex past the {n} vertices "
                             "and are left out.")
                f = f[keep]
            out["faces"] = _encode(f, encoding)
        else:
            notes.append(f"The faces have no sample {sample}.")
    if "color" in got:
        colors = got["color"][1]
        if sample < len(colors) and len(colors[sample]) == n:
            out["colors"] = _encode(colors[sample], encoding)
        else:
            notes.append(f"The colors do not match the {n} vertices of sample {sample} and are not used.")
    out["notes"] = notes
    return out


async def mesh_data(request: Request) -> Response:
    """One mesh at a step (default: its last step); see the module docstring and docs/api.md."""
    run, tag = params.run_tag(request)
    step = params.integer(request, "step", None)
    sample = params.integer(request, "sample", 0, minimum=0)
    encoding = params.choice(request, "encoding", ("base64", "json"), "base64")
    parts = await _mesh_parts(request, run, tag)
    if step is None:
        step = max(e.step for e in parts["vertex"])
    session = await session_for(request)
    got = await session.store.tensors_at(run, KIND, [stored_tag(tag, p) for p in PARTS if p in parts], step)
    got = {split_tag(t)[1]: v for t, v in got.items()}  # type: ignore[index]
    if "vertex" not in got:
        raise NotFound(f"mesh {tag!r} of run {run!r} has no vertices at step {step}")
    payload = await session.store.offload(mesh_payload, got, sample, encoding)
    return ok({"run": run, "tag": tag, **payload})


def routes() -> list[Route]:
    return [
        Route("/api/mesh/tags", mesh_tags),
        Route("/api/mesh/steps", mesh_steps),
        Route("/api/mesh/data", mesh_data),
    ]
