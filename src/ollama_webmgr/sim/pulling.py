"""``POST /api/pull``: Ollama's status sequence with simulated bandwidth."""

from __future__ import annotations

import time
from collections.abc import Iterator

from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.sim.catalog import Layer
from ollama_webmgr.sim.state import SimState

TICK = 0.06  # Ollama reports blob progress on a 60 ms ticker
UNKNOWN_MODEL = "pull model manifest: file does not exist"

Status = dict[str, object]


def _progress(layer: Layer, completed: int) -> Status:
    line: Status = {
        "status": f"pulling {layer.digest[7:19]}",
        "digest": layer.digest,
        "total": layer.size,
    }
    if completed:  # omitempty
        line["completed"] = completed
    return line


def _download(state: SimState, layer: Layer) -> Iterator[Status]:
    """Progress lines for one blob; on close the download keeps its progress."""
    with state.lock:
        present = layer.digest in state.blobs
    if present:
        yield _progress(layer, layer.size)
        return
    download = state.join_download(layer.digest, layer.size)
    try:
        next_tick = time.monotonic() + TICK
        while True:
            finish = download.finish_time()
            if finish <= next_tick:
                time.sleep(max(0.0, finish - time.monotonic()))
                return
            time.sleep(max(0.0, next_tick - time.monotonic()))
            next_tick += TICK
            with state.lock:
                shown = state.faults.pulled(download, time.monotonic())
            if shown is not None:
                yield _progress(layer, shown)
    finally:
        state.leave_download(download)


def pull_statuses(state: SimState, name: ModelName) -> Iterator[Status]:
    """Every status object of one pull; errors come as an ``{"error"}`` object."""
    yield {"status": "pulling manifest"}
    entry = state.registry.lookup(name.display)
    if entry is None:
        yield {"error": UNKNOWN_MODEL}
        return
    for layer in [*entry.layers(), entry.config]:
        yield from _download(state, layer)
    yield {"status": "verifying sha256 digest"}
    yield {"status": "writing manifest"}
    with state.lock:
        previous = state.installed.get(name.key)
        state.install(name, entry)
        stale = previous.blob_digests() if previous else set()
        unused = state.unused_blobs(stale)
        state.blobs -= unused
    if unused:
        yield {"status": "removing unused layers"}
    yield {"status": "success"}
