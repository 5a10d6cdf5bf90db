"""The environment of a process a test starts from scratch (no copy of its own)."""

from __future__ import annotations

import os


def clean_env(**values: str) -> dict[str, str]:
    """``PATH``, coverage's variables (``make test`` measures the process through
    them, and they change nothing else), then ``values``."""
    coverage = {k: v for k, v in os.environ.items() if k.startswith("COVERAGE_")}
    return {"PATH": os.environ.get("PATH", ""), **coverage, **values}
