"""How many worker processes a big pass uses: the setting, else what the machine can use."""

from __future__ import annotations

import pytest

from tsvis_live.formats import _native
from tsvis_live.ingest import ingester


def test_the_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TSVIS_LIVE_DECODE_WORKERS", "3")
    assert ingester.decode_workers() == 3
    monkeypatch.setenv("TSVIS_LIVE_DECODE_WORKERS", "0")
    assert ingester.decode_workers() == 0


@pytest.mark.parametrize("cores", [1, 2, 3, 8])
def test_compiled_decoding_uses_workers_only_with_cores_to_spare(monkeypatch: pytest.MonkeyPatch, cores: int) -> None:
    """With the compiled decoder, 2 cores read a big backlog as fast in the ingesting thread
    (docs/benchmarks.md); the pure-Python decoder needs every core it can get."""
    monkeypatch.delenv("TSVIS_LIVE_DECODE_WORKERS", raising=False)
    monkeypatch.setattr(ingester.os, "cpu_count", lambda: cores)
    assert _native.compiled is not None  # the package is built with its decoder in this suite
    assert ingester.decode_workers() == (0 if cores < ingester.NATIVE_POOL_MIN_CORES else cores)
    monkeypatch.setattr(_native, "compiled", None)
    assert ingester.decode_workers() == cores
