"""The issue audit table of docs/gateway.md names only tests that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _audit_section(title: str = "## Issue #6 audit") -> str:
    doc = (ROOT / "docs" / "gateway.md").read_text(encoding="utf-8")
    start = doc.index(title)
    return doc[start : doc.index("\n## ", start + 1)]


def _path(name: str) -> Path:
    if name.startswith("G/"):
        return ROOT / "tests" / "gateway" / f"test_gateway_{name[2:]}.py"
    return ROOT / name


@pytest.mark.parametrize(
    ("title", "at_least"), [("## Issue #6 audit", 60), ("## Issue #14 audit", 20)]
)
def test_every_test_named_in_the_audit_exists(title: str, at_least: int) -> None:
    section = _audit_section(title)
    named = re.findall(r"`((?:G/\w+|tests/[\w/]+\.py))(?:::(\w+))?`", section)
    assert len(named) > at_least
    missing = []
    for file, test in named:
        path = _path(file)
        if not path.exists():
            missing.append(file)
        elif test and not re.search(rf"^def {test}\(", path.read_text(), re.M):
            missing.append(f"{file}::{test}")
    assert missing == []
