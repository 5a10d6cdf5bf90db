"""One node's part of a seeding: the model through the manager's seed cache.

A pull job whose params carry a ``seed_id`` (``usecases/seeding.py`` submits
one per node) first makes sure the cache holds the model (``SeedCache``: the
manifest once per seeding, each blob once, whichever job gets there first
fetching it from the registry while the others wait for it), then asks its
node to pull ``<cache host:port>/<ns>/<model>:<tag>`` with ``insecure``,
copies it to its canonical name and deletes the temporary one. Ollama keeps
the manifest bytes it pulled, so the node's digest is the registry's.

The result says where the node's bytes came from: ``registry`` when this job
fetched any from the registry, else ``cache``, with the bytes it saved.

When the cache does not answer the seeding's manifest (the web app is not
served at ``SEED_CACHE_URL``, or another is), or the node cannot reach it
(its pull fails naming the cache's address), the node pulls directly
from the registry, as a single-server pull does; the job says so
(``fallback``) rather than fail a pull that could succeed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ollama_webmgr.errors import OllamaStreamError, RemoteUnavailable
from ollama_webmgr.jobs.context import TaskContext
from ollama_webmgr.jobs.model_tasks import adopt, task_client, watched_pull
from ollama_webmgr.jobs.pull_watchdog import WatchdogPolicy
from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.ollama.seed_cache import SeedCache, SeedError
from ollama_webmgr.ollama.seed_plan import cache_name, node_cannot_reach, serves

FILLING = "filling seed cache"
FROM_REGISTRY = "registry"
FROM_CACHE = "cache"
CACHE_UNREACHABLE = "seed cache unreachable"
NODE_CANNOT_REACH = "seed cache unreachable from the node"


def seeded_pull(params: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    name = ModelName.parse(str(params["model"]))
    cache_url = str(params["seed_cache_url"])
    policy = WatchdogPolicy.from_params(params)
    registry_url = str(params["registry_url"])
    cache = SeedCache(Path(str(params["seed_dir"])))
    ctx.report("status", {"status": FILLING})
    try:
        seeding = cache.open_seeding(str(params["seed_id"]), name, registry_url)
        if not serves(cache_url, seeding):
            return _direct(params, ctx, name, policy, CACHE_UNREACHABLE)
        fetched = cache.fill(
            seeding,
            registry_url,
            progress=lambda digest, done, total: _filled(ctx, digest, done, total),
            cancelled=ctx.cancelled,
        )
    except SeedError as error:
        ctx.check_cancelled()
        raise RemoteUnavailable(f"seed cache: {error}") from None
    temporary = cache_name(cache_url, name)
    with task_client(params) as client:
        try:
            watched_pull(client, temporary, policy, ctx, insecure=True)
        except OllamaStreamError as error:
            if not node_cannot_reach(cache_url, error.message):
                raise
            # the node cannot reach the cache (SEED_CACHE_URL): it pulls directly
            return _direct(params, ctx, name, policy, NODE_CANNOT_REACH)
        adopt(client, temporary, name)
    return {
        "status": "success",
        "model": name.display,
        "source": FROM_REGISTRY if fetched else FROM_CACHE,
        "size": seeding.size,
        "fetched": fetched,
        "saved": max(0, seeding.size - fetched),
    }


def _direct(
    params: dict[str, Any],
    ctx: TaskContext,
    name: ModelName,
    policy: WatchdogPolicy,
    why: str,
) -> dict[str, Any]:
    """The node pulls from the registry itself (the cache is out of its reach)."""
    ctx.report("status", {"status": why})
    with task_client(params) as client:
        watched_pull(client, name.display, policy, ctx)
    return {
        "status": "success",
        "model": name.display,
        "source": FROM_REGISTRY,
        "fallback": why,
    }


def _filled(ctx: TaskContext, digest: str, completed: int, total: int) -> None:
    ctx.report(
        "progress",
        {"status": FILLING, "digest": digest, "total": total, "completed": completed},
    )
