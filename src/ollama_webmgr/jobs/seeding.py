"""One node's part of a seeding: the model through the manager's seed cache.

A pull job whose params carry a ``seed_id`` (``usecases/seeding.py`` submits
one per node) first makes sure the cache holds the model (``SeedCache``: the
manifest once per seeding, each blob once, whichever job gets there first
fetching it from the registry while the others wait for it), then asks its
node to pull ``<cache host:port>/<ns>/<model>:<tag>`` with ``insecure``,
copies it to its canonical name and deletes the temporary one. Ollama keeps
the manifest bytes it pulled, so the node's digest is the registry's.

With a fleet cap (``fleet_rate``, bytes/s), the cache's downloads from the
registry draw from the shared budget (``ollama/bandwidth.py``); the fill's
progress events then carry the line's use (``fleet_in_use``, ``fleet_cap``,
``flows``) and ``waiting`` while another job fetches the blob this one needs.
A single-server pull is seeded too then, so that the cap applies.

The result says where the node's bytes came from: ``registry`` when this job
fetched any from the registry, else ``cache``, with the bytes it saved.

When the cache does not answer the seeding's manifest (the web app is not
served at ``SEED_CACHE_URL``, or another is), or the node cannot reach it
(its pull fails naming the cache's address), the node pulls directly
from the registry, as a single-server pull does; the job says so
(``fallback``) rather than fail a pull that could succeed; under a fleet cap,
the result and the status add that the cap could not be applied
(``cap_not_applied``).
"""

from __future__ import annotations

import time
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
#: added to a fallback's status when a fleet cap could not be applied
CAP_NOT_APPLIED = ", cap not applied"
#: seconds between two reads of the budget's use for the progress events
_USE_EVERY = 0.5


def seeded_pull(params: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    name = ModelName.parse(str(params["model"]))
    cache_url = str(params["seed_cache_url"])
    policy = WatchdogPolicy.from_params(params)
    registry_url = str(params["registry_url"])
    rate = params.get("fleet_rate")
    cache = SeedCache(
        Path(str(params["seed_dir"])),
        rate=float(rate) if isinstance(rate, int | float) else None,
    )
    ctx.report("status", {"status": FILLING})
    report = _FillReport(ctx, cache)
    try:
        seeding = cache.open_seeding(str(params["seed_id"]), name, registry_url)
        if not serves(cache_url, seeding):
            return _direct(params, ctx, name, policy, CACHE_UNREACHABLE)
        fetched = cache.fill(
            seeding,
            registry_url,
            progress=report.filled,
            cancelled=ctx.cancelled,
            waiting=report.waiting,
        )
    except SeedError as error:
        ctx.check_cancelled()
        raise RemoteUnavailable(f"seed cache: {error}") from None
    temporary = cache_name(cache_url, name, str(params["server_url"]))
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
    capped = bool(params.get("fleet_rate"))
    ctx.report("status", {"status": why + (CAP_NOT_APPLIED if capped else "")})
    with task_client(params) as client:
        watched_pull(client, name.display, policy, ctx)
    result: dict[str, Any] = {
        "status": "success",
        "model": name.display,
        "source": FROM_REGISTRY,
        "fallback": why,
    }
    if capped:
        result["cap_not_applied"] = True
    return result


class _FillReport:
    """The fill's progress events, with the budget's use when there is a cap."""

    def __init__(self, ctx: TaskContext, cache: SeedCache) -> None:
        self.ctx = ctx
        self.cache = cache
        self._use: dict[str, Any] = {}
        self._read_at = 0.0
        self._last: dict[str, Any] = {}

    def filled(self, digest: str, completed: int, total: int) -> None:
        self._last = {"digest": digest, "total": total, "completed": completed}
        self._send(waiting=False)

    def waiting(self) -> None:
        """Another job fetches the blob this one needs: this one queues (said
        under a cap only, every ``_USE_EVERY`` seconds)."""
        if self.cache.budget.rate and time.monotonic() - self._read_at >= _USE_EVERY:
            self._send(waiting=True)

    def _send(self, *, waiting: bool) -> None:
        data: dict[str, Any] = {"status": FILLING, **self._last}
        if self.cache.budget.rate:
            data.update(self._budget_use(), waiting=waiting)
        self.ctx.report("progress", data)

    def _budget_use(self) -> dict[str, Any]:
        now = time.monotonic()
        if now - self._read_at >= _USE_EVERY:
            use = self.cache.registry_use()
            self._use = {
                "fleet_in_use": use.rate,
                "fleet_cap": use.cap,
                "flows": len(use.flows),
            }
            self._read_at = now
        return self._use
