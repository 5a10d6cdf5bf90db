"""The gateway's settings, drain switches and API keys: use cases and storage.

The use cases (``change_settings``, ``set_draining``, ``issue_api_key``,
``revoke_api_key``) take who acts and write the audit; both faces call them
(the « Passerelle » page and ``/api/gateway/...``).

They are kept in the ``config`` table, in three documents: ``gateway_draining`` (the addresses of drained servers),
``gateway`` (the editable ``GatewayConfig`` fields) and
``gateway_api_keys`` (one entry per key: id, label, a short prefix to recognise
it, its SHA-256 and when it was made; the key itself is never stored). The
running ``GatewayConfig`` is updated in place, so every change applies at once;
other processes read the documents again within seconds (``ConfigSync``), or
have them pushed by their supervisor (``read_snapshot``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from ollama_webmgr.cluster.saved_fleet import fleet_fingerprint, load_registry
from ollama_webmgr.cluster.servers import Server, ServerRegistry
from ollama_webmgr.errors import (
    InvalidApiKeyLabel,
    InvalidGatewaySetting,
    InvalidGatewaySettings,
    SettingReason,
    UnknownApiKey,
)
from ollama_webmgr.gateway.auth import hash_api_key, new_api_key
from ollama_webmgr.gateway.config import SETTING_KINDS as config_kinds
from ollama_webmgr.gateway.config import GatewayConfig
from ollama_webmgr.gateway.snapshot import (
    GatewaySnapshot,
    apply_draining,
    apply_settings,
)
from ollama_webmgr.ollama.urls import display_address
from ollama_webmgr.store.database import DatabaseManager, Doc, Where, now_iso
from ollama_webmgr.usecases import download_settings
from ollama_webmgr.usecases.actor import Actor, audit
from ollama_webmgr.usecases.servers import find_server

if TYPE_CHECKING:
    from ollama_webmgr.runtime.services import Services

log = logging.getLogger(__name__)

CONFIG_KEY = "gateway"
KEYS_KEY = "gateway_api_keys"
DRAIN_KEY = "gateway_draining"
#: what the UI and ``PUT /api/gateway/config`` may change (keys have their own API)
#: set from other documents, never through the gateway's settings
RUNTIME_ONLY = ("api_key_hashes", "seed_fleet_rate")
EDITABLE = tuple(
    f.name
    for f in fields(GatewayConfig)
    if not f.name.startswith("_") and f.name not in RUNTIME_ONLY
)
LABEL_MAX = 64
#: what each setting takes, which is what a refusal of its value says
#: (``GatewayConfig`` declares it beside the checks)
SETTING_KINDS: dict[str, SettingReason] = {
    name: kind for name, kind in config_kinds.items() if name in EDITABLE
}


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
    keys = (CONFIG_KEY, KEYS_KEY, DRAIN_KEY, download_settings.CONFIG_KEY)
    docs = [_document(db, key) for key in keys]
    return tuple(doc.get("updated_at") if doc else None for doc in docs)


def stored_settings(db: DatabaseManager) -> dict[str, Any]:
    """The stored editable settings, as stored (``apply_settings`` checks them)."""
    doc = _document(db, CONFIG_KEY)
    stored = doc.get("value") if doc else None
    if not isinstance(stored, dict):
        return {}
    return {name: value for name, value in stored.items() if name in EDITABLE}


def stored_key_hashes(db: DatabaseManager) -> frozenset[str]:
    return frozenset(entry["hash"] for entry in list_api_keys(db))


class SnapshotWatch:
    """``poll()``: a fresh ``read_snapshot`` when another process changed the
    settings, keys, drained servers or the fleet since the last poll (or since
    the watch was made), else None."""

    def __init__(self, db: DatabaseManager, configured: Sequence[str]) -> None:
        self._db = db
        self._configured = tuple(configured)
        self._seen = self._marks()

    def poll(self) -> GatewaySnapshot | None:
        marks = self._marks()
        if marks == self._seen:
            return None
        self._seen = marks
        return read_snapshot(self._db, self._configured)

    def _marks(self) -> tuple[object, ...]:
        return (stamp(self._db), fleet_fingerprint(self._db))


def load_gateway_config(db: DatabaseManager, config: GatewayConfig) -> GatewayConfig:
    """Apply the stored settings and key hashes to ``config`` (a stored value
    that no longer validates is skipped with a warning)."""
    apply_settings(config, stored_settings(db), stored_key_hashes(db))
    return config


def read_snapshot(db: DatabaseManager, configured: Sequence[str]) -> GatewaySnapshot:
    """Everything a gateway takes from the store, for ``apply_snapshot`` here
    or in a worker (``runtime/worker_link.py``); ``configured``: the servers of
    the environment (``Settings.servers``)."""
    registry = load_registry(configured, db)
    return GatewaySnapshot(
        settings=stored_settings(db),
        key_hashes=stored_key_hashes(db),
        servers=tuple(registry.all()),
        draining=stored_draining(db, registry),
        fleet_rate=download_settings.stored_fleet_rate(db),
    )


def save_gateway_config(
    db: DatabaseManager, config: GatewayConfig, changes: dict[str, Any]
) -> dict[str, Any]:
    """Validate and apply ``changes`` (``InvalidGatewaySetting`` names the bad
    one), then store."""
    unknown = [name for name in changes if name not in EDITABLE]
    if unknown:
        raise InvalidGatewaySetting(unknown[0], "unknown_setting", allowed=EDITABLE)
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


def stored_draining(
    db: DatabaseManager, registry: ServerRegistry
) -> tuple[str, ...] | None:
    """The addresses of the saved drained servers (None: never saved); a
    document of names (older versions) is read through ``registry``."""
    doc = _document(db, DRAIN_KEY)
    value = doc.get("value") if doc else None
    if not isinstance(value, dict):
        return None
    addresses = value.get("addresses")
    if isinstance(addresses, list):
        return tuple(str(a) for a in addresses)
    names = set(value.get("servers") or [])
    return tuple(display_address(s.url) for s in registry.all() if s.name in names)


def load_draining(db: DatabaseManager, registry: ServerRegistry) -> None:
    """Drain exactly the saved servers (at start); a document of names (older
    versions) is converted to addresses once."""
    addresses = stored_draining(db, registry)
    if addresses is None:
        return
    apply_draining(registry, addresses)
    doc = _document(db, DRAIN_KEY)
    if doc is not None and "addresses" not in doc["value"]:
        save_draining(db, registry)


# -- use cases -------------------------------------------------------------


def setting_refusals(changes: Mapping[str, Any]) -> list[InvalidGatewaySetting]:
    """Each refused setting of ``changes``, in order (none: [])."""
    refusals = []
    for name, value in changes.items():
        if name not in EDITABLE:
            refusals.append(
                InvalidGatewaySetting(name, "unknown_setting", allowed=EDITABLE)
            )
            continue
        try:
            GatewayConfig().update(**{name: value})
        except InvalidGatewaySetting as exc:
            refusals.append(exc)
    return refusals


def setting_problems(changes: Mapping[str, Any]) -> dict[str, SettingReason]:
    """Each refused setting of ``changes`` with its reason, in order (none: {})."""
    return {r.setting: r.reason for r in setting_refusals(changes)}


def change_settings(
    services: Services, actor: Actor, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Apply gateway settings at once and keep them; the settings as they now are.

    All or nothing: ``InvalidGatewaySettings`` names every refused one. The
    audit records the settings whose value changed (none: no entry).
    """
    refusals = setting_refusals(changes)
    if refusals:
        raise InvalidGatewaySettings.of(refusals, known=EDITABLE)
    config = services.gateway.app.config
    current = editable_values(config)
    changed = {name: value for name, value in changes.items() if current[name] != value}
    values = save_gateway_config(services.db, config, changed)
    if changed:
        audit(services.db, actor, "gateway.config", "gateway", changed)
    return values


def set_draining(
    services: Services, actor: Actor, server_name: str, draining: bool
) -> Server:
    """Drain a server (no new requests, running ones finish) or put it back."""
    server = find_server(services.servers, server_name)
    updated = services.servers.set_draining(server.name, draining)
    save_draining(services.db, services.servers)
    audit(services.db, actor, "gateway.drain", server.name, {"draining": draining})
    return updated


def issue_api_key(services: Services, actor: Actor, label: str) -> CreatedKey:
    """A new gateway API key named ``label`` (1 to ``LABEL_MAX`` characters);
    from now on the gateway asks every client for a key."""
    label = label.strip()
    if not 1 <= len(label) <= LABEL_MAX:
        raise InvalidApiKeyLabel(LABEL_MAX)
    created = create_api_key(services.db, services.gateway.app.config, label)
    audit(services.db, actor, "gateway.key.create", created.entry["id"])
    return created


def revoke_api_key(services: Services, actor: Actor, key_id: str) -> None:
    """Delete a key (``UnknownApiKey`` if none has that id); deleting the last
    one lets clients in without a key again."""
    if not delete_api_key(services.db, services.gateway.app.config, key_id):
        raise UnknownApiKey(key_id)
    audit(services.db, actor, "gateway.key.delete", key_id)


def api_keys(services: Services) -> list[Doc]:
    """The keys as they may be shown (never their hash)."""
    return [public_key(entry) for entry in list_api_keys(services.db)]
