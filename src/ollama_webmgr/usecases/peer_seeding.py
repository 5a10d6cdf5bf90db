"""Which other servers may serve a pulled model over the LAN (their agents).

A server whose node agent runs with ``--serve-models`` reports the port in
``GetSystemInfo`` (stored with its hardware); a pull job to another server
gets those servers as ``peers`` and, at run time, takes the model from one
whose copy has the registry's current digest (``jobs/peer_seeding.py``).
Only registry models; the pull's own targets are no peers (their copies are
the ones being replaced).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ollama_webmgr.cluster.hardware import model_sources
from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.ollama.names import DEFAULT_HOST, ModelName
from ollama_webmgr.ollama.urls import display_address

if TYPE_CHECKING:
    from ollama_webmgr.runtime.services import Services


def peer_params(
    services: Services, name: str, targets: Sequence[Server]
) -> dict[str, Any]:
    """``peers`` and ``registry_url`` for the pull jobs (empty without peers)."""
    if ModelName.parse(name).host.casefold() != DEFAULT_HOST:
        return {}
    sources = model_sources(services.db)
    pulled = {target.name for target in targets}
    peers = [
        {"name": server.name, "models_url": sources[display_address(server.url)]}
        for server in services.servers.all()
        if server.name not in pulled and display_address(server.url) in sources
    ]
    if not peers:
        return {}
    return {"peers": peers, "registry_url": services.settings.registry_url}
