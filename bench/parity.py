"""Parity with TensorBoard: for each writer available, write a small but complete logdir, read
it with TensorBoard 2.21's Python loader keeping every point and with a real tsvis-live server
through the TS-VIS API (`all_writes=1` on series: that loader keeps every write), and compare
value by value (blobs by SHA-256).

    python -m bench.parity [--out bench/out/parity.json] [--writers tbx,torch,...]

Prints the writer x kind table ('equal N/N', 'differs k/N (why)', '-' when the writer has no
such kind) and every difference with its cause; exits 1 when one is unexplained. Writers run
as subprocesses with the Python that has their library: tensorboardX, torch and tsvis in this
venv (tsvis with the pure-Python protobuf runtime), TensorFlow 2.21 (tf.summary, Keras, TF1)
in $PARITY_TF_PYTHON (default /tmp/tfvenv), PyTorch Lightning in $PARITY_PL_PYTHON (default
/tmp/plvenv). Modules: parity_writers (the logs), parity_read (both views), parity_compare.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.parity_compare import CAUSES, Diff, compare
from bench.parity_read import KINDS, View, empty_view, server_view, tensorboard_view

REPO = Path(__file__).resolve().parent.parent
TF_PYTHON = os.environ.get("PARITY_TF_PYTHON", "/tmp/tfvenv/bin/python")
PL_PYTHON = os.environ.get("PARITY_PL_PYTHON", "/tmp/plvenv/bin/python")
WRITERS = ("tbx", "torch", "tsvis", "tf2", "keras", "tf1", "lightning")
MAIN_WRITERS = ("tbx", "torch", "tsvis")
EXTRA_CODES = ("extra", "tb_int_scalar", "layout_older", "cgraph_fallback", "restart_purge")  # served beyond TensorBoard's items


def _has(python: str, *modules: str) -> bool:
    if not Path(python).exists():
        return False
    code = "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in sys.argv[1:]))"
    return subprocess.run([python, "-c", code, *modules], capture_output=True).returncode == 0


def writer_python(name: str, main_only: bool = False) -> str | None:
    """The interpreter that writes `name`'s logs, or None when its library is not installed."""
    if name in ("tf2", "keras", "tf1"):
        return None if main_only or not _has(TF_PYTHON, "tensorflow", "tensorboard") else TF_PYTHON
    if name == "lightning":
        return None if main_only or not _has(PL_PYTHON, "lightning", "tensorboard") else PL_PYTHON
    if name == "tbx" and not main_only and _has(PL_PYTHON, "tensorboardX", "soundfile", "torch"):
        return PL_PYTHON  # same tensorboardX 2.6.5, plus soundfile, which its add_audio needs
    return sys.executable


def write(name: str, python: str, logdir: Path) -> list[str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    if name == "tsvis":
        env["PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"] = "python"  # tsvis's protos predate protobuf 4
    r = subprocess.run([python, "-m", "bench.parity_writers", name, str(logdir)], cwd=REPO,
                       env=env, capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise RuntimeError(f"writer {name} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])["notes"]


def tensorboard_logdir(name: str, logdir: Path, scratch: Path, notes: list[str]) -> Path:
    """TensorBoard loads only files with `tfevents` in their name; TS-VIS names its files
    `events.out.<time>.<host>`, so TensorBoard lists none of them. Compared through links
    renamed `<prefix>events.out.tfevents.<rest>`, one run directory as before, leaving out a
    file whose reading raises in TensorBoard's loader (it would stop the whole run's load)."""
    if name != "tsvis":
        return logdir
    from tensorboard.backend.event_processing import event_file_loader

    twin = scratch / "tsvis-for-tensorboard"
    notes.append("TensorBoard lists none of TS-VIS's files (their names lack 'tfevents'): "
                 "compared through renamed links")
    for path in logdir.rglob("*"):
        if path.is_file():
            target = twin / path.relative_to(logdir)
            target.parent.mkdir(parents=True, exist_ok=True)
            target = target.with_name(path.name.replace("events.out.", "events.out.tfevents.", 1))
            try:
                for _ in event_file_loader.EventFileLoader(str(path)).Load():
                    pass
            except Exception as exc:  # noqa: BLE001 (TensorBoard's own failure, reported)
                notes.append(f"TensorBoard's loader raises on {path.name} "
                             f"({type(exc).__name__}: {exc}); left out of its side")
                continue
            target.symlink_to(path)
    return twin


def projector(python: str, logdir: Path) -> dict[str, Any]:
    """TensorBoard's projector plugin, in the writer's venv: it reads checkpoints only through
    TensorFlow (the TF venv has it; the others have TensorBoard alone, which is enough for TSV)."""
    if python == sys.executable or not _has(python, "tensorboard"):
        python = sys.executable
    r = subprocess.run([python, "-m", "bench.parity_read", "projector", str(logdir)], cwd=REPO,
                       capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    if r.returncode != 0:
        raise RuntimeError(f"projector read failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def serve(logdir: Path, data_dir: Path) -> tuple[subprocess.Popen, str]:
    """A real tsvis-live server on a free loopback port, once /api/live/status says ready."""
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen([sys.executable, "-m", "tsvis_live.cli", "--logdir", str(logdir),
                             "--data-dir", str(data_dir), "--port", str(port)], cwd=REPO,
                            stdout=log, stderr=subprocess.STDOUT)
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode}: {(data_dir / 'server.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/api/live/status", timeout=5) as r:
                if b'"ready":true' in r.read():
                    return proc, url
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise TimeoutError("tsvis-live not ready after 120 s")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(2)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def refine(name: str, diff: Diff, tb: View, tb_dir: Path) -> Diff:
    """Writer-specific causes of differences the generic codes leave open."""
    run = diff.key.split("\t")[0]
    if diff.kind == "embeddings" and diff.code == "missing" and \
            not (tb_dir / run / "projector_config.pbtxt").exists():
        diff.code = "ckpt_no_config"
    if diff.code == "extra" and any(e.endswith("\t" + diff.key) for e in tb["errors"]):
        diff.code = f"tb_error_{name}"
        diff.detail += "; TensorBoard: " + next(
            v for e, v in tb["errors"].items() if e.endswith("\t" + diff.key))
    if name == "tsvis" and diff.code == "extra" and diff.kind == "embeddings":
        diff.code = "tsvis_only_emb"
    return diff


def run_writer(name: str, python: str, scratch: Path) -> dict[str, Any]:
    logdir, data = scratch / name / "logs", scratch / name / "data"
    data.mkdir(parents=True)
    t0 = time.monotonic()
    notes = write(name, python, logdir)
    tb_dir = tensorboard_logdir(name, logdir, scratch / name, notes)
    tb = tensorboard_view(str(tb_dir), projector=False)
    tb["embeddings"] = projector(python, tb_dir)
    proc, url = serve(logdir, data)
    try:
        sv = server_view(url)
    finally:
        stop(proc)
    result: dict[str, Any] = {"python": python, "notes": notes, "kinds": {}}
    for kind, (n, diffs) in compare(tb, sv).items():
        diffs = [refine(name, d, tb, tb_dir).as_dict() for d in diffs]
        result["kinds"][kind] = {"n": n, "diffs": diffs,
                                 "server_items": _count(sv, kind)}
    result["seconds"] = round(time.monotonic() - t0, 1)
    return result


def _count(view: View, kind: str) -> int:
    return len(view[kind])


def cell(entry: dict[str, Any]) -> str:
    """'equal N/N', 'differs k/N (why)', '-' (no such kind on either side)."""
    n, diffs = entry["n"], entry["diffs"]
    if n == 0 and not diffs:
        return "-"
    inside = [d for d in diffs if d["code"] not in EXTRA_CODES
              and not d["code"].startswith(("tsvis_only", "tb_error"))]
    extra = [d for d in diffs if d not in inside]
    text = f"equal {n}/{n}" if not inside else \
        f"differs {len(inside)}/{n} ({', '.join(sorted({d['code'] for d in inside}))})"
    if n == 0 and not inside:
        text = "-"
    if extra:
        text += f" +{len(extra)} tsvis-live only ({', '.join(sorted({d['code'] for d in extra}))})"
    return text


def table(results: dict[str, dict]) -> str:
    writers = list(results)
    rows = ["| kind | " + " | ".join(writers) + " |", "|---|" + "---|" * len(writers)]
    for kind in KINDS:
        rows.append(f"| {kind} | " + " | ".join(cell(results[w]["kinds"][kind]) for w in writers) + " |")
    return "\n".join(rows)


def unexplained(results: dict[str, dict]) -> list[dict]:
    return [dict(d, writer=w) for w, r in results.items() for e in r["kinds"].values()
            for d in e["diffs"] if not d["explained"]]


def run(writers: list[str], main_only: bool = False, scratch: Path | None = None) -> dict[str, Any]:
    """Compare every available writer; returns {results, skipped}."""
    results, skipped = {}, {}
    with tempfile.TemporaryDirectory(prefix="parity-") as tmp:
        root = scratch or Path(tmp)
        for name in writers:
            python = writer_python(name, main_only)
            if python is None:
                skipped[name] = "its library is not installed where expected"
                continue
            results[name] = run_writer(name, python, root)
    return {"results": results, "skipped": skipped}


def report(out: dict[str, Any]) -> str:
    lines = [table(out["results"]), "", "Differences (writer, kind, key: detail -> cause):"]
    for w, r in out["results"].items():
        for kind, e in r["kinds"].items():
            for d in e["diffs"]:
                flag = "" if d["explained"] else "UNEXPLAINED "
                lines.append(f"- {flag}{w} {kind} {d['key']}: {d['detail']} -> {d['cause']}")
        for note in r["notes"]:
            lines.append(f"- note {w}: {note}")
    for w, why in out["skipped"].items():
        lines.append(f"- skipped {w}: {why}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="bench/out/parity.json")
    parser.add_argument("--writers", default=",".join(WRITERS))
    parser.add_argument("--keep", help="keep logdirs and server data under this directory")
    args = parser.parse_args(argv)
    scratch = Path(args.keep) if args.keep else None
    out = run(args.writers.split(","), scratch=scratch)
    out["causes"] = {k: {"cause": v[0], "explained": v[1]} for k, v in CAUSES.items()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1, default=str))
    print(report(out))
    return 1 if unexplained(out["results"]) else 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["run", "table", "unexplained", "empty_view", "MAIN_WRITERS"]
