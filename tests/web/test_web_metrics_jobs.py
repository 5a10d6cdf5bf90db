"""/metrics counts the jobs of a real ThreadRunner; the fit hint over real nodes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from web_support import parse

from fleet_support import SMALL_MODELS, fleet_settings
from ollama_webmgr.errors import JobError
from ollama_webmgr.jobs.bus import MemoryBus
from ollama_webmgr.jobs.context import TaskContext
from ollama_webmgr.jobs.runner import ThreadRunner
from ollama_webmgr.ollama.urls import display_address
from ollama_webmgr.runtime.services import build_services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import running_fleet
from ollama_webmgr.store.records import record_hardware


def quick_pull(params: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    ctx.report("progress", {"status": "pulling", "completed": 1, "total": 2})
    if params.get("fail"):
        raise JobError("pull refused")
    return {"ok": True}


def wait_finished(runner: ThreadRunner, job_id: str) -> None:
    deadline = time.monotonic() + 5
    while not runner.get(job_id).finished:
        assert time.monotonic() < deadline, "job did not finish"
        time.sleep(0.01)


def metric_value(text: str, line_start: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{line_start} not in /metrics")


def test_metrics_count_pulls_and_job_durations(tmp_path: Path) -> None:
    with running_fleet([SMALL_MODELS]) as fleet:
        services = build_services(fleet_settings(fleet, tmp_path))
        runner = ThreadRunner({"pull_model": quick_pull}, MemoryBus())
        services.runner = runner
        app = create_app(services=services)
        ok = runner.submit("pull_model", {"model": "a"})
        bad = runner.submit("pull_model", {"model": "b", "fail": True})
        wait_finished(runner, ok.id)
        wait_finished(runner, bad.id)
        text = app.test_client().get("/metrics").get_data(as_text=True)
        services.close()

    assert metric_value(text, 'webmgr_pulls_total{outcome="started"}') == 2
    assert metric_value(text, 'webmgr_pulls_total{outcome="done"}') == 1
    assert metric_value(text, 'webmgr_pulls_total{outcome="error"}') == 1
    assert metric_value(text, 'webmgr_jobs_active{kind="pull_model"}') == 0
    assert metric_value(text, 'webmgr_jobs_total{kind="pull_model",state="done"}') == 1
    assert (
        metric_value(text, 'webmgr_job_duration_seconds_count{kind="pull_model"}') == 2
    )


def test_fit_hint_compares_the_model_with_each_node(tmp_path: Path) -> None:
    with running_fleet([SMALL_MODELS, []]) as fleet:
        services = build_services(fleet_settings(fleet, tmp_path))
        first, second = services.servers.all()
        record_hardware(
            services.db,
            display_address(first.url),  # the key the agents' reports are stored by
            {
                "agent": "node1:50051",
                "gpu": {"gpus": [{"memory_total": 8 * 10**9, "memory_used": 10**9}]},
                "memory": {"available": 16 * 10**9},
                "disk": {"volumes": [{"label": "models", "free": 10**11}]},
            },
        )
        client = create_app(services=services).test_client()
        doc = parse(
            client.get(f"/h/fit?model={SMALL_MODELS[0]}&server={first.name}").data
        )
        remote = parse(client.get(f"/h/fit?model=big:70b&size={40 * 10**9}").data)
        bad = client.get("/h/fit?model=&size=x")
        services.close()

    items = [li.get_text(" ", strip=True) for li in doc.select("#fit-hint li")]
    assert items[0].startswith(f"{first.name} : tient en VRAM")
    # the second node has no agent: only Ollama's view of its loaded models
    assert items[1].startswith(f"{second.name} : matériel inconnu")
    assert "aucun modèle chargé" in items[1]
    far = [li.get_text(" ", strip=True) for li in remote.select("#fit-hint li")]
    assert far[0].startswith(f"{first.name} : ne tient pas")
    assert bad.status_code == 400
    assert "invalide" in parse(bad.data).get_text()
