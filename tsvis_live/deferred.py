"""Modules imported when first used, not when first named: a command's start-up cost.

`tsvis-live ingest` on an empty logdir, or one with nothing new, needs no numpy at all, yet
every store module names it at the top; importing it was a quarter of such a run (60 of
250 ms). `defer("numpy")` puts a placeholder in `sys.modules`: `import numpy as np` binds it
without loading anything, and the first attribute read (`np.frombuffer`) executes the real
module in place, once, whichever thread gets there first.

Python 3.11's `importlib.util.LazyLoader` does not do here: every `import numpy` statement reads
the placeholder's `__spec__` (to see whether it is still initialising), which loads it, and its
load is not thread-safe (a second thread sees a half-executed module; fixed in 3.13).
"""

from __future__ import annotations

import gc
import importlib.machinery
import importlib.util
import sys
import threading
import types

# Attributes the import system reads off a module in sys.modules; they never trigger the load.
_PASSIVE = frozenset({"__spec__", "__name__", "__loader__", "__package__", "__class__", "__dict__"})
_LOCK = threading.RLock()  # reentrant: the module's own body reads its attributes while it loads
_loading: set[str] = set()  # names whose body is running (in the thread holding _LOCK)


class _Deferred(types.ModuleType):
    """A module whose body runs on its first attribute read (then it is a plain module)."""

    def __getattribute__(self, attr: str) -> object:
        if attr in _PASSIVE:
            return object.__getattribute__(self, attr)
        with _LOCK:
            if type(self) is _Deferred:  # not loaded yet, or being loaded by this very thread
                spec = object.__getattribute__(self, "__spec__")
                if spec.name in _loading:  # the body itself, reading what it has defined so far
                    return object.__getattribute__(self, attr)
                _loading.add(spec.name)
                try:
                    _run_body(spec, self)
                finally:  # a body that raised is run again at the next use, as a failed import
                    _loading.discard(spec.name)
                self.__class__ = types.ModuleType
        return getattr(self, attr)


def _run_body(spec: importlib.machinery.ModuleSpec, module: types.ModuleType) -> None:
    """Run the module's body as the CLI runs its imports (`commands.common.pause_gc`): with the
    cyclic collector paused, then what the body built moved out of its sight. Run mid-pass with
    the collector on, numpy's body cost ~20 ms more on a 2M-event ingest (one more full pass
    then, and its objects scanned by every later one)."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        spec.loader.exec_module(module)
    finally:
        if paused:
            gc.freeze()
            gc.enable()


def defer(name: str) -> bool:
    """Make `name` load on first use; False (nothing done) if it is imported already or absent.

    Only for top-level modules whose import has no side effect a caller relies on."""
    if name in sys.modules:
        return False
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return False
    module = importlib.util.module_from_spec(spec)
    module.__class__ = _Deferred
    sys.modules[name] = module
    return True


def is_loaded(name: str) -> bool:
    """Whether `name` is imported and its body has run (a deferred module counts once used)."""
    module = sys.modules.get(name)
    return module is not None and type(module) is not _Deferred
