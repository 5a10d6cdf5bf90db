"""The layers hold: the two faces of the web app never import each other, even
through a third module, and the use cases import no face and no Flask.

Imports are read from the source (every ``import`` statement, those inside
functions and under ``TYPE_CHECKING`` included), so a cycle cannot hide behind
a lazy import. The composition root (``runtime/``) mounts both faces, so
paths through it are not followed: the faces only name its ``Services`` type
(under ``TYPE_CHECKING``) and reach the instance through ``edge.services``.
import-linter's contracts (``make lint``) check the run-time imports of every
layer, ``runtime/`` included.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

import ollama_webmgr

PACKAGE = Path(ollama_webmgr.__file__).parent
#: the composition root's package, which may import every face (it mounts them)
RUNTIME_PACKAGE = PACKAGE / "runtime"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _graph() -> dict[str, frozenset[str]]:
    """Module -> the ``ollama_webmgr`` modules it imports."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
        graph[name] = frozenset(m for m in found if m in modules)
    return graph


@cache
def _runtime() -> frozenset[str]:
    return frozenset(_module_name(p) for p in RUNTIME_PACKAGE.rglob("*.py"))


def _reachable(start: str) -> set[str]:
    """What ``start`` imports, directly or not (not through the runtime)."""
    seen, todo = set(), [start]
    while todo:
        for module in _graph()[todo.pop()] - _runtime():
            if module not in seen:
                seen.add(module)
                todo.append(module)
    return seen


def _inside(package: str) -> list[str]:
    prefix = f"ollama_webmgr.{package}"
    return sorted(m for m in _graph() if m == prefix or m.startswith(prefix + "."))


@pytest.mark.parametrize(("face", "other"), [("web", "api"), ("api", "web")])
def test_a_face_never_reaches_the_other(face: str, other: str) -> None:
    reached = {
        module: sorted(set(_inside(other)) & _reachable(module))
        for module in _inside(face)
    }
    assert {m: found for m, found in reached.items() if found} == {}


@pytest.mark.parametrize("package", ["usecases", "french", "edge"])
def test_below_the_faces_nothing_imports_a_face(package: str) -> None:
    faces = set(_inside("web")) | set(_inside("api")) | {"ollama_webmgr.runtime.webapp"}
    for module in _inside(package):
        assert not _graph()[module] & faces, module


def test_use_cases_do_not_know_flask() -> None:
    for module in _inside("usecases"):
        path = PACKAGE.parent / (module.replace(".", "/") + ".py")
        if not path.is_file():
            path = path.with_suffix("") / "__init__.py"
        tree = ast.parse(path.read_text())
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            node.module.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        }
        assert "flask" not in imported, module
