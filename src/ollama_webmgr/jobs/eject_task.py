"""The ``eject_force`` job: unload a model and watch ``/api/ps`` until it is gone.

It repeats Ollama's unload request (an empty generate with ``keep_alive: 0``)
and re-reads ``/api/ps`` until the model is gone, within ``timeout`` seconds.
A model busy with a generation is only unloaded when idle, and a node may drop
a request: repeating is what makes the 5 s promise of the brief hold. Like the
model tasks it builds its own client from the server's URL, so it runs alike in
the web process and on an RQ worker.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ollama_webmgr.errors import EjectFailed, OllamaError, OllamaNotFound
from ollama_webmgr.jobs.context import TaskContext
from ollama_webmgr.ollama.client import OllamaClient
from ollama_webmgr.ollama.names import ModelName, same_model
from ollama_webmgr.ollama.payloads import RunningModel

FORCE_TIMEOUT = 4.5  # seconds: under the brief's 5 s, with room for the API call
POLL_INTERVAL = 0.1


def is_loaded(running: Sequence[RunningModel], model: str) -> bool:
    return any(same_model(entry.name, model) for entry in running)


def eject_force(params: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    """Job ``eject_force``: params ``{server_url, model}`` (+ ``timeout``).

    Reports ``status`` events (``unloading`` per attempt, ``retrying`` with the
    error of a failed request, ``ejected`` at the end) and returns
    ``{model, server_url, attempts, elapsed_ms}``; raises ``EjectFailed`` when
    the model is still loaded after ``timeout`` seconds.
    """
    server_url = str(params["server_url"])
    model = ModelName.parse(str(params["model"])).display
    timeout = float(params.get("timeout", FORCE_TIMEOUT))
    started = time.monotonic()
    with OllamaClient(
        server_url, connect_timeout=2.0, read_timeout=max(1.0, timeout), retries=0
    ) as client:
        attempts = 0
        while True:
            ctx.check_cancelled()
            attempts += 1
            ctx.report("status", {"status": "unloading", "attempt": attempts})
            if not _still_loaded_after_unload(client, model, ctx):
                elapsed_ms = round((time.monotonic() - started) * 1000, 1)
                ctx.report("status", {"status": "ejected", "attempts": attempts})
                return {
                    "model": model,
                    "server_url": server_url,
                    "attempts": attempts,
                    "elapsed_ms": elapsed_ms,
                }
            if time.monotonic() - started + POLL_INTERVAL > timeout:
                raise EjectFailed(
                    f"{model} still loaded on {server_url} after {timeout:g} s"
                )
            time.sleep(POLL_INTERVAL)


def _still_loaded_after_unload(
    client: OllamaClient, model: str, ctx: TaskContext
) -> bool:
    try:
        client.unload(model)
    except OllamaNotFound:
        raise  # not installed there: repeating cannot help
    except OllamaError as exc:
        ctx.report("status", {"status": "retrying", "error": str(exc)})
    try:
        return is_loaded(client.ps(), model)
    except OllamaError as exc:
        ctx.report("status", {"status": "retrying", "error": str(exc)})
        return True
