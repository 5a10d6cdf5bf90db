"""Models of the fleet: list (cached), compare across servers, show, delete, copy.

Framework-free: every function takes the ``Services`` explicitly. Servers are
named as in the UI (``?server=<name>``; ``None`` means the primary, as
``usecases/servers.py`` defines it). Names are validated with Ollama's rules
before any request leaves; a change takes who acts and is audited.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.errors import JobNotFound, ModelNameTaken, OllamaError, WebmgrError
from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.ollama.payloads import ModelTag, ShowInfo
from ollama_webmgr.store.records import record_model_map
from ollama_webmgr.usecases.actor import Actor, audit
from ollama_webmgr.usecases.running import unload_until_gone
from ollama_webmgr.usecases.servers import ALL_SERVERS, chosen_server

if TYPE_CHECKING:
    from ollama_webmgr.jobs.runner import JobRunner
    from ollama_webmgr.runtime.services import Services

__all__ = ["ALL_SERVERS"]  # re-exported: the faces' "every server" choice
NameKey = tuple[str, str, str, str]


@lru_cache(maxsize=8192)
def name_key(name: str) -> NameKey:
    """Case-folded identity of a model name (raises InvalidModelName).

    >>> name_key("Qwen2.5") == name_key("registry.ollama.ai/library/qwen2.5:latest")
    True
    """
    return ModelName.parse(name).key


def normalised(name: str) -> str:
    """One spelling per model, for job dedupe keys.

    >>> normalised("Qwen2.5")
    'registry.ollama.ai/library/qwen2.5:latest'
    """
    host, namespace, model, tag = name_key(name)
    return f"{host}/{namespace}/{model}:{tag}"


def valid_name(name: object) -> str:
    """The display form of a submitted name; InvalidModelName for anything else."""
    return ModelName.parse(name.strip() if isinstance(name, str) else "").display


# -- listing ---------------------------------------------------------------


@dataclass(frozen=True)
class ServerModels:
    server: Server
    models: list[ModelTag]
    cached: bool


def _job_finished(services: Services, job_id: str) -> bool:
    return job_finished(services.runner, job_id)


def job_finished(runner: JobRunner, job_id: str) -> bool:
    """Has this job changed the server's models yet? (The web cache and the
    gateway of the process ask it of the pulls they watch.)

    A pull's ``success`` line is saved in the record before its terminal event
    goes out (the final record only after it), so a page that reacts to
    ``done`` at once already finds the listing stale.
    """
    try:
        job = runner.get(job_id)
    except JobNotFound:
        return True
    return job.finished or job.progress.status == "success"


def list_models(
    services: Services, server_name: str | None = None, *, refresh: bool = False
) -> ServerModels:
    """``/api/tags`` of one server, from the cache unless stale or ``refresh``."""
    return server_models(
        services, chosen_server(services.servers, server_name), refresh
    )


def server_models(services: Services, server: Server, refresh: bool) -> ServerModels:
    cached = None if refresh else _cached(services, server)
    return cached or _fetch(services, server)


def _cached(services: Services, server: Server) -> ServerModels | None:
    hit = services.models_cache.get(
        server.url,
        ttl=services.settings.models_cache_ttl,
        is_finished=lambda job_id: _job_finished(services, job_id),
    )
    return None if hit is None else ServerModels(server, hit, cached=True)


def _fetch(services: Services, server: Server) -> ServerModels:
    version = services.models_cache.version(server.url)
    tags = services.clients.get(server).tags()
    services.models_cache.put(server.url, tags, version=version)
    return ServerModels(server, tags, cached=False)


def _listings(
    services: Services, servers: list[Server], refresh: bool
) -> list[ServerModels | OllamaError]:
    """Each server's listing (or its error); the servers to ask are asked at once."""
    found: list[ServerModels | OllamaError | None] = [
        None if refresh else _cached(services, server) for server in servers
    ]
    missing = [i for i, listing in enumerate(found) if listing is None]

    def fetch(index: int) -> ServerModels | OllamaError:
        try:
            return _fetch(services, servers[index])
        except OllamaError as exc:
            return exc

    if len(missing) == 1:
        found[missing[0]] = fetch(missing[0])
    elif missing:
        with ThreadPoolExecutor(len(missing), thread_name_prefix="webmgr-tags") as pool:
            for index, listing in zip(missing, pool.map(fetch, missing), strict=True):
                found[index] = listing
    return [listing for listing in found if listing is not None]


@dataclass(frozen=True)
class FleetModel:
    """One model across the fleet: its copy on each server that has it."""

    name: str
    copies: dict[str, ModelTag]  # server name -> its /api/tags entry

    @property
    def drift(self) -> bool:
        """True when servers hold different versions (different digests)."""
        return len({tag.digest for tag in self.copies.values()}) > 1

    @property
    def size(self) -> int:
        return max(tag.size for tag in self.copies.values())

    @property
    def newest(self) -> ModelTag:
        """The most recently modified copy (what a row of the list shows)."""
        return max(
            self.copies.values(),
            key=lambda t: t.modified_at.timestamp() if t.modified_at else 0.0,
        )


@dataclass(frozen=True)
class FleetModels:
    servers: list[Server]
    models: list[FleetModel]
    #: servers that could not be listed: name -> the error
    failures: dict[str, OllamaError] = field(default_factory=dict)


def list_all(services: Services, *, refresh: bool = False) -> FleetModels:
    """Every model of every enabled server, grouped by name; drift flagged."""
    servers = services.servers.active()
    grouped: dict[NameKey, FleetModel] = {}
    failures: dict[str, OllamaError] = {}
    fresh = False
    for server, listing in zip(
        servers, _listings(services, servers, refresh), strict=True
    ):
        if isinstance(listing, OllamaError):
            failures[server.name] = listing
            continue
        fresh = fresh or not listing.cached
        for tag in listing.models:
            key = key_or_none(tag.model)
            if key is None:
                continue
            entry = grouped.setdefault(key, FleetModel(tag.model, {}))
            entry.copies[server.name] = tag
    models = sorted(grouped.values(), key=lambda m: m.name.casefold())
    if fresh:
        _record_map(services, models)
    return FleetModels(servers, models, failures)


def key_or_none(name: str) -> NameKey | None:
    try:
        return name_key(name)
    except WebmgrError:
        return None  # a name the server accepted but we cannot parse: skip it


def _record_map(services: Services, models: list[FleetModel]) -> None:
    for model in models:
        digests = {server: tag.digest for server, tag in model.copies.items()}
        if not services.models_cache.first_seen(model.name, digests):
            continue
        tag = model.newest
        record_model_map(
            services.db,
            model.name,
            digests,
            size=model.size,
            parameter_count=tag.details.parameter_size,
            quantization=tag.details.quantization_level,
        )


def holders(services: Services, name: str) -> dict[str, ModelTag]:
    """Which servers have model ``name`` (from the cached listings)."""
    key = name_key(name)
    found: dict[str, ModelTag] = {}
    servers = services.servers.active()
    for server, listing in zip(
        servers, _listings(services, servers, False), strict=True
    ):
        if isinstance(listing, OllamaError):
            continue
        for tag in listing.models:
            if key_or_none(tag.model) == key:
                found[server.name] = tag
    return found


# -- one model -------------------------------------------------------------


def show_model(services: Services, server_name: str | None, name: object) -> ShowInfo:
    model = valid_name(name)
    server = chosen_server(services.servers, server_name)
    return services.clients.get(server).show(model)


@dataclass(frozen=True)
class Deleted:
    server: Server
    model: str
    #: None: it was not loaded; True: unloaded first; False: still busy, it
    #: leaves memory when its requests end
    unloaded: bool | None


def delete_model(
    services: Services, actor: Actor, server_name: str | None, name: object
) -> Deleted:
    """Delete a model; one loaded in memory is unloaded first.

    Ollama's delete leaves a loaded model in memory, where nothing can unload it
    any more (an unload request for a deleted model answers 404).
    """
    model = valid_name(name)
    server = chosen_server(services.servers, server_name)
    client = services.clients.get(server)
    try:
        unloaded = unload_until_gone(client, model)
        client.delete(model)
    finally:
        services.models_cache.invalidate(server.url)
    details: dict[str, object] = {"server": server.name}
    if unloaded is not None:
        details["unloaded"] = unloaded
    audit(services.db, actor, "model.delete", model, details)
    return Deleted(server, model, unloaded)


def copy_model(
    services: Services,
    actor: Actor,
    server_name: str | None,
    source: object,
    destination: object,
    *,
    overwrite: bool = False,
) -> Server:
    """Copy ``source`` to ``destination`` on one server.

    An existing ``destination`` (another model) is refused unless ``overwrite``.
    """
    src, dst = valid_name(source), valid_name(destination)
    server = chosen_server(services.servers, server_name)
    client = services.clients.get(server)
    if not overwrite and name_key(src) != name_key(dst):
        installed = {key_or_none(tag.model) for tag in client.tags()}
        if name_key(dst) in installed:
            raise ModelNameTaken(dst, server.name)
    try:
        client.copy(src, dst)
    finally:
        services.models_cache.invalidate(server.url)
    details = {"server": server.name, "destination": dst}
    audit(services.db, actor, "model.copy", src, details)
    return server


def rename_model(
    services: Services,
    actor: Actor,
    server_name: str | None,
    source: object,
    destination: object,
) -> Server:
    """Copy then delete the source: Ollama has no rename (both are audited)."""
    server = copy_model(services, actor, server_name, source, destination)
    delete_model(services, actor, server.name, source)
    return server
