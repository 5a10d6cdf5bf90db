"""Model jobs: ``pull_model`` and ``check_update`` (plain ``(params, ctx)`` tasks).

Both receive the server's URL (and optional timeouts) in ``params`` and build
their own client, so they run alike in a thread of the web process and on an
RQ worker. Leaving a pull stream early closes the HTTP response, which is what
tells Ollama to stop downloading (it keeps the partial blob for a later resume).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from ollama_webmgr.errors import (
    InvalidModelName,
    OllamaError,
    OllamaNotFound,
    PullStalled,
)
from ollama_webmgr.jobs.context import TaskContext
from ollama_webmgr.jobs.pull_watchdog import (
    RESTART_STATUS,
    ByteWatch,
    Guard,
    Verdict,
    WatchdogPolicy,
)
from ollama_webmgr.ollama.client import OllamaClient
from ollama_webmgr.ollama.names import ModelName, same_model
from ollama_webmgr.ollama.payloads import ModelTag, PullProgress
from ollama_webmgr.ollama.registry import DEFAULT_REGISTRY_URL, RegistryClient

#: A fallback probe verdict reason (the registry's own reasons are kept as is).
PROBE_DOWNLOADING = "probe_downloading"
PROBE_LAYERS_PRESENT = "probe_layers_present"
PROBE_FAILED = "probe_failed"


def task_client(params: dict[str, Any]) -> OllamaClient:
    return OllamaClient(
        str(params["server_url"]),
        connect_timeout=float(params.get("connect_timeout", 5.0)),
        read_timeout=float(params.get("read_timeout", 60.0)),
        pull_timeout=float(params.get("pull_timeout", 600.0)),
    )


def pull_model(params: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    """Pull ``params["model"]`` on ``params["server_url"]``, reporting each line.

    Layer lines become ``progress`` events (``completed``, ``total``,
    ``digest``); other lines become ``status`` events when the text changes.
    An error line inside the stream raises the client's ``OllamaStreamError``.
    A pull whose bytes stall or go back is restarted (Ollama resumes from its
    partial blobs), up to ``pull_max_restarts`` times (``jobs.pull_watchdog``);
    each restart is a ``status`` event saying why.

    With ``peers`` (servers whose agent serves their models), a peer with the
    registry's current copy serves it first (``jobs.peer_seeding``); with a
    ``seed_id`` (one of several nodes), the pull goes through the seed cache.
    """
    fallback: dict[str, Any] = {}
    if params.get("peers"):  # another node may have it: over the LAN
        from ollama_webmgr.jobs.peer_seeding import PeerFailed, peer_pull

        outcome = peer_pull(params, ctx)
        if isinstance(outcome, dict):
            return outcome
        if isinstance(outcome, PeerFailed):  # said in the usual path's result
            fallback = {"peer": outcome.peer, "peer_error": outcome.error}
    if params.get("seed_id"):  # one of several nodes: through the seed cache
        from ollama_webmgr.jobs.seeding import seeded_pull

        return {**seeded_pull(params, ctx), **fallback}
    model = ModelName.parse(str(params["model"])).display
    with task_client(params) as client:
        watched_pull(client, model, WatchdogPolicy.from_params(params), ctx)
    if fallback:
        return {"status": "success", "model": model, "source": "registry", **fallback}
    return {"status": "success", "model": model}


def watched_pull(
    client: OllamaClient,
    model: str,
    policy: WatchdogPolicy,
    ctx: TaskContext,
    *,
    insecure: bool = False,
) -> None:
    """Pull to the end, restarting a stalled pull (``PullStalled`` past the limit)."""
    restarts = 0
    while (
        verdict := _pull_once(client, model, policy, ctx, insecure=insecure)
    ) is not None:
        if restarts >= policy.max_restarts:
            raise PullStalled(model, restarts, verdict, policy.stall_timeout)
        restarts += 1
        ctx.report(
            "status",
            {
                "status": RESTART_STATUS,
                "restarts": restarts,
                "reason": verdict,
                "stall_timeout": policy.stall_timeout,
            },
        )


def adopt(client: OllamaClient, temporary: str, name: ModelName) -> None:
    """A model pulled under a temporary name (from the seed cache or a peer:
    ``host:port/ns/model:tag``) copied to its canonical name, the temporary
    one deleted; the manifest's bytes, hence the digest, are kept."""
    client.copy(temporary, name.display)
    with contextlib.suppress(OllamaNotFound):  # a retry after the copy
        client.delete(temporary)


def _pull_once(
    client: OllamaClient,
    model: str,
    policy: WatchdogPolicy,
    ctx: TaskContext,
    *,
    insecure: bool = False,
) -> Verdict | None:
    """One attempt: ``None`` when it succeeded, else why it should be restarted."""
    ctx.check_cancelled()
    watch = ByteWatch(policy.stall_timeout, since=time.monotonic())
    last_status = None
    with (
        client.pull(model, insecure=insecure) as stream,
        Guard(watch, stream, ctx.cancelled) as guard,
    ):
        try:
            for item in stream:
                ctx.check_cancelled()
                _report_line(item, last_status, ctx)
                last_status = item.status
                if verdict := watch.line(item, time.monotonic()):
                    return verdict
        except OllamaError:
            ctx.check_cancelled()  # the guard cut the stream for a cancel
            if guard.verdict is None:
                raise
    return guard.verdict


def _report_line(item: PullProgress, last_status: str | None, ctx: TaskContext) -> None:
    if item.digest:
        ctx.report(
            "progress",
            {
                "status": item.status,
                "digest": item.digest,
                "total": item.total,
                "completed": item.completed,
            },
        )
    elif item.status != last_status:
        ctx.report("status", {"status": item.status})


def check_update(params: dict[str, Any], ctx: TaskContext) -> list[dict[str, Any]]:
    """Is a newer version published for one model, or every model, of a server?

    The registry is asked first (one ``GET`` of the manifest, nothing written);
    only when it cannot be reached does a streaming pull probe decide.
    """
    wanted = params.get("model")
    registry_url = str(params.get("registry_url") or DEFAULT_REGISTRY_URL)
    timeout = float(params.get("registry_timeout", 10.0))
    with (
        task_client(params) as client,
        RegistryClient(registry_url, timeout=timeout) as registry,
    ):
        tags = _selected(client, wanted)
        version = _version_of(client)
        results = []
        for index, tag in enumerate(tags):
            ctx.check_cancelled()
            ctx.report(
                "progress",
                {
                    "status": f"checking {tag.model}",
                    "completed": index,
                    "total": len(tags),
                },
            )
            results.append(_check_one(client, registry, tag, version, ctx))
        ctx.report(
            "progress",
            {
                "status": "vérification terminée",
                "completed": len(tags),
                "total": len(tags),
            },
        )
    return results


def _selected(client: OllamaClient, wanted: Any) -> list[ModelTag]:
    tags = client.tags()
    if not wanted:
        return tags
    name = ModelName.parse(str(wanted)).display
    chosen = [tag for tag in tags if same_model(tag.model, name)]
    if not chosen:
        raise OllamaNotFound(
            f"model '{name}' not found", status=404, server=client.base_url
        )
    return chosen


def _version_of(client: OllamaClient) -> str | None:
    try:
        return client.version()
    except OllamaError:
        return None


def _check_one(
    client: OllamaClient,
    registry: RegistryClient,
    tag: ModelTag,
    version: str | None,
    ctx: TaskContext,
) -> dict[str, Any]:
    try:
        check = registry.check_update(tag.model, tag.digest, ollama_version=version)
    except InvalidModelName as exc:  # listed by the node, refused by our parser
        return {
            "model": tag.model,
            "status": "unknown",
            "reason": "invalid_name",
            "local_digest": tag.digest,
            "remote_digest": None,
            "detail": exc.message,
        }
    result: dict[str, Any] = {
        "model": check.name,
        "status": check.status,
        "reason": check.reason,
        "local_digest": check.local_digest,
        "remote_digest": check.remote_digest,
        "detail": check.detail,
    }
    if check.status == "unknown" and check.reason == "network":
        status, reason, detail = probe_update(client, check.name, ctx)
        result.update(status=status, reason=reason, detail=detail)
    return result


def probe_update(
    client: OllamaClient, model: str, ctx: TaskContext
) -> tuple[str, str, str]:
    """The brief's fallback: start a pull and stop at the first decisive line.

    Every layer arriving already complete means nothing new is published; a
    layer that has to download means an update. The stream is closed at once.
    """
    try:
        with client.pull(model) as stream:
            for item in stream:
                ctx.check_cancelled()
                if item.digest:
                    if item.total > 0 and item.completed >= item.total:
                        continue
                    return "update_available", PROBE_DOWNLOADING, item.status
                if item.status != "pulling manifest":
                    return "up_to_date", PROBE_LAYERS_PRESENT, item.status
    except OllamaError as exc:
        return "unknown", PROBE_FAILED, exc.message
    return "unknown", PROBE_FAILED, "the pull ended without a decision"
