"""View data of the Santé, Statistiques and Matériel pages (no Flask).

Everything is read from the store: ``health`` / ``latency`` samples written by
each health check, ``req:<type>`` request samples, per-model samples
(``store.stats.record_model_requests``) and the agents' ``hardware_info``.
Windows are ``24h``, ``7j`` and ``30j``; long charts read hourly rollups.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ollama_webmgr.store.database import DatabaseManager, Doc, Rollup, Where
from ollama_webmgr.store.stats import (
    DAY,
    HOUR,
    REQUEST_TYPES,
    get_historical_stats,
    latency_percentiles,
    model_totals,
    request_percentiles,
)

#: page period -> seconds
PERIODS: dict[str, int] = {"24h": DAY, "7j": 7 * DAY, "30j": 30 * DAY}
DEFAULT_PERIOD = "24h"
#: a node agent whose last answer is older than this is "stale"
AGENT_STALE_S = 300.0
HARDWARE_METRICS = ("cpu_percent", "ram_percent", "gpu_util", "vram_used", "disk_free")


def parse_period(text: str | None) -> str:
    """The period asked for, or the default when none or an unknown one is given.

    >>> parse_period("7j"), parse_period(None), parse_period("1an")
    ('7j', '24h', '24h')
    """
    return text if text in PERIODS else DEFAULT_PERIOD


@dataclass(frozen=True)
class Window:
    period: str
    start: float
    end: float

    @property
    def hourly(self) -> bool:
        return self.period == "24h"


def window(period: str, now: float | None = None) -> Window:
    end = time.time() if now is None else now
    return Window(period, end - PERIODS[period], end)


# -- health ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Incident:
    """Consecutive failed checks: ``end`` is the first check that passed again."""

    start: float
    end: float | None
    cause: str
    checks: int

    def duration(self, now: float) -> float:
        return (self.end if self.end is not None else now) - self.start


def find_incidents(
    points: Sequence[tuple[float, float]], cause: str = ""
) -> list[Incident]:
    """Runs of ``health == 0`` samples in time order.

    >>> [(i.start, i.end, i.checks) for i in find_incidents(
    ...     [(0, 1), (10, 0), (20, 0), (30, 1), (40, 0)])]
    [(10, 30, 2), (40, None, 1)]
    """
    incidents: list[Incident] = []
    began: float | None = None
    checks = 0
    for ts, value in sorted(points):
        if value < 0.5:
            if began is None:
                began, checks = ts, 0
            checks += 1
        elif began is not None:
            incidents.append(Incident(began, ts, cause, checks))
            began = None
    if began is not None:
        incidents.append(Incident(began, None, cause, checks))
    return incidents


def incidents_in(
    db: DatabaseManager, address: str, start: float, end: float, cause: str
) -> list[Incident]:
    """Incidents of one server: hourly rollups point at the hours with a failure,
    only those hours (and the next, to see the recovery) are read raw."""
    hours = db.query_series([address], "health", (start // HOUR) * HOUR, end, "hour")
    bad = [h.bucket for h in hours if h.min < 0.5]
    points: list[tuple[float, float]] = []
    for first, last in _ranges(bad):
        rows = db.query_series(
            [address], "health", max(first, start), last + 2 * HOUR, "raw"
        )
        points += [(r.bucket, r.sum) for r in rows]
    found = find_incidents(sorted(set(points)))
    # only the current outage can be explained by the server's last error
    return [
        Incident(i.start, i.end, cause if i.end is None else "", i.checks)
        for i in found
    ]


def _ranges(buckets: Sequence[float]) -> list[tuple[float, float]]:
    """Contiguous runs of hour buckets.

    >>> _ranges([0, 3600, 10800])
    [(0, 3600), (10800, 10800)]
    """
    runs: list[tuple[float, float]] = []
    for bucket in sorted(buckets):
        if runs and bucket - runs[-1][1] <= HOUR:
            runs[-1] = (runs[-1][0], bucket)
        else:
            runs.append((bucket, bucket))
    return runs


def uptime(points: Sequence[Rollup], since: float) -> float | None:
    """% of passed checks in hour buckets ending after ``since``; None if none."""
    inside = [p for p in points if p.bucket + HOUR > since]
    total = sum(p.count for p in inside)
    return 100 * sum(p.sum for p in inside) / total if total else None


@dataclass
class ServerHealth:
    name: str
    address: str
    healthy: bool | None
    last_check: str | None
    uptime: dict[str, float | None]
    incidents: list[Incident]
    health_points: list[tuple[float, float]] = field(default_factory=list)
    latency_points: list[tuple[float, float]] = field(default_factory=list)


def server_health(
    db: DatabaseManager,
    servers: Sequence[tuple[str, str]],
    win: Window,
) -> list[ServerHealth]:
    """Per ``(name, address)``: uptime 24h/7j/30j, incidents and chart series."""
    addresses = [a for _, a in servers]
    month_start = win.end - 30 * DAY
    month = db.query_series(addresses, "health", month_start, win.end + 1, "hour")
    latency = db.query_series(addresses, "latency", win.start, win.end + 1, "hour")
    docs = _server_docs(db, addresses)
    result = []
    for name, address in servers:
        mine = [p for p in month if p.server == address]
        doc = docs.get(address, {})
        cause = _cause(doc)
        result.append(
            ServerHealth(
                name=name,
                address=address,
                healthy=doc.get("healthy"),
                last_check=doc.get("last_check"),
                uptime={p: uptime(mine, win.end - s) for p, s in PERIODS.items()},
                incidents=incidents_in(db, address, win.start, win.end + 1, cause),
                health_points=[
                    (p.bucket, 100 * p.avg) for p in mine if p.bucket + HOUR > win.start
                ],
                latency_points=[
                    (p.bucket, p.avg) for p in latency if p.server == address
                ],
            )
        )
    return result


def _cause(doc: Mapping[str, Any]) -> str:
    error = doc.get("last_error") or doc.get("error")
    return str(error) if error else ""


def _server_docs(db: DatabaseManager, addresses: Sequence[str]) -> dict[str, Doc]:
    if not addresses:
        return {}
    docs = db.find("servers", [Where("address", "in", list(addresses))])
    return {str(d["address"]): d for d in docs}


# -- requests ----------------------------------------------------------------------------
@dataclass
class RequestStats:
    totals: dict[str, int]
    percentiles: dict[str, dict[str, float | int | None]]
    per_bucket: list[Doc]
    models: list[Doc]
    servers: list[Doc]


def request_stats(
    db: DatabaseManager, servers: Sequence[tuple[str, str]], win: Window
) -> RequestStats:
    """Requests per type and bucket, latency p50/p95, tokens/s, top models."""
    days = PERIODS[win.period] // DAY
    buckets = get_historical_stats(
        db, "hourly" if win.hourly else "daily", days, now=win.end
    )
    buckets = [b for b in buckets if b["timestamp"] + _size(win) > win.start]
    totals = {
        kind: sum(int(b[f"{kind}_requests"]) for b in buckets) for kind in REQUEST_TYPES
    }
    models = sorted(str(d["name"]) for d in db.find("models") if d.get("name"))
    per_server = []
    for name, address in servers:
        lat = latency_percentiles(
            db, [address], "request_latency", win.start, win.end + 1
        )
        rates = db.query_series([address], "tokens_per_s", win.start, win.end + 1)
        count = sum(r.count for r in rates)
        per_server.append(
            {
                "name": name,
                "requests": lat["count"],
                "p50": lat["p50"],
                "p95": lat["p95"],
                "tokens_per_s": sum(r.sum for r in rates) / count if count else None,
            }
        )
    return RequestStats(
        totals=totals,
        percentiles=request_percentiles(db, win.start, win.end + 1),
        per_bucket=buckets,
        models=model_totals(db, models, win.start, win.end + 1),
        servers=per_server,
    )


def _size(win: Window) -> int:
    return HOUR if win.hourly else DAY


# -- hardware ----------------------------------------------------------------------------
@dataclass
class NodeHardware:
    name: str
    address: str
    info: Doc
    stale: bool
    series: dict[str, list[tuple[float, float]]]
    agent: str | None = None  # the agent's address, as set on the Serveurs page

    @property
    def has_agent(self) -> bool:
        return self.agent is not None

    @property
    def answered(self) -> bool:
        """The agent answered at least once (its figures can be shown)."""
        return self.info.get("collected_at") is not None


def node_hardware(
    db: DatabaseManager, servers: Sequence[tuple[str, str]], win: Window
) -> list[NodeHardware]:
    """Per server: the last agent report and the hardware series of the window."""
    addresses = [a for _, a in servers]
    docs = _server_docs(db, addresses)
    series = {
        metric: db.query_series(addresses, metric, win.start, win.end + 1, "hour")
        for metric in HARDWARE_METRICS
    }
    nodes = []
    for name, address in servers:
        doc = docs.get(address, {})
        info = dict(doc.get("hardware_info") or {})
        agent = doc.get("agent_address")
        nodes.append(
            NodeHardware(
                name=name,
                address=address,
                agent=str(agent) if agent else None,
                info=info,
                stale=agent_stale(info, win.end),
                series={
                    metric: [(p.bucket, p.avg) for p in rows if p.server == address]
                    for metric, rows in series.items()
                },
            )
        )
    return nodes


def agent_stale(info: Mapping[str, Any], now: float) -> bool:
    """True when the agent failed last time or has not answered for a while.

    >>> agent_stale({"stale": False, "collected_at": 1000}, 1100)
    False
    >>> agent_stale({"stale": False, "collected_at": 1000}, 2000)
    True
    """
    if info.get("stale"):
        return True
    collected = info.get("collected_at")
    if not isinstance(collected, int | float):
        return True
    return now - collected > AGENT_STALE_S


def free_resources(info: Mapping[str, Any]) -> dict[str, int | None]:
    """Free VRAM (all GPUs), available RAM and free disk (models volume) in bytes.

    >>> free_resources({"gpu": {"gpus": [{"memory_total": 8, "memory_used": 3}]},
    ...     "memory": {"available": 16}, "disk": {"volumes": [
    ...     {"label": "models", "free": 100}]}})
    {'vram': 5, 'ram': 16, 'disk': 100}
    >>> free_resources({})
    {'vram': None, 'ram': None, 'disk': None}
    """
    gpus = (info.get("gpu") or {}).get("gpus") or []
    vram = (
        sum(max(0, int(g["memory_total"]) - int(g["memory_used"])) for g in gpus)
        if gpus
        else None
    )
    ram = (info.get("memory") or {}).get("available")
    volumes = (info.get("disk") or {}).get("volumes") or []
    models = next((v for v in volumes if v.get("label") == "models"), None)
    disk = models.get("free") if models else None
    return {
        "vram": vram,
        "ram": ram if isinstance(ram, int) else None,
        "disk": disk if isinstance(disk, int) else None,
    }
