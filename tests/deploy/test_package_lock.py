"""package-lock.json is one npm wrote, complete for every platform.

A hand-added entry (no ``integrity``, no ``resolved``) makes a plain
``npm install`` rewrite the lock and ``npm ci`` refuse it. ``make check-lock``
also runs npm itself on a copy and requires it to leave the lock unchanged.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = "https://registry.npmjs.org/"


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def lock_problems(lock: dict[str, Any], package: dict[str, Any]) -> list[str]:
    """What is wrong with ``lock`` for ``package`` (package.json), if anything."""
    problems = []
    if lock.get("lockfileVersion") != 3:
        problems.append(f"lockfileVersion {lock.get('lockfileVersion')}, not 3")
    packages: dict[str, dict[str, Any]] = lock["packages"]
    wanted = package.get("devDependencies", {}) | package.get("dependencies", {})
    root = packages[""]
    if root.get("devDependencies", {}) | root.get("dependencies", {}) != wanted:
        problems.append("the lock's root does not list package.json's dependencies")
    for name, spec in wanted.items():
        if not re.fullmatch(r"\d+\.\d+\.\d+", spec):
            problems.append(f"{name} is not pinned to one version ({spec})")
        if packages.get(f"node_modules/{name}", {}).get("version") != spec:
            problems.append(f"{name}: the lock does not hold {spec}")
    for path, entry in packages.items():
        if not path or entry.get("inBundle") or entry.get("link"):
            continue  # the project, files inside a parent's tarball, links
        if not str(entry.get("resolved", "")).startswith(REGISTRY):
            problems.append(f"{path}: no registry 'resolved'")
        if not str(entry.get("integrity", "")).startswith("sha512-"):
            problems.append(f"{path}: no sha512 'integrity'")
        for dep in entry.get("optionalDependencies", {}):
            # platform binaries (Tailwind's oxide, lightningcss) for every OS
            if not any(p.endswith(f"node_modules/{dep}") for p in packages):
                problems.append(f"{path}: optional {dep} missing from the lock")
    return problems


def test_the_lock_is_complete_for_every_platform() -> None:
    lock = _load(ROOT / "package-lock.json")
    assert lock_problems(lock, _load(ROOT / "package.json")) == []
    platforms = [p for p in lock["packages"] if "/@tailwindcss/oxide-" in p]
    assert any("darwin" in p for p in platforms)
    assert any("win32" in p for p in platforms)


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda e: e.pop("integrity"), "no sha512 'integrity'"),
        (lambda e: e.pop("resolved"), "no registry 'resolved'"),
    ],
)
def test_a_hand_edited_entry_is_caught(edit: Any, problem: str) -> None:
    lock = _load(ROOT / "package-lock.json")
    edit(lock["packages"]["node_modules/@tailwindcss/oxide-darwin-arm64"])
    found = lock_problems(lock, _load(ROOT / "package.json"))
    assert found == [f"node_modules/@tailwindcss/oxide-darwin-arm64: {problem}"]


def test_a_dependency_added_to_package_json_alone_is_caught() -> None:
    package = _load(ROOT / "package.json")
    package["devDependencies"]["ollama"] = "0.6.3"
    found = lock_problems(_load(ROOT / "package-lock.json"), package)
    assert "the lock does not hold 0.6.3" in " ".join(found)
