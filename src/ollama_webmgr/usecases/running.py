"""Models loaded in memory (``/api/ps``) and how to unload them.

- ``loaded_models`` reads ``/api/ps`` of several servers in parallel (short
  timeouts: a dead server shows as an error, it never blocks the others);
- ``eject`` sends Ollama's unload request once and says whether the model
  left ``/api/ps``;
- ``force_eject`` starts the ``eject_force`` job (``jobs/eject_task.py``),
  which repeats the unload until ``/api/ps`` lost the model;
- ``unload_until_gone`` is what a delete does first (``models.delete_model``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ollama_webmgr.cluster.clients import ClientPool
from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.jobs.eject_task import FORCE_TIMEOUT, POLL_INTERVAL, is_loaded
from ollama_webmgr.jobs.model import Job
from ollama_webmgr.ollama.client import OllamaClient
from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.ollama.payloads import RunningModel
from ollama_webmgr.usecases.actor import Actor, audit
from ollama_webmgr.usecases.probe import Outcome, ask_all
from ollama_webmgr.usecases.servers import chosen_server

if TYPE_CHECKING:
    from ollama_webmgr.runtime.services import Services

EJECT_FORCE = "eject_force"


def running_on(
    servers: Sequence[Server], clients: ClientPool | None
) -> list[Outcome[list[RunningModel]]]:
    """``/api/ps`` of each server (in order), or the error it gave."""
    return ask_all(servers, lambda client: client.ps(), clients)


def loaded_models(
    services: Services, servers: Sequence[Server]
) -> list[Outcome[list[RunningModel]]]:
    """What each of ``servers`` holds in memory (in order), or why it did not say."""
    return running_on(servers, services.clients)


def soft_eject(client: OllamaClient, model: str) -> bool:
    """Ask the server to unload ``model`` once; True when ``/api/ps`` lost it."""
    client.unload(model)
    return not is_loaded(client.ps(), model)


@dataclass(frozen=True, slots=True)
class Ejected:
    model: str
    server: Server
    #: False: still loaded (busy); it leaves memory when its requests end
    gone: bool


def eject(
    services: Services, actor: Actor, server_name: str | None, model: object
) -> Ejected:
    """Unload ``model`` from a server (the primary without a name), once."""
    name = _model_name(model)
    server = chosen_server(services.servers, server_name)
    gone = soft_eject(services.clients.get(server), name)
    audit(services.db, actor, "eject", name, {"server": server.name, "ejected": gone})
    return Ejected(name, server, gone)


@dataclass(frozen=True, slots=True)
class ForceEject:
    model: str
    server: Server
    job: Job


def force_eject(
    services: Services, actor: Actor, server_name: str | None, model: object
) -> ForceEject:
    """Start the job that unloads ``model`` for sure (one per server and model)."""
    name = _model_name(model)
    server = chosen_server(services.servers, server_name)
    job = services.runner.submit(
        EJECT_FORCE,
        {"server_url": server.url, "model": name},
        dedupe_key=f"eject:{server.url}:{name}",
    )
    details = {"server": server.name, "job_id": job.id}
    audit(services.db, actor, "eject_force", name, details)
    return ForceEject(name, server, job)


def unload_until_gone(
    client: OllamaClient, model: str, timeout: float = FORCE_TIMEOUT
) -> bool | None:
    """Unload ``model`` if it is loaded, repeating until ``/api/ps`` lost it.

    ``None``: it was not loaded; ``True``: unloaded; ``False``: still loaded after
    ``timeout`` seconds (busy: Ollama unloads it once its requests end, since
    the unload request set its keep-alive to 0).
    """
    if not is_loaded(client.ps(), model):
        return None
    deadline = time.monotonic() + timeout
    while True:
        client.unload(model)
        if not is_loaded(client.ps(), model):
            return True
        if time.monotonic() + POLL_INTERVAL > deadline:
            return False
        time.sleep(POLL_INTERVAL)


def _model_name(model: object) -> str:
    """The display form; ``InvalidModelName`` for anything else (a missing name)."""
    return ModelName.parse(model if isinstance(model, str) else "").display
