"""Writers for the domain tables, shared by the health monitor, jobs and the UI.

Each takes the ``DatabaseManager`` explicitly. Timestamps are UTC ISO-8601 strings
(``now_iso``) except sample times, which are epoch seconds.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from typing import Any

from ollama_webmgr.store.database import DatabaseManager, Doc, Sample, Where, now_iso


def _first(db: DatabaseManager, table: str, field: str, value: str) -> Doc | None:
    found = db.find(table, [Where(field, "==", value)], limit=1)
    return found[0] if found else None


def record_server_check(
    db: DatabaseManager,
    address: str,
    *,
    healthy: bool,
    latency_ms: float | None = None,
    load: float | None = None,
    name: str | None = None,
    ts: float | None = None,
) -> Doc:
    """Persist one health check: the server's last state plus its samples.

    ``first_seen`` is set once; ``health`` (1/0), ``latency`` and ``load`` samples
    feed the charts and the uptime figures of ``get_health_report``.
    """
    when = time.time() if ts is None else ts
    state: Doc = {"healthy": healthy, "last_check": now_iso()}
    if load is not None:
        state["load"] = load
    if name is not None:
        state["name"] = name
    samples = [Sample(address, "health", when, 1.0 if healthy else 0.0)]
    if latency_ms is not None:
        samples.append(Sample(address, "latency", when, latency_ms))
    if load is not None:
        samples.append(Sample(address, "load", when, load))
    db.add_samples(samples)
    return _set_server(db, address, state)


def record_hardware(
    db: DatabaseManager, address: str, hardware_info: Mapping[str, Any]
) -> Doc:
    """Store what a node agent reported (cpu, ram, gpu, storage)."""
    return _set_server(db, address, {"hardware_info": dict(hardware_info)})


def _set_server(db: DatabaseManager, address: str, fields: Doc) -> Doc:
    current = _first(db, "servers", "address", address)
    if current is None:
        doc_id = db.insert(
            "servers", {"address": address, "first_seen": now_iso(), **fields}
        )
        saved = db.get("servers", doc_id)
    else:
        saved = db.update("servers", current["id"], fields)
    assert saved is not None
    return saved


def record_model_map(
    db: DatabaseManager,
    name: str,
    digests: Mapping[str, str],
    **details: Any,
) -> Doc:
    """Which servers hold model ``name`` and with which digest (server -> digest).

    ``details`` may carry ``size``, ``parameter_count``, ``quantization``.
    """
    fields = {"servers": sorted(digests), "digests": dict(digests), **details}
    current = _first(db, "models", "name", name)
    if current is None:
        doc_id = db.insert(
            "models",
            {"name": name, "first_seen": now_iso(), "usage_count": 0, **fields},
        )
        saved = db.get("models", doc_id)
    else:
        saved = db.update("models", current["id"], fields)
    assert saved is not None
    return saved


def record_model_use(db: DatabaseManager, name: str, count: int = 1) -> None:
    """Count ``count`` uses of a known model (atomic: no count is lost between
    processes)."""
    current = _first(db, "models", "name", name)
    if current is not None:
        db.increment(
            "models", current["id"], "usage_count", count, {"last_used": now_iso()}
        )


def prune_finished_jobs(db: DatabaseManager, before: float) -> int:
    """Delete the records of jobs that ended before ``before`` (epoch seconds);
    running and queued jobs have no ``finished_at`` and stay."""
    cutoff = dt.datetime.fromtimestamp(before, dt.UTC).isoformat(
        timespec="microseconds"
    )
    return db.delete_where("jobs", [Where("finished_at", "<", cutoff)])


def record_job(
    db: DatabaseManager, job_id: str, kind: str, state: str, **fields: Any
) -> Doc:
    """Create or update the record of a pull / check / eject job."""
    changes = {"kind": kind, "state": state, **fields}
    if state in ("done", "failed", "cancelled"):
        changes.setdefault("finished_at", now_iso())
    saved = db.update("jobs", job_id, changes)
    if saved is None:
        db.insert("jobs", {"id": job_id, **changes})
        saved = db.get("jobs", job_id)
    assert saved is not None
    return saved


def record_audit(
    db: DatabaseManager,
    who: str,
    action: str,
    target: str = "",
    details: Mapping[str, Any] | None = None,
) -> str:
    """Append who did what to what; ``created_at`` says when."""
    return db.insert(
        "audit",
        {
            "who": who,
            "action": action,
            "target": target,
            "details": dict(details or {}),
        },
    )
