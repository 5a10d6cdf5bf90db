"""ollama.com: search its library, and list a model's variants with their state
on one of our servers.

A variant says whether it is installed on the chosen server and whether that
copy matches ollama.com: the page's 12-hex id is the start of the manifest
digest, which is the local digest too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from ollama_webmgr.ollama.library import RemoteVariant, SearchPage
from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.usecases.probe import ask
from ollama_webmgr.usecases.servers import chosen_server

if TYPE_CHECKING:
    from ollama_webmgr.runtime.services import Services


class VariantStatus(TypedDict):
    """``installed`` / ``up_to_date``: None when unknown (server down, no id)."""

    installed: bool | None
    up_to_date: bool | None


def search_library(
    services: Services, query: str, *, capability: str | None, page: int
) -> SearchPage:
    """One page of ollama.com's search (``RemoteUnavailable`` when it is down)."""
    return services.library.search(query, capability=capability, page=page)


def local_digests(
    services: Services, server_name: str | None
) -> dict[tuple[str, ...], str] | None:
    """Installed model key → 12-hex id on the server, or None if it did not answer."""
    server = chosen_server(services.servers, server_name)
    outcome = ask(server, lambda client: client.tags(), services.clients)
    if outcome.value is None:
        return None
    return {_key(tag.name): tag.short_id for tag in outcome.value}


def variant_status(
    variant: RemoteVariant, installed: dict[tuple[str, ...], str] | None
) -> VariantStatus:
    if installed is None:
        return {"installed": None, "up_to_date": None}
    local = installed.get(_key(variant.name))
    if local is None:
        return {"installed": False, "up_to_date": None}
    same = local == variant.short_digest if variant.short_digest else None
    return {"installed": True, "up_to_date": same}


def variants_with_status(
    services: Services, model: str, server_name: str | None
) -> list[tuple[RemoteVariant, VariantStatus]]:
    """The tags of an ollama.com model, each with its state on the server."""
    variants = services.library.variants(model)
    installed = local_digests(services, server_name)
    return [(variant, variant_status(variant, installed)) for variant in variants]


def _key(name: str) -> tuple[str, ...]:
    return tuple(ModelName.parse(name).key)
