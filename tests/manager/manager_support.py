"""Helpers of the manager tests (unique module name: test dirs have no __init__)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fleet_support import fleet_settings
from ollama_webmgr.jobs.context import Task
from ollama_webmgr.runtime.services import Services, build_services
from ollama_webmgr.sim.fleet import EmulatedFleet


def _echo(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"echo": params}


#: job kinds for the tests: the product's kinds are not needed to prove restore
TEST_TASKS: dict[str, Task] = {"echo": _echo}


@contextmanager
def started_services(
    fleet: EmulatedFleet, data_dir: Path, **overrides: Any
) -> Iterator[Services]:
    """Services over ``fleet`` with their background parts running."""
    services = build_services(
        fleet_settings(fleet, data_dir, **overrides), tasks=TEST_TASKS
    )
    try:
        services.start()
        yield services
    finally:
        services.close()
