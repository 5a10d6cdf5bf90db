"""``/api/jobs`` (list, read, cancel, retry) and ``/api/stream/progress`` (SSE)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request

from ollama_webmgr.api.common import flag
from ollama_webmgr.api.openapi import (
    BAD,
    ERROR,
    JOB_ID,
    OK,
    STARTED,
    STR,
    UNKNOWN,
    operation,
    query,
)
from ollama_webmgr.api.sse import SSE_HEADERS, SSE_MIMETYPE, progress_stream
from ollama_webmgr.edge.services import get_services
from ollama_webmgr.french.messages import message_for_code
from ollama_webmgr.french.wording import localise_event
from ollama_webmgr.jobs.model import Job
from ollama_webmgr.usecases.model_jobs import cancel_job as cancel
from ollama_webmgr.usecases.model_jobs import retry_job

bp = Blueprint("api_jobs", __name__, url_prefix="/api")

#: app.config key: seconds of silence before a ``: keep-alive`` comment
HEARTBEAT_KEY = "SSE_HEARTBEAT"


def job_json(job: Job) -> dict[str, Any]:
    """The record, plus a French ``message`` for a job that did not succeed."""
    data = job.to_dict()
    if job.finished and job.state != "done":
        data["message"] = message_for_code(job.error_code or job.state, job.error)
    return data


@bp.get("/jobs")
@operation(
    "tâches",
    "Tâches récentes",
    params=[query("active", STR, "1 : seulement celles en cours")],
    answers=OK,
)
def list_jobs() -> Response:
    jobs = get_services().runner.list(active_only=flag("active"))
    return jsonify(jobs=[job_json(job) for job in jobs])


@bp.get("/jobs/<job_id>")
@operation("tâches", "Une tâche", params=[JOB_ID], answers={**OK, **UNKNOWN})
def get_job(job_id: str) -> Response:
    return jsonify(job=job_json(get_services().runner.get(job_id)))


@bp.delete("/jobs/<job_id>")
@operation("tâches", "Annuler une tâche", params=[JOB_ID], answers={**OK, **UNKNOWN})
def cancel_job(job_id: str) -> Response:
    return jsonify(job=job_json(cancel(get_services(), job_id)))


@bp.post("/jobs/<job_id>/retry")
@operation(
    "tâches",
    "Relancer une tâche échouée, annulée ou interrompue",
    params=[JOB_ID],
    answers={**STARTED, **UNKNOWN, 409: ("Tâche ni en erreur ni arrêtée", ERROR)},
)
def retry(job_id: str) -> Response:
    job = retry_job(get_services(), job_id)
    response = jsonify(job_id=job.id, job=job_json(job))
    response.status_code = 202
    return response


@bp.get("/stream/progress")
@operation(
    "tâches",
    "Progression d’une tâche (SSE : progress, status, done, error ; reprise par"
    " Last-Event-ID ; chaque événement porte aussi status_text et state_text en"
    " français, un error son message en français et le texte d’Ollama dans"
    " detail)",
    params=[
        query("job_id", STR, "Identifiant de la tâche", True),
        query(
            "last_event_id",
            STR,
            "Dernier événement reçu (comme l’en-tête Last-Event-ID)",
        ),
    ],
    answers={200: ("Flux text/event-stream", STR), **BAD, **UNKNOWN},
)
def progress() -> Response:
    job_id = request.args.get("job_id", "")
    if not job_id:
        abort(400)
    services = get_services()
    last_id = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    stream = progress_stream(
        services.runner,
        services.bus,
        job_id,
        last_id,
        heartbeat=float(current_app.config.get(HEARTBEAT_KEY, 15.0)),
        localise=localise_event,
    )
    return Response(stream, mimetype=SSE_MIMETYPE, headers=SSE_HEADERS)
