"""Which other servers may serve a pulled model over the LAN (their agents).

A server whose node agent runs with ``--serve-models`` reports the port in
``GetSystemInfo`` (stored with its hardware); a pull job to another server
gets those servers as ``peers`` and, at run time, takes the model from one
whose copy has the registry's current digest (``jobs/peer_seeding.py``).
Only registry models. The pull's other targets stay peers: a copy is used
only when its digest is the registry's (a target being updated has an older
one, a target still pulling has no manifest yet); a job skips its own server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ollama_webmgr.cluster.hardware import model_sources
from ollama_webmgr.ollama.names import DEFAULT_HOST, ModelName
from ollama_webmgr.ollama.urls import display_address

if TYPE_CHECKING:
    from ollama_webmgr.runtime.services import Services


def peer_params(services: Services, name: str) -> dict[str, Any]:
    """``peers`` and ``registry_url`` for the pull jobs (empty without peers)."""
    if ModelName.parse(name).host.casefold() != DEFAULT_HOST:
        return {}
    sources = model_sources(services.db)
    peers = [
        {"name": server.name, "models_url": sources[display_address(server.url)]}
        for server in services.servers.all()
        if display_address(server.url) in sources
    ]
    if not peers:
        return {}
    return {"peers": peers, "registry_url": services.settings.registry_url}
