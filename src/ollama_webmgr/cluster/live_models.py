"""What the health monitor last saw of each server's models, as plain data.

The model map in the store (``manager/reconcile.py: sync_model_map``) is
written from it: in the process that probes, or by a gateway worker's
supervisor, which probes nothing and receives it over the worker's pipe
(``runtime/worker_link.py``).
"""

from __future__ import annotations

from typing import Any

from ollama_webmgr.cluster.health import HealthMonitor
from ollama_webmgr.cluster.servers import ServerRegistry
from ollama_webmgr.ollama.urls import display_address

#: address (``host:port``) -> the model entries of its last ``/api/tags``
AnsweredModels = dict[str, list[dict[str, Any]]]


def answered(monitor: HealthMonitor, name: str) -> bool:
    """The last probe of server ``name`` succeeded and its models are known."""
    breaker = monitor.breaker(name)
    return breaker.healthy and breaker.failures == 0 and monitor.models.known(name)


def answered_models(registry: ServerRegistry, monitor: HealthMonitor) -> AnsweredModels:
    """The models of each enabled server that answered; the others are left out
    (the store keeps what was known of them)."""
    return {
        display_address(server.url): list(monitor.models.tags_of(server.name))
        for server in registry.active()
        if answered(monitor, server.name)
    }
