"""``/api/v1/...``: the measured history of the fleet (read-only JSON).

* ``GET /api/v1/servers/history?server=&metric=&period=``: one metric of one
  server over a window. ``server``: its name or address (required); ``metric``:
  ``health`` (1 up, 0 down; the mean is the uptime), ``latency`` (probe, ms),
  ``load`` (gateway requests running), ``request_latency`` and ``ttft`` (ms, from
  gateway requests), and from node agents ``cpu_percent``, ``ram_percent``,
  ``gpu_util``, ``vram_used`` and ``disk_free`` (bytes); ``period``: ``1h`` (raw samples), ``24h``, ``7d``, ``30d``
  (hourly points) or ``365d`` (daily points); default ``24h``.
* ``GET /api/v1/servers/health``: last state and uptime % over 24 h / 7 d / 30 d.
* ``GET /api/v1/stats/requests?period=&type=&days=``: requests per ``hourly``,
  ``daily`` (default) or ``weekly`` period over the last ``days`` days (default
  1, 7, 28 by period); ``type`` ``all`` (default), ``generate``, ``chat``,
  ``embedding`` or ``other``.
* ``GET /api/v1/nodes/hardware?server=``: what node agents reported, plus the
  VRAM used by loaded models (from ``/api/ps``, as the gateway last saw it).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, cast

from flask import Blueprint, Response, jsonify, request

from ollama_webmgr.api.openapi import (
    BAD,
    OK,
    STR,
    UNKNOWN,
    enum,
    operation,
    query,
)
from ollama_webmgr.api.params import choice, fail, integer, server_of
from ollama_webmgr.cluster.hardware import METRICS as HARDWARE_METRICS
from ollama_webmgr.cluster.hardware import vram_from_ps
from ollama_webmgr.edge.services import get_services
from ollama_webmgr.ollama.urls import display_address
from ollama_webmgr.store.repositories import (
    REQUEST_TYPES,
    WINDOWS,
    History,
    Period,
    RequestPeriod,
    ServerHealth,
    ServerRecords,
)

bp = Blueprint("api_history", __name__, url_prefix="/api/v1")

METRICS = ("health", "latency", "load", "request_latency", "ttft", *HARDWARE_METRICS)
PERIODS = ("hourly", "daily", "weekly")
DEFAULT_DAYS = {"hourly": 1, "daily": 7, "weekly": 28}
MAX_DAYS = 400


@bp.get("/servers/history")
@operation(
    "historique",
    "Historique d’une mesure d’un serveur",
    params=[
        query("server", STR, "Nom ou adresse du serveur", True),
        query("metric", enum(*METRICS), "Mesure (défaut health)"),
        query("period", enum(*WINDOWS), "Fenêtre (défaut 24h)"),
    ],
    answers={**OK, **BAD, **UNKNOWN},
)
def server_history() -> Response:
    services = get_services()
    raw = request.args.get("server", "")
    if not raw:
        fail("Paramètre « server » manquant : le nom ou l’adresse d’un serveur.")
    server = server_of(services.servers, raw)
    metric = choice("metric", METRICS, "health")
    period = choice("period", tuple(WINDOWS), "24h")
    address = display_address(server.url)
    points = History(services.db).series(address, metric, period)
    return jsonify(
        server=server.name,
        address=address,
        metric=metric,
        period=period,
        resolution=WINDOWS[period][1],
        points=[
            {
                "t": p.bucket,
                "count": p.count,
                "avg": round(p.avg, 3),
                "min": p.min,
                "max": p.max,
            }
            for p in points
        ],
    )


@bp.get("/servers/health")
@operation("historique", "État et disponibilité (%) sur 24 h, 7 j, 30 j", answers=OK)
def servers_health() -> Response:
    report = History(get_services().db).health_report()
    return jsonify(servers=[_health_json(server) for server in report])


def _health_json(server: ServerHealth) -> dict[str, Any]:
    return {**asdict(server), "uptime": dict(server.uptime)}


@bp.get("/stats/requests")
@operation(
    "historique",
    "Requêtes par période",
    params=[
        query("period", enum(*PERIODS), "Période (défaut daily)"),
        query("type", enum("all", *REQUEST_TYPES), "Type de requête (défaut all)"),
        query(
            "days",
            {"type": "integer", "minimum": 1, "maximum": MAX_DAYS},
            "Nombre de jours (défaut 1, 7 ou 28 selon la période)",
        ),
    ],
    answers={**OK, **BAD},
)
def request_stats() -> Response:
    period = cast(Period, choice("period", PERIODS, "daily"))
    kind = choice("type", ("all", *REQUEST_TYPES), "all")
    days = integer("days", DEFAULT_DAYS[period], 1, MAX_DAYS)
    periods = History(get_services().db).request_periods(period, days)
    rows = [_request_json(row, kind) for row in periods]
    return jsonify(period=period, type=kind, days=days, rows=rows)


def _request_json(row: RequestPeriod, kind: str) -> dict[str, Any]:
    """Every total for ``all``; else the period and that type's count."""
    if kind == "all":
        return {**asdict(row), "requests": row.total_requests}
    return {
        "period": row.period,
        "timestamp": row.timestamp,
        "requests": row.requests_of(kind),
    }


@bp.get("/nodes/hardware")
@operation(
    "historique",
    "Matériel des nœuds (agent) et VRAM utilisée",
    params=[query("server", STR, "Nom ou adresse (défaut : tous)")],
    answers={**OK, **UNKNOWN},
)
def nodes_hardware() -> Response:
    services = get_services()
    wanted = request.args.get("server")
    servers = services.servers.all()
    if wanted is not None:
        servers = [server_of(services.servers, wanted)]
    stored = ServerRecords(services.db).by_addresses(
        [display_address(s.url) for s in servers]
    )
    models = services.gateway.app.models
    nodes: list[dict[str, Any]] = []
    for server in servers:
        address = display_address(server.url)
        record = stored.get(address)
        running = models.running_of(server.name)
        nodes.append(
            {
                "server": server.name,
                "address": address,
                "url": server.url,
                "agent_address": record.agent_address if record else None,
                "hardware_info": record.hardware_info if record else None,
                # what Ollama itself says, agent or not (as the gateway last saw it)
                "vram_used": vram_from_ps(running),
                "loaded_models": [
                    {"name": m.get("name"), "size_vram": vram_from_ps([m])}
                    for m in running
                ],
            }
        )
    return jsonify(nodes=nodes)
