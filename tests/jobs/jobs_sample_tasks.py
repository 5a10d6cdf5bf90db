"""Plain task functions used by the job tests (importable by RQ workers)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ollama_webmgr.errors import OllamaNotFound
from ollama_webmgr.jobs.context import TaskContext


def count(params: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    """Reports a status then ``steps`` progress events of ``chunk`` bytes."""
    steps = int(params.get("steps", 5))
    chunk = int(params.get("chunk", 100))
    delay = float(params.get("delay", 0.0))
    ctx.report("status", {"status": "pulling manifest"})
    for step in range(1, steps + 1):
        time.sleep(delay)
        ctx.report(
            "progress",
            {
                "status": "pulling abc",
                "digest": "sha256:abc",
                "total": steps * chunk,
                "completed": step * chunk,
            },
        )
    ctx.report("status", {"status": "success"})
    return {"steps": steps}


def until_cancelled(params: dict[str, Any], ctx: TaskContext) -> str:
    """Reports progress until cancelled (or ``limit`` seconds, then succeeds)."""
    deadline = time.monotonic() + float(params.get("limit", 10.0))
    completed = 0
    while time.monotonic() < deadline:
        ctx.check_cancelled()
        completed += 10
        ctx.report(
            "progress", {"status": "pulling", "completed": completed, "total": 10**9}
        )
        time.sleep(0.02)
    return "not cancelled"


def not_found(params: dict[str, Any], ctx: TaskContext) -> None:
    ctx.report("status", {"status": "pulling manifest"})
    raise OllamaNotFound("pull model manifest: file does not exist", status=404)


def crash(params: dict[str, Any], ctx: TaskContext) -> None:
    raise RuntimeError("task bug")


def stall_once(params: dict[str, Any], ctx: TaskContext) -> str:
    """The first run creates ``marker`` and stalls (to be killed); later runs finish."""
    marker = Path(params["marker"])
    if marker.exists():
        ctx.report("status", {"status": "success"})
        return "second run"
    marker.write_text("started")
    completed = 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        completed += 1
        ctx.report(
            "progress", {"status": "pulling", "completed": completed, "total": 10**6}
        )
        time.sleep(0.05)
    return "never killed"


def deaf(params: dict[str, Any], ctx: TaskContext) -> str:
    """Reports progress for ``limit`` seconds and never looks at cancellation."""
    deadline = time.monotonic() + float(params.get("limit", 20.0))
    completed = 0
    while time.monotonic() < deadline:
        completed += 1
        ctx.report(
            "progress", {"status": "pulling", "completed": completed, "total": 10**6}
        )
        time.sleep(0.05)
    return "finished anyway"


def registry() -> dict[str, Any]:
    return {
        "count": count,
        "until_cancelled": until_cancelled,
        "not_found": not_found,
        "crash": crash,
        "stall_once": stall_once,
        "deaf": deaf,
    }
