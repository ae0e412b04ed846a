"""Projector thumbnails by size: `python -m bench.projector_bench [--sizes 100,500,2000]`.

What the dashboard spends to get every point's thumbnail of a sprite embedding from a real
server: before, one `/api/projector_sample` per point, four at a time (the old client); now one
`/api/projector_sprite` atlas. Both are timed against the same server, alternately, median of
`--repeats`. (TensorBoard's projector fetches the writer's sprite PNG as one file and cuts it in
the browser; its server cost is reading that file, so it is not measured here.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np


def write_sprite_embedding(root: Path, n: int) -> None:
    import torch
    from torch.utils.tensorboard import SummaryWriter

    rng = np.random.default_rng(n)
    with SummaryWriter(str(root / f"n{n}")) as w:
        w.add_embedding(torch.from_numpy(rng.normal(size=(n, 16)).astype(np.float32)),
                        metadata=[str(i % 10) for i in range(n)],
                        label_img=torch.from_numpy(rng.random((n, 3, 28, 28)).astype(np.float32)), tag="emb")


def per_point(client: httpx.Client, url: str, run: str, n: int) -> int:
    def one(i: int) -> int:
        return len(client.get(url + "/api/projector_sample", params={"run": run, "tag": "emb", "index": i}).content)

    with ThreadPoolExecutor(4) as pool:
        return sum(pool.map(one, range(n)))


def atlas(client: httpx.Client, url: str, run: str, n: int) -> int:
    r = client.get(url + "/api/projector_sprite", params={"run": run, "tag": "emb", "count": n, "size": 48})
    r.raise_for_status()
    return len(r.content)


def main() -> None:
    from tests.conftest import spawn_server

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,500,2000")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        logdir = Path(tmp) / "logs"
        for n in sizes:
            write_sprite_embedding(logdir, n)
        server = spawn_server(logdir, Path(tmp) / "data", probe="/api/projector",
                              probe_query={"run": f"n{sizes[-1]}", "tag": "emb"})
        try:
            print(f"load average {os.getloadavg()[0]:.1f}; median of {args.repeats}, alternating")
            print(f"{'points':>7} {'per point (s)':>14} {'MB':>6} {'atlas (s)':>10} {'MB':>6} {'speed-up':>9}")
            with httpx.Client(timeout=120) as client:
                for n in sizes:
                    run = f"n{n}"
                    atlas(client, server.url, run, n)  # the embedding's arrays warm in the page cache
                    t: dict[str, list[float]] = {"old": [], "new": []}
                    size = {}
                    for _ in range(args.repeats):
                        for name, fn in (("old", per_point), ("new", atlas)):
                            t0 = time.perf_counter()
                            size[name] = fn(client, server.url, run, n)
                            t[name].append(time.perf_counter() - t0)
                    old, new = statistics.median(t["old"]), statistics.median(t["new"])
                    print(f"{n:>7} {old:>14.2f} {size['old'] / 1e6:>6.2f} {new:>10.3f} {size['new'] / 1e6:>6.2f} "
                          f"{old / new:>8.0f}x")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
