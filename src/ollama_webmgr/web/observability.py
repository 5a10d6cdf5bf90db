"""Supervision pages: Santé, Statistiques, Matériel, and the fit-hint fragment.

Routes parse ``?period=24h|7j|30j`` and ``?server=<name>`` (absent or unknown:
every server), call one view function of ``usecases.observability`` and render.
Charts are SVG built here (``web.charts``) so templates only place them.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, request
from markupsafe import Markup

from ollama_webmgr.edge.services import get_services
from ollama_webmgr.ollama.urls import display_address
from ollama_webmgr.usecases import observability as obs
from ollama_webmgr.usecases.running import loaded_models
from ollama_webmgr.web import charts
from ollama_webmgr.web.fit_view import fit_fragment
from ollama_webmgr.web.htmx import render_page

if TYPE_CHECKING:
    from ollama_webmgr.runtime.services import Services

bp = Blueprint("observability", __name__)

PERIOD_LABELS = {"24h": "24 h", "7j": "7 jours", "30j": "30 jours"}
TYPE_LABELS = {
    "generate": "Génération",
    "chat": "Chat",
    "embedding": "Vectorisation",
    "other": "Autres",
}


def _local_tz() -> dt.tzinfo | None:
    return dt.datetime.now().astimezone().tzinfo


def _selection(services: Services) -> tuple[obs.Window, list[tuple[str, str]], str]:
    period = obs.parse_period(request.args.get("period"))
    chosen = request.args.get("server", "")
    # the store keys every sample and document by address (``host:port``)
    every = [(s.name, display_address(s.url)) for s in services.servers.all()]
    picked = [pair for pair in every if pair[0] == chosen] or every
    return obs.window(period), picked, chosen if len(picked) == 1 else ""


def _common(win: obs.Window, chosen: str) -> dict[str, Any]:
    return {
        "period": win.period,
        "periods": PERIOD_LABELS,
        "chosen_server": chosen,
        "hourly": win.hourly,
    }


def when(ts: float, tz: dt.tzinfo | None = None) -> str:
    """``JJ/MM/AAAA HH:MM`` (local time of the server).

    >>> when(1_700_000_000, dt.UTC)
    '14/11/2023 22:13'
    """
    return dt.datetime.fromtimestamp(ts, tz or _local_tz()).strftime("%d/%m/%Y %H:%M")


def duration(seconds: float) -> str:
    """A French duration.

    >>> duration(42), duration(125), duration(3 * 3600 + 300), duration(2 * 86400 + 3600)
    ('42 s', '2 min', '3 h 05 min', '2 j 1 h')
    """
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} j {hours} h"


@bp.get("/sante")
def health_page() -> Response:
    services = get_services()
    win, servers, chosen = _selection(services)
    rows = obs.server_health(services.db, servers, win)
    tz = _local_tz()
    health_chart = charts.line_chart(
        "chart-sante",
        f"Disponibilité par heure ({PERIOD_LABELS[win.period]})",
        [charts.Series(r.name, r.health_points) for r in rows],
        unit="%",
        y_max=100.0,
        area=len(rows) == 1,
        start=win.start,
        end=win.end,
        hourly=win.hourly,
        tz=tz,
    )
    latency_chart = charts.line_chart(
        "chart-latence",
        f"Latence des contrôles ({PERIOD_LABELS[win.period]})",
        [charts.Series(r.name, r.latency_points) for r in rows],
        unit="ms",
        start=win.start,
        end=win.end,
        hourly=win.hourly,
        tz=tz,
    )
    incidents = sorted(
        ((r.name, i) for r in rows for i in r.incidents), key=lambda p: -p[1].start
    )
    has_data = any(r.health_points or r.uptime["30j"] is not None for r in rows)
    return render_page(
        "sante.html",
        rows=rows,
        incidents=incidents,
        has_data=has_data,
        health_chart=health_chart,
        latency_chart=latency_chart,
        now=time.time(),
        when=lambda ts: when(ts, tz),
        duration=duration,
        fr=charts.fr_number,
        **_common(win, chosen),
    )


@bp.get("/statistiques")
def stats_page() -> Response:
    services = get_services()
    win, servers, chosen = _selection(services)
    stats = obs.request_stats(services.db, servers, win)
    tz = _local_tz()
    series = [
        charts.Series(
            TYPE_LABELS[kind],
            [(b["timestamp"], float(b[f"{kind}_requests"])) for b in stats.per_bucket],
        )
        for kind in TYPE_LABELS
        if stats.totals[kind]
    ]
    unit = "heure" if win.hourly else "jour"
    requests_chart = charts.line_chart(
        "chart-requetes",
        f"Requêtes par {unit} et par type ({PERIOD_LABELS[win.period]})",
        series,
        start=win.start,
        end=win.end,
        hourly=win.hourly,
        tz=tz,
        decimals=0,
    )
    top = stats.models[:8]
    models_chart = charts.bar_chart(
        "chart-modeles",
        "Modèles les plus demandés (requêtes)",
        [(m["model"], float(m["requests"])) for m in top],
        decimals=0,
    )
    return render_page(
        "statistiques.html",
        stats=stats,
        type_labels=TYPE_LABELS,
        has_data=sum(stats.totals.values()) > 0 or bool(stats.models),
        requests_chart=requests_chart,
        models_chart=models_chart,
        fr=charts.fr_number,
        **_common(win, chosen),
    )


HARDWARE_CHARTS = (
    ("cpu_percent", "Processeur", "%", 100.0, 1.0),
    ("ram_percent", "Mémoire vive", "%", 100.0, 1.0),
    ("gpu_util", "GPU", "%", 100.0, 1.0),
    ("vram_used", "VRAM utilisée", "Go", None, 1e9),
    ("disk_free", "Disque libre (modèles)", "Go", None, 1e9),
)


def _vram_told_by_ollama(services: Services, names: set[str]) -> dict[str, int | None]:
    """Without an agent, what Ollama itself tells: VRAM used by loaded models
    (``/api/ps``); ``None`` for a server that did not answer."""
    servers = [s for s in services.servers.all() if s.name in names]
    return {
        outcome.server.name: None
        if outcome.error is not None or outcome.value is None
        else sum(model.size_vram for model in outcome.value)
        for outcome in loaded_models(services, servers)
    }


AGENT_PROBLEMS = (
    ("unreachable", "injoignable"),
    ("did not answer", "pas de réponse à temps"),
    ("refused the token", "jeton refusé (AGENT_TOKEN)"),
    ("does not offer", "ce n’est pas un agent ollama-webmgr"),
)


def agent_problem(error: object) -> str:
    """Why an agent gave nothing, in French (the stored reason is English).

    >>> agent_problem("127.0.0.1:1 is unreachable (failed to connect)")
    'injoignable'
    >>> agent_problem(None), agent_problem("store: disk full")
    ('', 'erreur inattendue')
    """
    if not error:
        return ""
    text = str(error)
    return next((fr for en, fr in AGENT_PROBLEMS if en in text), "erreur inattendue")


@bp.get("/materiel")
def hardware_page() -> Response:
    services = get_services()
    win, servers, chosen = _selection(services)
    nodes = obs.node_hardware(services.db, servers, win)
    tz = _local_tz()
    node_charts: dict[str, list[Markup]] = {}
    for index, node in enumerate(nodes):
        node_charts[node.name] = [
            charts.line_chart(
                f"chart-hw-{index}-{metric}",
                f"{label} — {node.name}",
                [
                    charts.Series(
                        label, [(t, v / scale) for t, v in node.series[metric]]
                    )
                ],
                start=win.start,
                end=win.end,
                unit=unit,
                y_max=y_max,
                area=True,
                hourly=win.hourly,
                tz=tz,
            )
            for metric, label, unit, y_max, scale in HARDWARE_CHARTS
            if node.series[metric]
        ]
    return render_page(
        "materiel.html",
        nodes=nodes,
        node_charts=node_charts,
        ollama_vram=_vram_told_by_ollama(
            services, {n.name for n in nodes if not n.has_agent}
        ),
        free={n.name: obs.free_resources(n.info) for n in nodes},
        agent_problem=agent_problem,
        when=lambda ts: when(ts, tz),
        fr=charts.fr_number,
        **_common(win, chosen),
    )


@bp.get("/h/fit")
def fit_hint_fragment() -> Response:
    return fit_fragment(get_services())
