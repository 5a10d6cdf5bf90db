"""What the model pages show: rows of the list and jobs, ready for the templates.

Kept apart from the routes so the pages stay thin and the wording (French) is in
one place.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ollama_webmgr.french.messages import message_for_code
from ollama_webmgr.french.wording import (
    rate_text,
    restart_text,
    state_label,
    status_text,
)
from ollama_webmgr.jobs.model import RETRYABLE_STATES, Job
from ollama_webmgr.ollama.payloads import ModelTag
from ollama_webmgr.usecases import download_settings, model_jobs
from ollama_webmgr.usecases.models import (
    FleetModels,
    NameKey,
    ServerModels,
    key_or_none,
)
from ollama_webmgr.usecases.running import loaded_models as loaded_on
from ollama_webmgr.web.formatting import format_size

if TYPE_CHECKING:
    from ollama_webmgr.cluster.servers import Server
    from ollama_webmgr.runtime.services import Services

STATUS_LABELS = {
    "up_to_date": "à jour",
    "update_available": "mise à jour disponible",
    "unknown": "inconnu",
    "unchecked": "non vérifié",
}
#: finished jobs stay listed this long (seconds), at most RECENT_JOBS of them
RECENT_SECONDS = 15 * 60
RECENT_JOBS = 8
#: kinds of jobs the model pages show
MODEL_KINDS = (model_jobs.PULL, model_jobs.CHECK)

Statuses = dict[tuple[str, NameKey], model_jobs.UpdateStatus]


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
    #: names of the servers where it is loaded in memory
    loaded_on: tuple[str, ...] = ()

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
    loaded_on: tuple[str, ...] = (),
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
        loaded_on=loaded_on,
    )


Loaded = set[tuple[str, NameKey]]


def loaded_models(services: Services, servers: Iterable[Server]) -> Loaded:
    """(server name, model key) of every model in memory; silent on a dead server."""
    found: Loaded = set()
    for outcome in loaded_on(services, list(servers)):
        for model in outcome.value or []:
            key = key_or_none(model.name)
            if key is not None:
                found.add((outcome.server.name, key))
    return found


def _loaded_on(
    loaded: Loaded, servers: Iterable[str], tag: ModelTag
) -> tuple[str, ...]:
    key = key_or_none(tag.model)
    return tuple(name for name in servers if (name, key) in loaded)


def server_rows(
    listing: ServerModels, statuses: Statuses, loaded: Loaded
) -> list[ModelRow]:
    url, name = listing.server.url, listing.server.name
    rows = [
        _row(
            tag,
            _status(statuses, url, tag),
            loaded_on=_loaded_on(loaded, (name,), tag),
        )
        for tag in listing.models
    ]
    return sorted(rows, key=lambda row: row.name.casefold())


def fleet_rows(
    fleet: FleetModels, statuses: Statuses, loaded: Loaded
) -> list[ModelRow]:
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
                loaded_on=_loaded_on(loaded, model.copies, model.newest),
            )
        )
    return rows


def _combined(found: set[str]) -> str:
    for status in ("update_available", "unknown", "unchecked"):
        if status in found:
            return status
    return "up_to_date"


# -- jobs --------------------------------------------------------------------


@dataclass(frozen=True)
class JobView:
    id: str
    kind: str
    state: str
    title: str
    model: str
    server: str
    status_text: str
    percent: int | None
    message: str
    finished_at: float | None = None
    total: int | None = None
    #: « relancé automatiquement (2) : aucun octet reçu depuis 60 s », or empty
    restarts_text: str = ""
    #: where a seeded pull's bytes came from: « registre », « depuis le cache »
    origin_text: str = ""

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    @property
    def retryable(self) -> bool:
        return self.state in RETRYABLE_STATES and self.kind in MODEL_KINDS

    @property
    def state_label(self) -> str:
        return state_label(self.state)

    @property
    def cancel_question(self) -> str | None:
        """A pull is confirmed before it is cancelled: it may have run for long."""
        if self.kind != model_jobs.PULL:
            return None
        return (
            f"Annuler le téléchargement de {self.model} sur {self.server} ? "
            "Ce qui est déjà reçu reste sur le serveur : le relancer reprendra "
            "où il s’est arrêté."
        )


def _title(job: Job, model: str) -> str:
    if job.kind == model_jobs.PULL:
        return f"Téléchargement de {model}"
    if job.kind == model_jobs.CHECK:
        return f"Vérification des mises à jour de {model or 'tous les modèles'}"
    if job.kind == "eject_force":
        return f"Éjection forcée de {model}"
    return f"Tâche {job.kind}"


def _server_of(job: Job) -> str:
    return str(job.params.get("server") or job.params.get("server_url") or "")


def job_view(job: Job) -> JobView:
    model = str(job.params.get("model") or job.params.get("name") or "")
    fraction = 1.0 if job.state == "done" else job.progress.fraction
    message = ""
    if job.finished and job.state != "done":
        message = message_for_code(job.error_code or job.state, job.error)
    return JobView(
        id=job.id,
        kind=job.kind,
        state=job.state,
        title=_title(job, model),
        model=model,
        server=_server_of(job),
        status_text=status_text(job.progress.status),
        percent=round(fraction * 100) if fraction is not None else None,
        message=message,
        finished_at=job.finished_at,
        total=job.progress.total,
        restarts_text=_restarts(job),
        origin_text=pull_origin_text(job.result) if job.kind == model_jobs.PULL else "",
    )


def origin_text(result: object) -> str:
    r"""Where a node's bytes came from when the pull went through the seed cache.

    >>> origin_text({"source": "cache", "saved": 46_000})
    'depuis le cache · 46\xa0ko économisés'
    >>> origin_text({"source": "registry", "saved": 0})
    'registre'
    >>> origin_text({"source": "registry", "fallback": "seed cache unreachable"})
    'registre (cache injoignable)'
    >>> origin_text({"source": "registry", "fallback": "x", "cap_not_applied": True})
    'registre (cache injoignable : plafond de débit non appliqué)'
    >>> origin_text({"status": "success"})
    ''
    """
    if not isinstance(result, dict) or "source" not in result:
        return ""
    if result.get("fallback") and result.get("cap_not_applied"):
        return "registre (cache injoignable : plafond de débit non appliqué)"
    if result.get("fallback"):
        return "registre (cache injoignable)"
    saved = result.get("saved")
    if result["source"] != "cache":
        return "registre"
    if isinstance(saved, int) and saved > 0:
        return f"depuis le cache · {format_size(saved)} économisés"
    return "depuis le cache"


def pull_origin_text(result: object) -> str:
    r"""Where a pulled node's bytes came from: another node (a peer), else as
    ``origin_text`` says; a peer that failed is named after it.

    >>> pull_origin_text({"source": "peer", "peer": "nœud-1", "saved": 46_000})
    'depuis nœud-1 · 46\xa0ko économisés'
    >>> pull_origin_text({"source": "peer", "peer": "nœud-1", "saved": 0})
    'depuis nœud-1'
    >>> pull_origin_text({"source": "registry", "peer": "nœud-1", "peer_error": "x"})
    'registre · nœud-1 injoignable'
    >>> pull_origin_text({"source": "cache", "saved": 46_000})
    'depuis le cache · 46\xa0ko économisés'
    """
    if not isinstance(result, dict) or result.get("source") != "peer":
        text = origin_text(result)
        if isinstance(result, dict) and result.get("peer_error"):
            text += f" · {result.get('peer')} injoignable"
        return text
    saved = result.get("saved")
    where = f"depuis {result.get('peer')}"
    if isinstance(saved, int) and saved > 0:
        return f"{where} · {format_size(saved)} économisés"
    return where


def _restarts(job: Job) -> str:
    if job.progress.restarts <= 0:
        return ""
    return restart_text(
        {
            "restarts": job.progress.restarts,
            "reason": job.progress.restart_reason,
            "stall_timeout": job.params.get("pull_stall_timeout"),
        }
    )


@dataclass(frozen=True)
class Hidden:
    """Finished jobs a person dismissed (kept in their session)."""

    ids: frozenset[str] = frozenset()
    before: float = 0.0  # « tout masquer »: finished before this moment

    def hides(self, job: Job) -> bool:
        return job.id in self.ids or (job.finished_at or 0.0) <= self.before


@dataclass(frozen=True)
class JobPanel:
    active: list[JobView] = field(default_factory=list)
    finished: list[JobView] = field(default_factory=list)
    #: the internet line's use under a fleet cap (« 3,2 Mo/s sur 5 Mo/s »), or empty
    bandwidth: str = ""

    @property
    def empty(self) -> bool:
        return not (self.active or self.finished)


def _about(job: Job, key: NameKey | None, server: str | None) -> bool:
    if server is not None and _server_of(job) != server:
        return False
    about = job.params.get("model")
    return key is None or not about or key_or_none(str(about)) == key


def model_job_panel(
    services: Services,
    *,
    model: str | None = None,
    server: str | None = None,
    hidden: Hidden | None = None,
    kinds: tuple[str, ...] = MODEL_KINDS,
) -> JobPanel:
    """Active jobs, then the few that finished lately (newest first).

    ``model``: only the jobs about that model (checks of a whole server too);
    ``server``: only that server's jobs.
    """
    now = time.time()
    key = key_or_none(model) if model else None
    hidden = hidden or Hidden()
    active: list[JobView] = []
    recent: list[JobView] = []
    for job in services.runner.list():
        if job.kind not in kinds or not _about(job, key, server):
            continue
        if job.active:
            active.append(job_view(job))
        elif now - (job.finished_at or 0.0) < RECENT_SECONDS and not hidden.hides(job):
            recent.append(job_view(job))
    recent.sort(key=lambda view: -(view.finished_at or 0.0))
    return JobPanel(active, recent[:RECENT_JOBS], bandwidth_in_use(services))


def bandwidth_in_use(services: Services) -> str:
    """« 3,2 Mo/s sur 5 Mo/s »: the registry downloads of every process now,
    against the fleet cap (empty without a cap)."""
    values = download_settings.current(services)
    if not values.fleet_rate:
        return ""
    use = download_settings.registry_use(services, values)
    return f"{rate_text(use.rate)} sur {rate_text(use.cap)}"
