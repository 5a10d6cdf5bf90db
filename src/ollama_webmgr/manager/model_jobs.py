"""Starting model jobs (pull, update check) and reading what they found.

Everything is validated (names, servers) before the first job is submitted, so
a bad request never leaves half its jobs behind. The last update status of each
model comes from the records of finished jobs, which both runners keep: a check
says up to date / update available / unknown, a later successful pull says up
to date.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.errors import JobError
from ollama_webmgr.jobs.model import RETRYABLE_STATES, Job
from ollama_webmgr.manager.models import (
    ALL_SERVERS,
    NameKey,
    key_or_none,
    name_key,
    normalised,
    resolve_servers,
    server_models,
    valid_name,
)
from ollama_webmgr.store.records import record_audit

if TYPE_CHECKING:
    from ollama_webmgr.wiring import Services

PULL = "pull_model"
CHECK = "check_update"


class JobNotRetryable(JobError):
    """Only a job that failed, was cancelled or interrupted can be retried."""

    code = "job_not_retryable"


def task_params(services: Services, server: Server, **extra: Any) -> dict[str, Any]:
    """What a model task needs to build its own clients (in any process)."""
    settings = services.settings
    return {
        "server_url": server.url,
        "server": server.name,
        "connect_timeout": settings.connect_timeout,
        "read_timeout": settings.read_timeout,
        "pull_timeout": settings.pull_timeout,
        **extra,
    }


def submit_pull(
    services: Services,
    servers: object,
    model: object,
    *,
    who: str = "web",
) -> list[Job]:
    """One pull job per server; a pull already running there is joined."""
    name = valid_name(model)
    targets = resolve_servers(services, servers)
    jobs = []
    for server in targets:
        job = services.runner.submit(
            PULL,
            task_params(services, server, model=name),
            dedupe_key=f"pull:{server.url}:{normalised(name)}",
        )
        services.models_cache.watch(server.url, job.id)
        record_audit(
            services.db, who, "model.pull", name, {"server": server.name, "job": job.id}
        )
        jobs.append(job)
    return jobs


def submit_check(
    services: Services,
    servers: object,
    model: object = None,
) -> list[Job]:
    """One update-check job per server, for ``model`` or every model there."""
    name = valid_name(model) if model else None
    targets = resolve_servers(services, servers)
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
    old = services.runner.get(job_id)
    if old.state not in RETRYABLE_STATES:
        raise JobNotRetryable(f"job {job_id} is {old.state}")
    job = services.runner.retry(job_id)
    if job.kind == PULL:
        services.models_cache.watch(str(job.params.get("server_url")), job.id)
    return job


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
    services: Services, servers: object = ALL_SERVERS, *, who: str = "web"
) -> list[Job]:
    """ "Update everywhere": pull what the last checks flagged, where it is installed."""
    statuses = update_statuses(services)
    jobs: list[Job] = []
    for server in resolve_servers(services, servers):
        installed = {
            name_key(tag.model): tag.model
            for tag in server_models(services, server, refresh=False).models
            if key_or_none(tag.model) is not None
        }
        for key, model in installed.items():
            verdict = statuses.get((server.url, key))
            if verdict is not None and verdict.status == "update_available":
                jobs.extend(submit_pull(services, [server.name], model, who=who))
    return jobs
