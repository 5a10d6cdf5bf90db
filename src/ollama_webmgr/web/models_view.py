"""What the model pages show: rows of the list and jobs, ready for the templates.

Kept apart from the routes so the pages stay thin and the wording (French) is in
one place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ollama_webmgr.jobs.model import RETRYABLE_STATES, Job
from ollama_webmgr.manager import model_jobs
from ollama_webmgr.manager.models import FleetModels, ServerModels, key_or_none
from ollama_webmgr.ollama.payloads import ModelTag
from ollama_webmgr.web.messages import message_for_code

if TYPE_CHECKING:
    from ollama_webmgr.wiring import Services

STATUS_LABELS = {
    "up_to_date": "à jour",
    "update_available": "mise à jour disponible",
    "unknown": "inconnu",
    "unchecked": "non vérifié",
}
STATE_LABELS = {
    "queued": "en attente",
    "running": "en cours",
    "done": "terminé",
    "error": "échec",
    "cancelled": "annulé",
    "interrupted": "interrompu",
}
#: finished jobs stay listed this long (seconds), at most RECENT_JOBS of them
RECENT_SECONDS = 15 * 60
RECENT_JOBS = 8

Statuses = dict[tuple[str, tuple[str, str, str, str]], model_jobs.UpdateStatus]


@dataclass(frozen=True)
class ModelRow:
    name: str
    size: int
    modified_at: str | None
    short_digest: str
    family: str
    parameter_size: str
    quantization: str
    status: str
    servers: tuple[str, ...] = ()
    drift: bool = False

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


def _status(statuses: Statuses, url: str, tag: ModelTag) -> str:
    key = key_or_none(tag.model)
    verdict = statuses.get((url, key)) if key is not None else None
    return verdict.status if verdict is not None else "unchecked"


def _row(
    tag: ModelTag,
    status: str,
    servers: tuple[str, ...] = (),
    drift: bool = False,
) -> ModelRow:
    return ModelRow(
        name=tag.model,
        size=tag.size,
        modified_at=tag.modified_at.isoformat() if tag.modified_at else None,
        short_digest=tag.short_id,
        family=tag.details.family,
        parameter_size=tag.details.parameter_size,
        quantization=tag.details.quantization_level,
        status=status,
        servers=servers,
        drift=drift,
    )


def server_rows(listing: ServerModels, statuses: Statuses) -> list[ModelRow]:
    url = listing.server.url
    rows = [_row(tag, _status(statuses, url, tag)) for tag in listing.models]
    return sorted(rows, key=lambda row: row.name.casefold())


def fleet_rows(fleet: FleetModels, statuses: Statuses) -> list[ModelRow]:
    urls = {server.name: server.url for server in fleet.servers}
    rows = []
    for model in fleet.models:
        found = {
            _status(statuses, urls[name], tag) for name, tag in model.copies.items()
        }
        rows.append(
            _row(
                model.newest,
                _combined(found),
                servers=tuple(model.copies),
                drift=model.drift,
            )
        )
    return rows


def _combined(found: set[str]) -> str:
    for status in ("update_available", "unknown", "unchecked"):
        if status in found:
            return status
    return "up_to_date"


@dataclass(frozen=True)
class JobView:
    id: str
    kind: str
    state: str
    label: str
    status_text: str
    percent: int | None
    message: str

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    @property
    def retryable(self) -> bool:
        return self.state in RETRYABLE_STATES

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.state, self.state)


def job_view(job: Job) -> JobView:
    server = str(job.params.get("server") or job.params.get("server_url"))
    model = job.params.get("model")
    if job.kind == model_jobs.PULL:
        label = f"Téléchargement de {model} sur {server}"
    else:
        label = f"Mises à jour de {model or 'tous les modèles'} sur {server}"
    fraction = 1.0 if job.state == "done" else job.progress.fraction
    message = ""
    if job.finished and job.state != "done":
        message = message_for_code(job.error_code or job.state)
    return JobView(
        id=job.id,
        kind=job.kind,
        state=job.state,
        label=label,
        status_text=job.progress.status,
        percent=round(fraction * 100) if fraction is not None else None,
        message=message,
    )


def model_job_views(services: Services, model: str | None = None) -> list[JobView]:
    """Active model jobs, then the few that finished lately (newest first).

    With ``model``, only the jobs about that model (checks of a whole server too).
    """
    now = time.time()
    key = key_or_none(model) if model else None
    active: list[JobView] = []
    recent: list[JobView] = []
    for job in services.runner.list():
        if job.kind not in (model_jobs.PULL, model_jobs.CHECK):
            continue
        about = job.params.get("model")
        if key is not None and about and key_or_none(str(about)) != key:
            continue
        if job.active:
            active.append(job_view(job))
        elif now - (job.finished_at or 0.0) < RECENT_SECONDS:
            recent.append(job_view(job))
    return active + recent[:RECENT_JOBS]
