"""Model jobs: pull, update check, update everywhere, retry, cancel; and what
the finished jobs found.

Everything is validated (names, servers) before the first job is submitted, so
a bad request never leaves half its jobs behind. The last update status of each
model comes from the records of finished jobs, which both runners keep: a check
says up to date / update available / unknown, a later successful pull says up
to date.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.errors import JobNotRetryable
from ollama_webmgr.jobs.model import RETRYABLE_STATES, Job
from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.ollama.seed_plan import seedable
from ollama_webmgr.usecases import download_settings
from ollama_webmgr.usecases.actor import Actor, audit
from ollama_webmgr.usecases.models import (
    NameKey,
    key_or_none,
    name_key,
    normalised,
    server_models,
    valid_name,
)
from ollama_webmgr.usecases.peer_seeding import peer_params
from ollama_webmgr.usecases.servers import ALL_SERVERS, chosen_servers

if TYPE_CHECKING:
    from ollama_webmgr.runtime.services import Services

PULL = "pull_model"
CHECK = "check_update"


def task_params(services: Services, server: Server, **extra: Any) -> dict[str, Any]:
    """What a model task needs to build its own clients (in any process);
    the watchdog's settings as the « Téléchargements » page has them now."""
    settings = services.settings
    downloads = download_settings.current(services)
    return {
        "server_url": server.url,
        "server": server.name,
        "connect_timeout": settings.connect_timeout,
        "read_timeout": settings.read_timeout,
        "pull_timeout": settings.pull_timeout,
        "pull_stall_timeout": downloads.pull_stall_timeout,
        "pull_max_restarts": downloads.pull_max_restarts,
        **extra,
    }


def submit_pull(
    services: Services, actor: Actor, servers: object, model: object
) -> list[Job]:
    """One pull job per server; a pull already running there is joined.

    A server of the fleet that has the model and serves its models (its
    agent's model port) serves it first (``usecases/peer_seeding.py``).

    To several servers a registry model is seeded: the manager's cache fetches
    it from the registry once and the servers pull it from the cache
    (``jobs/seeding.py``); to one server, or from another host, each pulls
    directly. Under a fleet bandwidth cap, a registry model always goes
    through the cache (even to one server): the cap is applied there.
    """
    name = valid_name(model)
    targets = chosen_servers(services.servers, servers)
    cap = download_settings.current(services).fleet_rate
    seeded = seedable(ModelName.parse(name), len(targets), capped=bool(cap))
    seed = _seed_params(services, cap) if seeded else {}
    jobs = []
    peers = peer_params(services, name)
    for server in targets:
        job = services.runner.submit(
            PULL,
            task_params(services, server, model=name, **{**seed, **peers}),
            dedupe_key=f"pull:{server.url}:{normalised(name)}",
        )
        services.models_cache.watch(server.url, job.id)
        details = {"server": server.name, "job": job.id}
        if seed:
            details["seeding"] = seed["seed_id"]
        audit(services.db, actor, "model.pull", name, details)
        jobs.append(job)
    return jobs


def _seed_params(services: Services, cap: float | None) -> dict[str, Any]:
    """What the jobs of one seeding share."""
    settings = services.settings
    params: dict[str, Any] = {
        "seed_id": uuid.uuid4().hex,
        "seed_dir": str(settings.seed_cache_path),
        "seed_cache_url": settings.seed_cache_address,
        "registry_url": settings.registry_url,
    }
    if cap:
        params["fleet_rate"] = cap
    return params


def submit_check(
    services: Services,
    servers: object,
    model: object = None,
) -> list[Job]:
    """One update-check job per server, for ``model`` or every model there
    (nothing changes on the servers: not audited)."""
    name = valid_name(model) if model else None
    targets = chosen_servers(services.servers, servers)
    jobs = []
    for server in targets:
        params = task_params(
            services, server, model=name, registry_url=services.settings.registry_url
        )
        scope = normalised(name) if name else "*"
        jobs.append(
            services.runner.submit(
                CHECK, params, dedupe_key=f"check:{server.url}:{scope}"
            )
        )
    return jobs


def retry_job(services: Services, job_id: str) -> Job:
    """Start a failed, cancelled or interrupted job again (as its first run was)."""
    old = services.runner.get(job_id)
    if old.state not in RETRYABLE_STATES:
        raise JobNotRetryable(job_id, old.state)
    job = services.runner.retry(job_id)
    if job.kind == PULL:
        services.models_cache.watch(str(job.params.get("server_url")), job.id)
    return job


def cancel_job(services: Services, job_id: str) -> Job:
    """Ask a job to stop (a pull stops at its next progress line)."""
    return services.runner.cancel(job_id)


@dataclass(frozen=True)
class UpdateStatus:
    model: str
    status: str  # up_to_date | update_available | unknown
    reason: str
    checked_at: float


def update_statuses(services: Services) -> dict[tuple[str, NameKey], UpdateStatus]:
    """The newest verdict per (server URL, model) from finished jobs."""
    finished = [
        job
        for job in services.runner.list()
        if job.state == "done" and job.kind in (PULL, CHECK)
    ]
    finished.sort(key=lambda job: job.finished_at or 0.0)
    found: dict[tuple[str, NameKey], UpdateStatus] = {}
    for job in finished:
        url = str(job.params.get("server_url"))
        when = job.finished_at or 0.0
        for model, status, reason in _verdicts(job):
            key = key_or_none(model)
            if key is not None:
                found[(url, key)] = UpdateStatus(model, status, reason, when)
    return found


def _verdicts(job: Job) -> list[tuple[str, str, str]]:
    if job.kind == PULL:
        return [(str(job.params.get("model")), "up_to_date", "pulled")]
    if not isinstance(job.result, list):
        return []
    return [
        (str(item.get("model")), str(item.get("status")), str(item.get("reason")))
        for item in job.result
        if isinstance(item, dict)
    ]


def submit_updates(
    services: Services, actor: Actor, servers: object = ALL_SERVERS
) -> list[Job]:
    """ "Update everywhere": pull what the last checks flagged, where it is
    installed; a model flagged on several servers is seeded once for them."""
    statuses = update_statuses(services)
    wanted: dict[NameKey, tuple[str, list[str]]] = {}
    for server in chosen_servers(services.servers, servers):
        installed = {
            name_key(tag.model): tag.model
            for tag in server_models(services, server, refresh=False).models
            if key_or_none(tag.model) is not None
        }
        for key, model in installed.items():
            verdict = statuses.get((server.url, key))
            if verdict is not None and verdict.status == "update_available":
                wanted.setdefault(key, (model, []))[1].append(server.name)
    jobs: list[Job] = []
    for model, names in wanted.values():
        jobs.extend(submit_pull(services, actor, names, model))
    return jobs
