"""The fleet as the store keeps it: configured servers plus those added in the UI.

Servers come from two places. ``OLLAMA_BASE_URL`` and ``OLLAMA_SERVERS`` (the
environment) are always there: the UI may rename or disable them, not remove
them, since the next start would bring them back. Servers added in the UI live
only in the store. Both kinds keep their UI state in the ``servers`` table, in
the document of their ``address`` (the one the health monitor writes), under a
``fleet`` field: ``{"url", "name", "enabled", "weight", "origin"}``.

Every process loads the fleet from here at start and reloads it when another
process changed it; the changes themselves are use cases
(``usecases/fleet.py``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence

from ollama_webmgr.cluster.servers import Server, ServerRegistry
from ollama_webmgr.errors import InvalidServerName, InvalidServerUrl, ServerNameTaken
from ollama_webmgr.ollama.urls import display_address, normalize_base_url
from ollama_webmgr.store.database import DatabaseManager, Doc, Where

log = logging.getLogger(__name__)

TABLE = "servers"
ORIGIN_ENV = "env"
ORIGIN_UI = "ui"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


def validate_name(name: str) -> str:
    """The name, stripped; ``InvalidServerName`` unless it fits ``?server=``/URLs.

    >>> validate_name(" gpu-1 ")
    'gpu-1'
    >>> validate_name("a b")
    Traceback (most recent call last):
    ...
    ollama_webmgr.errors.InvalidServerName: invalid server name 'a b'
    """
    name = name.strip()
    if not _NAME.match(name):
        raise InvalidServerName(f"invalid server name {name!r}")
    return name


def load_registry(configured: Sequence[str], db: DatabaseManager) -> ServerRegistry:
    """The configured servers (in order, with their saved UI state) then the UI ones."""
    registry = ServerRegistry.from_urls(configured)
    saved = {doc["address"]: doc["fleet"] for doc in _fleet_docs(db)}
    for server in registry.all():
        state = saved.pop(display_address(server.url), None)
        if state is not None:
            _apply_saved(registry, server, state)
    for state in saved.values():
        if state.get("origin") == ORIGIN_UI:  # else: gone from the environment
            _restore(registry, state)
    return registry


def fleet_fingerprint(db: DatabaseManager) -> list[tuple[str, str]]:
    """The saved fleet in a comparable form: changes when a process edits it."""
    return sorted(
        (str(doc["address"]), json.dumps(doc["fleet"], sort_keys=True, default=str))
        for doc in _fleet_docs(db)
    )


def reload_registry(
    registry: ServerRegistry, configured: Sequence[str], db: DatabaseManager
) -> None:
    """Make ``registry`` the fleet saved in the store (added, removed, renamed,
    switched or weighted servers through another web worker or process)."""
    registry.replace_all(load_registry(configured, db).all())


def save_server(db: DatabaseManager, server: Server, *, configured: bool) -> None:
    """Keep a server's UI state (its name, switch and weight) in the store."""
    state = {
        "url": server.url,
        "name": server.name,
        "enabled": server.enabled,
        "weight": server.weight,
        "origin": ORIGIN_ENV if configured else ORIGIN_UI,
    }
    db.upsert(
        TABLE, ["address"], {"address": display_address(server.url), "fleet": state}
    )


def documents_of(db: DatabaseManager, url: str) -> list[Doc]:
    """The ``servers`` documents of the server at ``url`` (by its address)."""
    return db.find(TABLE, [Where("address", "==", display_address(url))])


def forget_server(db: DatabaseManager, url: str) -> None:
    """Drop a removed server's UI state (its health history stays)."""
    for doc in documents_of(db, url):
        db.update(TABLE, doc["id"], {"fleet": None})


def _fleet_docs(db: DatabaseManager) -> list[Doc]:
    return [doc for doc in db.find(TABLE) if isinstance(doc.get("fleet"), dict)]


def _restore(registry: ServerRegistry, state: Doc) -> None:
    """Add a saved UI server; a configured server that took its name meanwhile
    wins and the saved one gets a suffix (``gpu-2``) rather than vanishing."""
    try:
        base = validate_name(str(state["name"]))
        url = normalize_base_url(str(state["url"]))
    except (KeyError, InvalidServerName, InvalidServerUrl) as exc:
        log.warning("saved server %r skipped: %s", state.get("name"), exc)
        return
    taken = {server.name for server in registry.all()}
    name = base
    for n in range(2, 100):
        if name not in taken:
            break
        name = f"{base[:60]}-{n}"
    try:
        registry.add(
            Server(
                name,
                url,
                weight=int(state.get("weight", 1)),
                enabled=bool(state.get("enabled", True)),
            )
        )
    except (ServerNameTaken, ValueError) as exc:  # ValueError: a negative weight
        log.warning("saved server %r skipped: %s", name, exc)


def _apply_saved(registry: ServerRegistry, server: Server, state: Doc) -> None:
    """Replay the UI changes of a configured server (name, switch, weight)."""
    name = str(state.get("name") or server.name)
    if name != server.name:
        try:
            server = registry.rename(server.name, name)
        except ServerNameTaken as exc:
            log.warning("saved name of %s ignored: %s", server.url, exc)
    registry.update(
        server.name,
        enabled=bool(state.get("enabled", True)),
        weight=int(state.get("weight", server.weight)),
    )
