"""What a gateway needs from the store, as one value: its settings, key hashes,
the fleet and the drained servers.

A process that owns the store reads it (``usecases.gateway_settings.read_snapshot``);
``apply_snapshot`` makes a running gateway follow it. A process alone does
both (``ConfigSync``); a gateway worker receives it from its supervisor
(``runtime/worker_link.py``) and never opens the store.

>>> from ollama_webmgr.cluster.servers import Server, ServerRegistry
>>> registry, config = ServerRegistry(), GatewayConfig()
>>> snapshot = GatewaySnapshot(
...     settings={"strategy": "round_robin", "max_attempts": 0},
...     key_hashes=frozenset({"h"}),
...     servers=(Server("a", "http://a:11434"), Server("b", "http://b:11434")),
...     draining=("b:11434",),
... )
>>> apply_snapshot(snapshot, config, registry)
>>> config.strategy, config.max_attempts, config.api_key_hashes
('round_robin', 3, frozenset({'h'}))
>>> [(s.name, s.draining) for s in registry.all()]
[('a', False), ('b', True)]
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ollama_webmgr.cluster.servers import Server, ServerRegistry
from ollama_webmgr.errors import InvalidGatewaySetting
from ollama_webmgr.gateway.config import GatewayConfig
from ollama_webmgr.ollama.urls import display_address

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GatewaySnapshot:
    """``settings``: the stored editable values (checked when applied);
    ``draining``: addresses (``host:port``) of drained servers, None when
    nothing was ever saved (each server keeps its switch); ``fleet_rate``: the
    fleet's download cap, which the gateway's seeded pulls keep to."""

    settings: Mapping[str, Any]
    key_hashes: frozenset[str]
    servers: tuple[Server, ...]
    draining: tuple[str, ...] | None
    fleet_rate: float | None = None  # the download cap (``download_settings``)


def apply_settings(
    config: GatewayConfig, settings: Mapping[str, Any], key_hashes: frozenset[str]
) -> None:
    """Apply stored values one by one: one that no longer validates (an older
    version wrote it) is skipped with a warning rather than stopping anything."""
    for name, value in settings.items():
        try:
            config.update(**{name: value})
        except InvalidGatewaySetting as exc:
            log.warning("ignoring stored gateway setting: %s", exc)
    config.update(api_key_hashes=key_hashes)


def apply_draining(registry: ServerRegistry, addresses: tuple[str, ...]) -> None:
    """Drain exactly the servers at ``addresses``."""
    for server in registry.all():
        wanted = display_address(server.url) in addresses
        if server.draining != wanted:
            registry.set_draining(server.name, wanted)


def apply_snapshot(
    snapshot: GatewaySnapshot, config: GatewayConfig, registry: ServerRegistry
) -> None:
    """Make a running gateway's ``config`` and ``registry`` follow ``snapshot``
    (a server keeps its limit, and its switch when nothing was saved)."""
    registry.replace_all(snapshot.servers)
    apply_settings(config, snapshot.settings, snapshot.key_hashes)
    config.update(seed_fleet_rate=snapshot.fleet_rate)
    if snapshot.draining is not None:
        apply_draining(registry, snapshot.draining)
