"""The store boundary: nothing outside `tsvis_live/store/` reaches past `Store`.

Issue 10 item 1: REST routes, `/ws`, the polling endpoint, compute and ingest go through one
interface (`tsvis_live.store.provider.Store`). Every module outside `store/` is parsed and
refused if it imports SQLAlchemy, a `Connection` or the table/statement modules, calls
`db.read`/`db.write` (or their `_sync`/`submit` forms) itself, reaches for the engine, or
selects series points itself (range, superseded writes, downsampling, smoothing: written once,
in `store/select.py`). The same check as the issue's grep runs over the text.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tsvis_live"
STORE = PACKAGE / "store"
DB_CALLS = {"read", "write", "read_sync", "write_sync", "submit"}
DB_NAMES = {"db", "_db"}
SQL_MODULES = {"tsvis_live.store.schema", "tsvis_live.store.statements"}
# series selection: only store/select.py calls these (compute/downsample.py defines them)
SELECTION = {"downsample", "bucket_bands", "ema_smooth", "visible", "visible_histograms", "visible_index"}
SELECTION_HOME = {PACKAGE / "compute" / "downsample.py"}
# files that still reach past the store, each with who fixes it; the test fails once one is
# clean, so the entry is removed then (an allowance cannot outlive its reason)
PENDING: dict[str, str] = {}
GREP = re.compile(r"Connection|sqlalchemy|conn\b")


def _is_db(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id in DB_NAMES
    return isinstance(node, ast.Attribute) and node.attr in DB_NAMES


def violations(source: str, path: Path | None = None) -> list[str]:
    """What in `source` reaches past the store, one line each ("<line>: <what>")."""
    found = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sqlalchemy" or alias.name in SQL_MODULES:
                    found.append(f"{line}: imports {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = {a.name for a in node.names}
            if module.split(".")[0] == "sqlalchemy":
                found.append(f"{line}: imports from {module}")
            if module in SQL_MODULES or (module == "tsvis_live.store" and names & {"schema", "statements"}):
                found.append(f"{line}: imports the store's SQL ({module})")
            if "Connection" in names:
                found.append(f"{line}: imports Connection from {module}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in DB_CALLS and _is_db(node.func.value):
                found.append(f"{line}: calls .db.{node.func.attr}() instead of a Store method")
        if isinstance(node, ast.Attribute) and node.attr == "engine" and _is_db(node.value):
            found.append(f"{line}: uses the database engine")
        if isinstance(node, ast.Call) and path not in SELECTION_HOME:
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in SELECTION:
                found.append(f"{line}: selects series points itself ({name}); use Store.scalars/histograms")
    return found


def _outside_store() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if STORE not in p.parents)


def _rel(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


def test_nothing_outside_store_reaches_past_it() -> None:
    files = _outside_store()
    assert len(files) > 40  # the walk found the package (http, stream, ingest, compute...)
    found = {_rel(p): v for p in files if (v := violations(p.read_text(encoding="utf-8"), p))}
    unexpected = {path: v for path, v in found.items() if path not in PENDING}
    assert not unexpected, "\n".join(f"{path}:{line}" for path, v in unexpected.items() for line in v)
    fixed = sorted(set(PENDING) - set(found))
    assert not fixed, f"{fixed} no longer reach past the store: remove them from PENDING"


def test_the_issue_grep_finds_nothing_outside_store() -> None:
    """`grep -rn "Connection|sqlalchemy|conn\\b"` (starlette's HTTPConnection is not a database's)."""
    hits = []
    for path in _outside_store():
        if _rel(path) in PENDING:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if GREP.search(line.replace("HTTPConnection", "")):
                hits.append(f"{_rel(path)}:{n}: {line.strip()}")
    assert not hits, "\n".join(hits)


def test_the_check_catches_each_way_past_the_store() -> None:
    """Each rule fires on code that breaks it, and stays quiet on code going through Store."""
    bad = '''
import sqlalchemy
from sqlalchemy import select
from tsvis_live.store.database import Connection
from tsvis_live.store import schema
import tsvis_live.store.statements

async def route(session):
    rows = await session.db.read(lambda c: c.execute("SELECT 1"))
    session.db.write_sync(print)
    db.submit(print)
    self._db.read_sync(print)
    name = session.db.engine.dialect.name
    keep = downsample(steps, None, values, 100)
    s = series.visible()
'''
    found = violations(bad)
    for expected in ("imports sqlalchemy", "imports from sqlalchemy", "imports Connection",
                     "SQL (tsvis_live.store)", "imports tsvis_live.store.statements", ".db.read()",
                     ".db.write_sync()", ".db.submit()", ".db.read_sync()", "database engine",
                     "(downsample)", "(visible)"):
        assert any(expected in v for v in found), (expected, found)
    assert len(found) == 12
    good = '''
from starlette.requests import HTTPConnection
from tsvis_live.store.provider import NotFound, Store

async def route(session, connection: HTTPConnection):
    read = await session.store.scalars("run", "tag", max_points=100)
    return read.points, session.db.path, client.read()
'''
    assert violations(good) == []
