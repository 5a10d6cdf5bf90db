"""The product's job kinds: plain functions ``(params, ctx)`` (no Flask, no RQ).

``default_registry`` is what both runners use (``RQRunner`` resolves it by its
``"module:attr"`` reference inside the worker process). Tasks receive server
URLs in their params and build their own clients, so they run the same in the
web process and in an RQ worker.
"""

from __future__ import annotations

from ollama_webmgr.jobs.context import Task
from ollama_webmgr.jobs.model_tasks import check_update, pull_model

TASKS_REF = "ollama_webmgr.jobs.tasks:default_registry"


def default_registry() -> dict[str, Task]:
    """Job kind → task function."""
    return {"pull_model": pull_model, "check_update": check_update}
