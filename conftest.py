"""Root pytest hooks.

``--doctest-modules`` would also import every ``tests/**/conftest.py`` as a module
named ``conftest``; the test folders have no ``__init__.py``, so two of them clash.
Doctests live in ``src/``: skip conftest files during collection (pytest still
loads them as plugins).
"""

from __future__ import annotations

from pathlib import Path

# shared fixtures, from tests/ (on pytest's pythonpath)
pytest_plugins = ["redis_fixtures", "lingering_threads"]


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    return True if collection_path.name == "conftest.py" else None
