"""Start-up reconciliation: what the store remembers against what runs now.

* jobs that were queued or running when the process died come back
  ``interrupted`` (retryable: Ollama resumes a partial download);
* the model map (``models`` table: which server holds which model, by digest)
  is brought up to date from the servers that answered: models that appeared
  are added, copies that vanished are removed; servers that did not answer keep
  what was known of them;
* servers that did not answer the first health round, and stored servers no
  longer in the fleet, are reported (their history stays).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ollama_webmgr.cluster.health import HealthMonitor
from ollama_webmgr.cluster.live_models import AnsweredModels, answered, answered_models
from ollama_webmgr.cluster.servers import ServerRegistry
from ollama_webmgr.jobs.records import stored_jobs
from ollama_webmgr.jobs.runner import ThreadRunner
from ollama_webmgr.ollama.urls import display_address
from ollama_webmgr.store.database import DatabaseManager
from ollama_webmgr.store.records import record_model_map

log = logging.getLogger(__name__)


@dataclass
class ReconcileReport:
    interrupted: list[str] = field(default_factory=list)  # job ids
    appeared: list[str] = field(default_factory=list)  # model names
    vanished: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)  # server names
    unknown_servers: list[str] = field(default_factory=list)  # stored addresses


def restore_jobs(db: DatabaseManager, runner: object) -> list[str]:
    """Give the runner the stored jobs; ids of those now ``interrupted``."""
    if not isinstance(runner, ThreadRunner):
        return []  # RQ keeps its own records in Redis
    jobs = stored_jobs(db)
    active = {job.id for job in jobs if job.active}
    restored = runner.restore(jobs)
    return [job.id for job in restored if job.id in active]


def _live_digests(
    live: AnsweredModels,
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, Any]]]:
    """model -> {address: digest}, model -> details."""
    digests: dict[str, dict[str, str]] = {}
    details: dict[str, dict[str, Any]] = {}
    for address, entries in live.items():
        for entry in entries:
            name = entry.get("model") or entry.get("name")
            if not isinstance(name, str):
                continue
            digests.setdefault(name, {})[address] = str(entry.get("digest", ""))
            info = entry.get("details")
            info = info if isinstance(info, dict) else {}
            details[name] = {
                "size": entry.get("size"),
                "parameter_count": info.get("parameter_size"),
                "quantization": info.get("quantization_level"),
            }
    return digests, details


def sync_model_map(
    db: DatabaseManager, registry: ServerRegistry, monitor: HealthMonitor
) -> tuple[list[str], list[str]]:
    """Update the ``models`` table; the names that appeared and vanished."""
    return record_live_models(db, answered_models(registry, monitor))


def record_live_models(
    db: DatabaseManager, live: AnsweredModels
) -> tuple[list[str], list[str]]:
    """Update the ``models`` table from the servers that answered (``live``);
    the names that appeared and vanished."""
    reached = set(live)
    digests, details = _live_digests(live)
    appeared, vanished = [], []
    stored = {doc["name"]: doc for doc in db.find("models") if "name" in doc}
    for name in sorted(set(stored) | set(digests)):
        before = stored.get(name, {}).get("digests") or {}
        # servers that did not answer keep what was known of them
        after = {a: d for a, d in before.items() if a not in reached}
        after.update(digests.get(name, {}))
        if after == before and name in stored:
            continue
        if after and not before:
            appeared.append(name)
        if before and not after:
            vanished.append(name)
        extra = {k: v for k, v in details.get(name, {}).items() if v is not None}
        record_model_map(db, name, after, **extra)
    return appeared, vanished


def reconcile(
    db: DatabaseManager,
    registry: ServerRegistry,
    monitor: HealthMonitor,
) -> ReconcileReport:
    """After the first health round: model map, unreachable and unknown servers."""
    report = ReconcileReport()
    report.appeared, report.vanished = sync_model_map(db, registry, monitor)
    report.unreachable = [
        s.name for s in registry.active() if not answered(monitor, s.name)
    ]
    known = {display_address(s.url) for s in registry.all()}
    report.unknown_servers = sorted(
        str(doc["address"])
        for doc in db.find("servers")
        if isinstance(doc.get("address"), str) and doc["address"] not in known
    )
    log.info(
        "start-up: %d models appeared, %d vanished; unreachable: %s",
        len(report.appeared),
        len(report.vanished),
        ", ".join(report.unreachable) or "none",
    )
    return report
