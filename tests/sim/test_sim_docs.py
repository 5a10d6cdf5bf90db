"""docs/ollama-compatibility.md only names tests that exist, and names them all."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST_DIR = ROOT / "tests" / "sim"


def _defined_tests() -> set[str]:
    found = set()
    for path in TEST_DIR.glob("test_sim_*.py"):
        for name in re.findall(r"^def (test_\w+)", path.read_text(), re.MULTILINE):
            found.add(f"{path.name}::{name}")
    return found


def test_compatibility_table_names_exactly_the_emulator_tests() -> None:
    doc = (ROOT / "docs" / "ollama-compatibility.md").read_text()
    named = set(re.findall(r"(test_sim_\w+\.py::test_\w+)", doc))
    defined = _defined_tests() - {
        "test_sim_docs.py::test_compatibility_table_names_exactly_the_emulator_tests"
    }
    assert named - defined == set(), "the doc names tests that do not exist"
    assert defined - named == set(), "tests missing from the doc"
