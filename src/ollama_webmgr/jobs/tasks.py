"""The product's job kinds: plain functions ``(params, ctx)`` (no Flask, no RQ).

``default_registry`` is what both runners use (``RQRunner`` resolves it by its
``"module:attr"`` reference inside the worker process). Tasks receive server
URLs in their params and build their own clients, so they run the same in the
web process and in an RQ worker.
"""

from __future__ import annotations

from ollama_webmgr.jobs.context import Task

TASKS_REF = "ollama_webmgr.jobs.tasks:default_registry"


def default_registry() -> dict[str, Task]:
    """Job kind → task function."""
    # Imported here: the task modules pull in the HTTP client, and reading this
    # module (e.g. for TASKS_REF) should stay cheap.
    from ollama_webmgr.jobs.eject_task import eject_force
    from ollama_webmgr.jobs.model_tasks import check_update, pull_model

    return {
        "pull_model": pull_model,
        "check_update": check_update,
        "eject_force": eject_force,
    }
