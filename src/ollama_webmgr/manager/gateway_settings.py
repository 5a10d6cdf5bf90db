"""The gateway's settings and API keys, kept in the ``config`` table.

Three documents: ``gateway_draining`` (the addresses of drained servers),
``gateway`` (the editable ``GatewayConfig`` fields) and
``gateway_api_keys`` (one entry per key: id, label, a short prefix to recognise
it, its SHA-256 and when it was made; the key itself is never stored). The
running ``GatewayConfig`` is updated in place, so every change applies at once.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, fields
from typing import Any

from ollama_webmgr.cluster.servers import ServerRegistry
from ollama_webmgr.gateway.auth import hash_api_key, new_api_key
from ollama_webmgr.gateway.config import GatewayConfig
from ollama_webmgr.ollama.urls import display_address
from ollama_webmgr.store.database import DatabaseManager, Doc, Where, now_iso

log = logging.getLogger(__name__)

CONFIG_KEY = "gateway"
KEYS_KEY = "gateway_api_keys"
DRAIN_KEY = "gateway_draining"
#: what the UI and ``PUT /api/gateway/config`` may change (keys have their own API)
EDITABLE = tuple(
    f.name
    for f in fields(GatewayConfig)
    if not f.name.startswith("_") and f.name != "api_key_hashes"
)
LABEL_MAX = 64


@dataclass(frozen=True)
class CreatedKey:
    """A new key: ``key`` is shown once, only ``entry`` is kept."""

    key: str
    entry: Doc


def editable_values(config: GatewayConfig) -> dict[str, Any]:
    values = config.as_dict()
    return {name: values[name] for name in EDITABLE}


def _document(db: DatabaseManager, key: str) -> Doc | None:
    found = db.find("config", [Where("key", "==", key)], limit=1)
    return found[0] if found else None


def stamp(db: DatabaseManager) -> tuple[str | None, ...]:
    """When each document last changed: a cheap "did another process edit it?"."""
    docs = [_document(db, key) for key in (CONFIG_KEY, KEYS_KEY, DRAIN_KEY)]
    return tuple(doc.get("updated_at") if doc else None for doc in docs)


def load_gateway_config(db: DatabaseManager, config: GatewayConfig) -> GatewayConfig:
    """Apply the stored settings and key hashes to ``config``.

    A stored value that no longer validates (an older version wrote it) is
    skipped with a warning rather than stopping the application.
    """
    doc = _document(db, CONFIG_KEY)
    stored = doc.get("value") if doc else None
    if isinstance(stored, dict):
        for name, value in stored.items():
            if name not in EDITABLE:
                continue
            try:
                config.update(**{name: value})
            except ValueError as exc:
                log.warning("ignoring stored gateway setting: %s", exc)
    config.update(api_key_hashes={entry["hash"] for entry in list_api_keys(db)})
    return config


def save_gateway_config(
    db: DatabaseManager, config: GatewayConfig, changes: dict[str, Any]
) -> dict[str, Any]:
    """Validate and apply ``changes`` (ValueError names the bad one), then store."""
    unknown = [name for name in changes if name not in EDITABLE]
    if unknown:
        raise ValueError(f"unknown gateway setting {unknown[0]!r}")
    config.update(**changes)
    values = editable_values(config)
    db.upsert("config", ["key"], {"key": CONFIG_KEY, "value": values})
    return values


def list_api_keys(db: DatabaseManager) -> list[Doc]:
    doc = _document(db, KEYS_KEY)
    value = doc.get("value") if doc else None
    keys = value.get("keys") if isinstance(value, dict) else None
    return [k for k in keys or [] if isinstance(k, dict) and "hash" in k]


def _store_keys(db: DatabaseManager, config: GatewayConfig, keys: list[Doc]) -> None:
    db.upsert("config", ["key"], {"key": KEYS_KEY, "value": {"keys": keys}})
    config.update(api_key_hashes={entry["hash"] for entry in keys})


def create_api_key(
    db: DatabaseManager, config: GatewayConfig, label: str
) -> CreatedKey:
    """Make a key, keep its hash; from now on the gateway requires a key."""
    key = new_api_key()
    entry = {
        "id": uuid.uuid4().hex[:12],
        "label": label,
        "prefix": key[:8],
        "hash": hash_api_key(key),
        "created_at": now_iso(),
    }
    _store_keys(db, config, [*list_api_keys(db), entry])
    return CreatedKey(key, entry)


def delete_api_key(db: DatabaseManager, config: GatewayConfig, key_id: str) -> bool:
    """False when no key has that id; deleting the last key turns keys off."""
    keys = list_api_keys(db)
    kept = [entry for entry in keys if entry.get("id") != key_id]
    if len(kept) == len(keys):
        return False
    _store_keys(db, config, kept)
    return True


def public_key(entry: Doc) -> Doc:
    """What the API shows of a stored key (never its hash)."""
    return {name: entry.get(name) for name in ("id", "label", "prefix", "created_at")}


def save_draining(db: DatabaseManager, registry: ServerRegistry) -> None:
    """Remember which servers are drained across restarts.

    Keyed by address (``host:port`` of the URL), the identity the ``servers``
    table keeps for a server: a name can change in the UI, the address cannot.
    """
    addresses = [display_address(s.url) for s in registry.all() if s.draining]
    db.upsert("config", ["key"], {"key": DRAIN_KEY, "value": {"addresses": addresses}})


def load_draining(db: DatabaseManager, registry: ServerRegistry) -> None:
    """Drain exactly the saved servers (at start, and when another process changed
    the list: ``manager/background.py``); a document of names (older versions) is
    converted to addresses once."""
    doc = _document(db, DRAIN_KEY)
    value = doc.get("value") if doc else None
    if not isinstance(value, dict):
        return
    by_address = {display_address(s.url): s for s in registry.all()}
    addresses = value.get("addresses")
    if not isinstance(addresses, list):
        names = set(value.get("servers") or [])
        addresses = [a for a, s in by_address.items() if s.name in names]
    for address, server in by_address.items():
        if server.draining != (address in addresses):
            registry.set_draining(server.name, address in addresses)
    if "addresses" not in value:
        save_draining(db, registry)
