"""The house's layering (README, "Layout"): web -> domain -> models/db, imports one way, no cycles.

Read from the source, so a new module is checked the moment it exists.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "fieldkit"
# The bottom layer: what every domain module may use, and which uses no domain module.
BASE = {"fieldkit.errors", "fieldkit.dates", "fieldkit.db", "fieldkit.models"}
# The top layer: the web package, the app factory and what runs it (CLI commands, settings).
TOP = {"fieldkit", "fieldkit.cli", "fieldkit.config"}
# Werkzeug's password hashing (accounts) is plain functions; its request and routing parts are not used below.
WEB_LIBRARIES = ("flask", "flask_login", "flask_wtf", "flask_limiter", "flask_migrate", "flask_compress", "wtforms")


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue  # Alembic's own files, run by `flask db`
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def layer(name: str) -> int:
    if name in BASE:
        return 0
    if name in TOP or name.startswith("fieldkit.web"):
        return 2
    return 1


def imports(name: str, path: Path) -> list[tuple[str, int, bool]]:
    """(module imported, line, inside a function) for every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nested = {id(node) for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
              for node in ast.walk(fn)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, id(node) in nested) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            known = modules()
            for alias in node.names:
                # `from . import sites` imports a module; `from .sites import refresh` imports from one.
                target = f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                found.append((target, node.lineno, id(node) in nested))
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: {target for target, _, _ in imports(name, path) if target in known and target != name}
            for name, path in known.items()}


def test_no_module_imports_inside_a_function():
    # A delayed import hides a cycle instead of removing it.
    delayed = [f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}"
               for name, path in modules().items() for target, line, inside in imports(name, path)
               if inside and target.startswith("fieldkit")]
    assert delayed == []


def test_imports_go_one_way_down_the_layers():
    upward = [f"{name} imports {target}" for name, targets in graph().items() for target in targets
              if layer(target) > layer(name)]
    assert upward == []


def test_domain_and_models_never_import_the_web_framework():
    offenders = []
    for name, path in modules().items():
        if layer(name) == 2:
            continue
        for target, line, _ in imports(name, path):
            top = target.split(".")[0]
            # The database handle is Flask-SQLAlchemy's; it is the one Flask library below the web layer.
            if top in WEB_LIBRARIES and not (name == "fieldkit.db" and top == "flask_sqlalchemy"):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert offenders == []


def test_there_is_no_import_cycle():
    edges = graph()
    cycles, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(trail[trail.index(nxt):] + [node, nxt]) if nxt in trail
                              else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, trail + [node])
        state[node] = "done"

    for name in sorted(edges):
        if name not in state:
            visit(name, [])
    assert cycles == []


# The one commit below the web layer, on purpose (see notify.claim): a webhook's lease must be visible to every
# worker before the slow send, and no lock may be held while a remote server is waited on.
# db.write_transaction is the transaction helper the web layer's reads use.
COMMITS_ALLOWED = {("fieldkit.notify", "claim"), ("fieldkit.db", "write_transaction")}


def test_domain_functions_never_commit():
    # The web layer commits once per request; a domain function that commits would split its transaction.
    offenders = []
    for name, path in modules().items():
        if layer(name) == 2:
            continue
        tree = ast.parse(path.read_text())
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef) or (name, fn.name) in COMMITS_ALLOWED:
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "commit" \
                        and "savepoint" not in ast.unparse(node.func):  # releasing a savepoint commits nothing
                    offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} in {fn.name}()")
    assert offenders == []


@pytest.mark.parametrize("source, problem", [
    ("from . import sites\n", "fieldkit.db imports fieldkit.sites"),
    ("def f():\n    from .models import Counter\n", "imports fieldkit.models"),
])
def test_the_checks_catch_what_they_are_for(tmp_path, monkeypatch, source, problem):
    # A check that cannot fail is no check: plant an upward import and a delayed one in a copy of db.py.
    planted = tmp_path / "fieldkit" / "db.py"
    planted.parent.mkdir()
    planted.write_text((PACKAGE / "db.py").read_text() + "\n" + source)
    real = modules()
    monkeypatch.setitem(globals(), "modules", lambda: {**real, "fieldkit.db": planted})
    monkeypatch.setitem(globals(), "PACKAGE", planted.parent)
    with pytest.raises(AssertionError, match=problem):
        test_imports_go_one_way_down_the_layers()
        test_no_module_imports_inside_a_function()


def test_every_json_route_is_behind_the_one_guard(app, client):
    # A new API view cannot forget to authenticate: it lives on the API blueprint, whose guard runs first.
    public = {"/api/openapi.json"}
    routes = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api") and rule.rule not in public]
    assert len(routes) > 15
    outside = [rule.rule for rule in routes if not rule.endpoint.startswith("api.")]
    assert outside == []
    for rule in routes:
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<int:{name}>", "1").replace(f"<path:{name}>", "ABC-123").replace(f"<{name}>", "x")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            answer = client.open(path, method=method, json={})
            assert (answer.status_code, answer.json["error"]["code"]) == (401, "login_required"), (method, path)
