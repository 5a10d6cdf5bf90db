"""Prometheus ``GET /metrics`` of the web app.

One ``CollectorRegistry`` per app (in ``app.extensions``), never the global
default one, so several apps in one process (tests) keep separate counts.

- ``webmgr_http_requests_total{route,method,status}`` and
  ``webmgr_http_request_duration_seconds{route}`` for every request; ``route``
  is the URL rule (``/h/fit``, ``/static/dist/<path:filename>``), so model names
  do not create new series.
- ``webmgr_pulls_total{outcome}`` (``started``, ``done``, ``error``,
  ``cancelled``, ``interrupted``), ``webmgr_jobs_total{kind,state}``,
  ``webmgr_job_duration_seconds{kind}`` and ``webmgr_jobs_active{kind}``, fed by
  the in-process runner's change listener. With RQ, jobs run in worker processes
  and are not counted here.
"""

from __future__ import annotations

import threading
import time

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from ollama_webmgr.jobs.model import Job
from ollama_webmgr.jobs.runner import ThreadRunner

EXTENSION_KEY = "ollama_webmgr.metrics"
PULL_KIND = "pull_model"
JOB_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, float("inf"))

bp = Blueprint("metrics", __name__)


class WebMetrics:
    """The metrics of one app and the job listener that feeds them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "webmgr_http_requests",
            "HTTP requests answered by the web app",
            ["route", "method", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "webmgr_http_request_duration_seconds",
            "Time to answer an HTTP request (streams: until the first byte)",
            ["route"],
            registry=r,
        )
        self.pulls = Counter(
            "webmgr_pulls", "Model pulls by outcome", ["outcome"], registry=r
        )
        self.jobs = Counter(
            "webmgr_jobs", "Jobs that reached a state", ["kind", "state"], registry=r
        )
        self.job_duration = Histogram(
            "webmgr_job_duration_seconds",
            "Run time of finished jobs",
            ["kind"],
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self.jobs_active = Gauge(
            "webmgr_jobs_active", "Queued or running jobs", ["kind"], registry=r
        )
        self._lock = threading.Lock()
        self._states: dict[str, str] = {}

    def on_job_change(self, job: Job) -> None:
        """Runner listener: count state transitions (progress updates are skipped)."""
        with self._lock:
            before = self._states.get(job.id)
            if before == job.state or (before is None and job.finished):
                return  # progress only, or a record restored after a restart
            if job.finished:
                self._states.pop(job.id, None)
            else:
                self._states[job.id] = job.state
        self.jobs.labels(job.kind, job.state).inc()
        if before is None and job.active:
            self.jobs_active.labels(job.kind).inc()
            if job.kind == PULL_KIND:
                self.pulls.labels("started").inc()
        if job.finished:
            self.jobs_active.labels(job.kind).dec()
            if job.started_at is not None and job.finished_at is not None:
                self.job_duration.labels(job.kind).observe(
                    max(0.0, job.finished_at - job.started_at)
                )
            if job.kind == PULL_KIND:
                self.pulls.labels(job.state).inc()


def init_metrics(app: Flask, runner: object) -> WebMetrics:
    """Attach the metrics to ``app`` and, when it is in-process, to the runner."""
    metrics = WebMetrics()
    app.extensions[EXTENSION_KEY] = metrics
    if isinstance(runner, ThreadRunner):
        runner.add_listener(metrics.on_job_change)

    @app.before_request
    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        started = g.pop("metrics_started", None)
        rule = request.url_rule.rule if request.url_rule is not None else "<inconnue>"
        metrics.http_requests.labels(
            rule, request.method, str(response.status_code)
        ).inc()
        if started is not None:
            metrics.http_duration.labels(rule).observe(time.perf_counter() - started)
        return response

    app.register_blueprint(bp)
    return metrics


@bp.get("/metrics")
def metrics_endpoint() -> Response:
    metrics: WebMetrics = current_app.extensions[EXTENSION_KEY]
    response = Response(
        generate_latest(metrics.registry), content_type=CONTENT_TYPE_LATEST
    )
    response.cache_control.no_store = True
    return response
