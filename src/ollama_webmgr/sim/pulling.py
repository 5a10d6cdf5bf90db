"""``POST /api/pull``: the manifest and the blobs over HTTP, Ollama's statuses.

As Ollama (contract §5): ``pulling manifest`` (``GET`` of the manifest from the
host the model names, see ``upstream``), then each layer in manifest order and
the config blob last: one line when the blob is already there, else a
``pulling <12 hex>`` line every 60 ms while ``downloading`` fetches it; then
``verifying sha256 digest`` (each downloaded blob hashed; a mismatch deletes
it and ends with Ollama's error), ``writing manifest`` (the registry's bytes),
``removing unused layers`` when an update left some, ``success``.
A client that goes away leaves the blob downloads at once (Ollama's request
context is cancelled): the last one to leave stops a download, keeping its parts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import replace

from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.sim import downloading
from ollama_webmgr.sim.catalog import CatalogModel, find_variant
from ollama_webmgr.sim.downloading import PullError
from ollama_webmgr.sim.responses import never_gone
from ollama_webmgr.sim.state import SimState
from ollama_webmgr.sim.upstream import (
    UNKNOWN_MODEL,
    base_url,
    blob_url,
    fetch_manifest,
)

TICK = 0.06  # Ollama reports blob progress on a 60 ms ticker
POLL = 0.01  # a finished download is seen this soon (a client gone: at once)
__all__ = ["TICK", "UNKNOWN_MODEL", "pull_statuses"]

Status = dict[str, object]


def _progress(digest: str, total: int, completed: int) -> Status:
    line: Status = {"status": f"pulling {digest[7:19]}", "digest": digest}
    if total:  # omitempty
        line["total"] = total
    if completed:
        line["completed"] = completed
    return line


class ClientGone(ConnectionResetError):
    """The pull's client closed its connection (servers drop such a response)."""


def _download(
    state: SimState,
    url: str,
    digest: str,
    size: int,
    gone: Callable[[float], bool],
) -> Generator[Status, None, bool]:
    """Progress lines for one blob; True when it was downloaded (not cached)."""
    with state.lock:
        present = digest in state.blobs
    if present:
        held = state.store.size(digest)
        yield _progress(digest, held or size, held or size)
        return False
    download = downloading.join(state, digest, url, size)
    try:
        next_line = time.monotonic() + TICK
        while not download.done.is_set():
            if gone(POLL):
                raise ClientGone("the client closed the connection")
            if time.monotonic() < next_line:
                continue
            next_line += TICK
            with state.lock:
                shown = state.faults.pulled(download, time.monotonic())
            if shown is not None:
                yield _progress(digest, download.total, shown)
    finally:
        downloading.leave(state, download)
    if download.error is not None:
        raise PullError(download.error)
    return True


def pull_statuses(
    state: SimState,
    name: ModelName,
    *,
    insecure: bool = False,
    client_gone: Callable[[float], bool] = never_gone,
) -> Iterator[Status]:
    """Every status object of one pull; errors come as an ``{"error"}`` object."""
    yield {"status": "pulling manifest"}
    try:
        base = base_url(state, name, insecure=insecure)
        manifest = fetch_manifest(state, base, name)
        body = json.loads(manifest)
        blobs = [*body["layers"], body["config"]]
        fetched = []
        for blob in blobs:
            digest, size = str(blob["digest"]), int(blob["size"])
            url = blob_url(base, name, digest)
            if (yield from _download(state, url, digest, size, client_gone)):
                fetched.append(digest)
        yield {"status": "verifying sha256 digest"}
        _verify(state, fetched)
    except PullError as error:
        yield {"error": str(error)}
        return
    entry = _catalog_entry(state, name, manifest)
    if entry is None:
        yield {"error": UNKNOWN_MODEL}
        return
    yield {"status": "writing manifest"}
    with state.lock:
        previous = state.installed.get(name.key)
        state.install(name, entry, manifest)
        stale = previous.blob_digests() if previous else set()
        unused = state.unused_blobs(stale)
        state.prune(unused)
    if unused:
        yield {"status": "removing unused layers"}
    yield {"status": "success"}


def _verify(state: SimState, digests: list[str]) -> None:
    for digest in digests:
        actual = state.store.actual_digest(digest)
        if actual != digest:
            state.prune({digest})
            raise PullError(
                "digest mismatch, file must be downloaded again:"
                f" want {digest}, got {actual}"
            )


def _catalog_entry(
    state: SimState, name: ModelName, manifest: bytes
) -> CatalogModel | None:
    """The catalogue model whose manifest the registry sent (show, details...).

    The node's registry usually is the one it pulled from; another one (an
    insecure host, another process) may be at another revision: the one whose
    manifest is these bytes is looked for, else the current one stands in.
    """
    found = find_variant(name.model, name.tag)
    if found is None:
        return None
    current = state.registry.lookup(f"{found[0].model}:{name.tag}")
    if current is None:
        return None
    for revision in [current.revision, *range(current.revision + 8)]:
        candidate = replace(current, revision=revision)
        if candidate.manifest_bytes() == manifest:
            return candidate
    return current
