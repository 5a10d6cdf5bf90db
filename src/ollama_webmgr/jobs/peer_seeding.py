"""A node's pull served by another node of the fleet that has the model.

``usecases/peer_seeding.py`` gives a pull job the servers whose agent serves
their models (``agent --serve-models``, reported in ``GetSystemInfo``): the
``peers``. Before any byte moves, the job

1. asks each peer's model port for the model's manifest (a peer without the
   model, or whose agent does not answer, is passed over);
2. asks the registry for the manifest's digest (the update check's request)
   and keeps only a peer whose copy has that very digest: a stale copy is
   never spread, and with the registry out of reach no peer is used;
3. has its node pull ``<peer host:port>/<ns>/<model>:<tag>`` with
   ``insecure``, checks the digest the node got, then copies it to the
   canonical name and deletes the temporary one (``model_tasks.adopt``, as
   the seed cache's pull does).

The result says ``source: "peer"``, ``peer`` (the server's name) and the
bytes ``saved``. When a peer's pull fails (the peer went away mid-pull, its
pull stalled past the watchdog's restarts, its copy changed meanwhile), the
next peer is tried, then the usual path (the seed cache or a direct pull),
whose result keeps the peer's name and why (``peer``, ``peer_error``).
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from ollama_webmgr.errors import OllamaNotFound, OllamaStreamError, PullStalled
from ollama_webmgr.jobs.context import TaskContext
from ollama_webmgr.jobs.model_tasks import adopt, task_client, watched_pull
from ollama_webmgr.jobs.pull_watchdog import WatchdogPolicy
from ollama_webmgr.ollama.client import OllamaClient
from ollama_webmgr.ollama.names import ModelName, same_model
from ollama_webmgr.ollama.registry import (
    DEFAULT_REGISTRY_URL,
    MANIFEST_ACCEPT,
    RegistryClient,
)
from ollama_webmgr.ollama.seed_cache import manifest_blobs

FROM_PEER = "peer"
LOOKING = "looking for a peer"
PULLING = "pulling from a peer"
PEER_FAILED = "peer unreachable"


@dataclass(frozen=True)
class Peer:
    name: str
    models_url: str  # http://host:port of its agent's model port

    @property
    def address(self) -> str:
        return urlsplit(self.models_url).netloc

    def name_for(self, name: ModelName) -> str:
        """What a node pulls from this peer: ``host:port/ns/model:tag``.

        >>> Peer("a", "http://10.0.0.7:50052").name_for(ModelName.parse("qwen3:0.6b"))
        '10.0.0.7:50052/library/qwen3:0.6b'
        """
        return f"{self.address}/{name.repository}:{name.tag}"


@dataclass(frozen=True)
class Candidate:
    peer: Peer
    manifest: bytes

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.manifest).hexdigest()


@dataclass(frozen=True)
class PeerFailed:
    """No peer gave the model; the last one tried, and why."""

    peer: str
    error: str


def peers_of(params: dict[str, Any]) -> list[Peer]:
    """The job's peers, its own server left out."""
    found = params.get("peers")
    if not isinstance(found, list):
        return []
    return [
        Peer(str(item["name"]), str(item["models_url"]))
        for item in found
        if isinstance(item, dict)
        and item.get("name")
        and item.get("models_url")
        and item["name"] != params.get("server")
    ]


def peer_pull(
    params: dict[str, Any], ctx: TaskContext
) -> dict[str, Any] | PeerFailed | None:
    """The pull served by a peer: its result, ``PeerFailed`` when the peers
    with the current copy could not serve it, None when none has it."""
    name = ModelName.parse(str(params["model"]))
    ctx.report("status", {"status": LOOKING})
    candidates = current_copies(params, name, ctx)
    failed = None
    for candidate in candidates:
        outcome = _pull_from(params, ctx, name, candidate)
        if not isinstance(outcome, PeerFailed):
            return outcome
        failed = outcome
        ctx.report("status", {"status": PEER_FAILED, "peer": outcome.peer})
    return failed


def current_copies(
    params: dict[str, Any], name: ModelName, ctx: TaskContext
) -> list[Candidate]:
    """The peers whose copy of ``name`` has the registry's digest now."""
    found = []
    for peer in peers_of(params):
        ctx.check_cancelled()
        manifest = peer_manifest(peer, name)
        if manifest is not None:
            found.append(Candidate(peer, manifest))
    if not found:
        return []
    current = registry_digest(params, name, found[0].digest)
    return [candidate for candidate in found if candidate.digest == current]


def peer_manifest(peer: Peer, name: ModelName) -> bytes | None:
    """The manifest the peer's model port serves for ``name``, if any."""
    url = f"{peer.models_url}/v2/{name.repository}/manifests/{name.tag}"
    try:
        answer = httpx.get(url, headers={"Accept": MANIFEST_ACCEPT}, timeout=5.0)
    except httpx.HTTPError:
        return None
    return answer.content if answer.status_code == 200 else None


def registry_digest(params: dict[str, Any], name: ModelName, local: str) -> str | None:
    """The registry's manifest digest for ``name`` (None when it cannot say),
    asked as the update check asks it."""
    registry_url = str(params.get("registry_url") or DEFAULT_REGISTRY_URL)
    timeout = float(params.get("registry_timeout", 10.0))
    with RegistryClient(registry_url, timeout=timeout) as registry:
        check = registry.check_update(name.display, local)
    return check.remote_digest


def _pull_from(
    params: dict[str, Any], ctx: TaskContext, name: ModelName, candidate: Candidate
) -> dict[str, Any] | PeerFailed:
    peer = candidate.peer
    temporary = peer.name_for(name)
    policy = WatchdogPolicy.from_params(params)
    ctx.report("status", {"status": PULLING, "peer": peer.name})
    with task_client(params) as client:
        try:
            watched_pull(client, temporary, policy, ctx, insecure=True)
        except (OllamaStreamError, PullStalled) as error:
            ctx.check_cancelled()
            _forget(client, temporary)
            return PeerFailed(peer.name, error.message)
        if _digest_of(client, temporary) != candidate.digest:
            _forget(client, temporary)  # the peer's copy changed meanwhile
            return PeerFailed(peer.name, "the peer's copy changed during the pull")
        adopt(client, temporary, name)
    size = sum(blob.size for blob in manifest_blobs(candidate.manifest))
    return {
        "status": "success",
        "model": name.display,
        "source": FROM_PEER,
        "peer": peer.name,
        "size": size,
        "fetched": 0,
        "saved": size,
    }


def _digest_of(client: OllamaClient, model: str) -> str | None:
    return next(
        (tag.digest for tag in client.tags() if same_model(tag.model, model)), None
    )


def _forget(client: OllamaClient, temporary: str) -> None:
    with contextlib.suppress(OllamaNotFound):
        client.delete(temporary)
