"""`tsvis_live.deferred`: a module named at the top of a file loads on its first use, once,
whichever of several threads uses it first, and never half-loaded."""

from __future__ import annotations

import importlib
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tsvis_live.deferred import defer, is_loaded

SLOW_BODY = """
import time
from pathlib import Path

COUNT = Path({count!r})
COUNT.write_text(COUNT.read_text() + "x")  # one x per run of this body
first = 1
time.sleep(0.3)  # a thread that sees the module now would see it half-executed
second = first + 1
"""


@pytest.fixture()
def module_dir(tmp_path: Path) -> Iterator[Path]:
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    before = set(sys.modules)
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in set(sys.modules) - before:
            del sys.modules[name]


def slow_module(where: Path) -> tuple[str, Path]:
    name = f"slow_{uuid.uuid4().hex}"
    count = where / f"{name}.count"
    count.write_text("")
    (where / f"{name}.py").write_text(SLOW_BODY.format(count=str(count)))
    importlib.invalidate_caches()
    return name, count


def test_naming_a_deferred_module_loads_nothing_and_the_first_use_loads_it_once(module_dir: Path) -> None:
    name, count = slow_module(module_dir)
    assert defer(name)
    assert not defer(name)  # already in sys.modules: nothing to do
    module = importlib.import_module(name)  # what `import name` does: reads __spec__, no more
    from_statement = __import__(name)
    assert module is from_statement is sys.modules[name]
    assert not is_loaded(name) and count.read_text() == ""
    assert module.second == 2
    assert is_loaded(name) and count.read_text() == "x"
    assert type(module).__name__ == "module"  # a plain module from then on
    assert importlib.import_module(name).first == 1 and count.read_text() == "x"


def test_threads_that_use_it_at_once_all_wait_for_one_whole_load(module_dir: Path) -> None:
    name, count = slow_module(module_dir)
    defer(name)
    module = sys.modules[name]
    seen: list[object] = []
    start = threading.Barrier(8)

    def use() -> None:
        start.wait()
        try:
            seen.append(module.second)
        except Exception as exc:  # noqa: BLE001 - a half-executed module raises AttributeError
            seen.append(exc)

    threads = [threading.Thread(target=use) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    assert seen == [2] * 8
    assert count.read_text() == "x"  # the body ran once


def test_a_body_that_fails_fails_its_user_and_runs_again_at_the_next_use(module_dir: Path) -> None:
    name = f"flaky_{uuid.uuid4().hex}"
    flag = module_dir / f"{name}.ok"
    (module_dir / f"{name}.py").write_text(
        f"from pathlib import Path\nif not Path({str(flag)!r}).exists():\n    raise RuntimeError('not yet')\nvalue = 7\n")
    importlib.invalidate_caches()
    defer(name)
    with pytest.raises(RuntimeError, match="not yet"):
        sys.modules[name].value  # noqa: B018
    assert not is_loaded(name)
    flag.touch()
    assert sys.modules[name].value == 7 and is_loaded(name)


def test_nothing_is_deferred_that_is_imported_or_does_not_exist() -> None:
    assert not defer("json")  # imported by pytest already
    assert not defer(f"missing_{uuid.uuid4().hex}")
    assert is_loaded("json")


def test_a_body_runs_with_the_collector_paused_and_what_it_built_is_frozen(module_dir: Path) -> None:
    """As the CLI's own imports (`commands.common.pause_gc`): a deferred body loaded mid-pass
    made one more full collection, and every later one scanned its objects."""
    import gc

    name = f"built_{uuid.uuid4().hex}"
    (module_dir / f"{name}.py").write_text("import gc\ncollector_on = gc.isenabled()\nbuilt = [[i] for i in range(1000)]  # lists: tracked by the collector\n")
    importlib.invalidate_caches()
    defer(name)
    frozen = gc.get_freeze_count()
    try:
        assert gc.isenabled()
        assert sys.modules[name].collector_on is False
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen + 1000
    finally:
        gc.unfreeze()
