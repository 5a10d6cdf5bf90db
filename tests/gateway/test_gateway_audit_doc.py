"""The issue audit table of docs/gateway.md names only tests that exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _audit_section() -> str:
    doc = (ROOT / "docs" / "gateway.md").read_text(encoding="utf-8")
    start = doc.index("## Issue #6 audit")
    return doc[start : doc.index("\n## ", start + 1)]


def _path(name: str) -> Path:
    if name.startswith("G/"):
        return ROOT / "tests" / "gateway" / f"test_gateway_{name[2:]}.py"
    return ROOT / name


def test_every_test_named_in_the_audit_exists() -> None:
    section = _audit_section()
    named = re.findall(r"`((?:G/\w+|tests/[\w/]+\.py))(?:::(\w+))?`", section)
    assert len(named) > 60
    missing = []
    for file, test in named:
        path = _path(file)
        if not path.exists():
            missing.append(file)
        elif test and not re.search(rf"^def {test}\(", path.read_text(), re.M):
            missing.append(f"{file}::{test}")
    assert missing == []
