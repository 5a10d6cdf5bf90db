"""The pull watchdog: stalled or backwards pulls restart by themselves.

Real sockets end to end: the web app's JSON API, a job on the thread runner (or
on a real RQ worker), the emulated node's ``/api/pull`` with its stall knobs.
The stall window is 1 s here (the setting), so each test lasts a few seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from models_api_support import model_names, post, read_sse, wait_finished

from fleet_support import fleet_services
from ollama_webmgr.jobs.model import Job
from ollama_webmgr.runtime.services import Services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import EmulatedFleet
from ollama_webmgr.sim.serve import RunningServer, serve_in_thread
from ollama_webmgr.sim.state import SimState
from waiting import wait_until

MODEL = "all-minilm:latest"  # "46 MB" (scaled in the emulator), on node A only: pulled on node B
WINDOW = 1.0


@pytest.fixture
def services(fleet: EmulatedFleet, tmp_path: Path) -> Iterator[Services]:
    with fleet_services(
        fleet,
        tmp_path,
        models_cache_ttl=60.0,
        pull_stall_timeout=WINDOW,
        pull_max_restarts=2,
    ) as built:
        yield built


@pytest.fixture
def web(app: Flask) -> Iterator[RunningServer]:
    with serve_in_thread(app) as running:
        yield running


def size(fleet: EmulatedFleet) -> int:
    """MODEL's bytes: the catalogue's size, scaled."""
    entry = fleet.registry.lookup(MODEL)
    assert entry is not None
    return entry.size


def at_share(fleet: EmulatedFleet, share: float) -> int:
    """A byte count ``share`` of the way through MODEL."""
    return int(size(fleet) * share)


def node_b(fleet: EmulatedFleet, seconds: float = 2.0) -> SimState:
    """Node B, where a pull of MODEL takes about ``seconds`` when nothing stalls."""
    state = fleet.nodes[1].state
    state.bandwidth = size(fleet) / seconds
    return state


def pull(client: FlaskClient, names: list[str]) -> str:
    answer = post(client, "/api/models/pull", {"name": MODEL, "server": names[1]})
    assert answer.status_code == 202
    return str(answer.json["job_id"])


def restart_events(services: Services, job_id: str) -> list[dict[str, Any]]:
    return [
        e.data
        for e in services.bus.events(job_id, None, timeout=0)
        if e.type == "status" and "restarts" in e.data
    ]


def first_completed_after_restart(services: Services, job_id: str) -> int:
    """Bytes the first progress line after the first restart showed."""
    events = list(services.bus.events(job_id, None, timeout=0))
    restart = next(i for i, e in enumerate(events) if "restarts" in e.data)
    after = [e for e in events[restart:] if e.type == "progress"]
    return int(after[0].data.get("completed") or 0)


@pytest.mark.parametrize("silent", [False, True], ids=["flat-lines", "no-line"])
def test_a_stalled_pull_restarts_by_itself_resumes_and_completes(
    client: FlaskClient,
    services: Services,
    fleet: EmulatedFleet,
    web: RunningServer,
    names: list[str],
    silent: bool,
) -> None:
    node = node_b(fleet)
    # Ollama repeats the same ``completed`` on its ticker; a dead link sends nothing
    node.faults.update(
        {
            "pull_stall_after": at_share(fleet, 10 / 46),
            "pull_stall_for": 1.6,
            "pull_stall_silent": silent,
        }
    )
    job_id = pull(client, names)
    events = read_sse(web.url, job_id)
    assert events[-1].event == "done"
    job = services.runner.get(job_id)
    assert job.state == "done"
    assert job.progress.restarts >= 1
    assert job.progress.restart_reason == "stalled"
    restarts = restart_events(services, job_id)
    assert [r["restarts"] for r in restarts] == list(range(1, len(restarts) + 1))
    assert all(r["reason"] == "stalled" for r in restarts)
    # what the page shows of each restart, in French
    texts = [e.json().get("status_text") for e in events if e.event == "status"]
    assert "relancé automatiquement (1) : aucun octet reçu depuis 1 s" in texts
    # Ollama kept the partial blob: the new pull resumed, it did not start over
    assert first_completed_after_restart(services, job_id) >= at_share(fleet, 10 / 46)
    assert MODEL in model_names(client, names[1])


def test_a_pull_that_stays_stuck_fails_after_its_restarts_with_the_reason(
    client: FlaskClient,
    services: Services,
    fleet: EmulatedFleet,
    names: list[str],
) -> None:
    node = node_b(fleet)
    node.faults.update(
        {"pull_stall_after": at_share(fleet, 5 / 46), "pull_stall_for": 600.0}
    )
    job_id = pull(client, names)
    job = wait_finished(services, job_id, limit=15.0)
    assert job.state == "error"
    assert job.error_code == "pull_stalled"
    assert job.progress.restarts == 2
    assert len(restart_events(services, job_id)) == 2
    answer = client.get(f"/api/jobs/{job_id}").json["job"]
    assert answer["message"] == (
        "Téléchargement abandonné après 2 relances automatiques : "
        "aucun octet reçu depuis 1 s."
    )
    assert answer["progress"]["restarts"] == 2
    # the last connection was closed: the node stopped downloading, kept the part
    wait_until(lambda: not node.downloads, what="the node to stop downloading")
    assert node.partial
    assert MODEL not in model_names(client, names[1])


def test_progress_going_backwards_restarts_the_pull(
    client: FlaskClient,
    services: Services,
    fleet: EmulatedFleet,
    names: list[str],
) -> None:
    node = node_b(fleet)
    node.faults.update({"pull_backwards_after": at_share(fleet, 20 / 46)})
    job_id = pull(client, names)
    job = wait_finished(services, job_id, limit=15.0)
    assert job.state == "done"
    assert (job.progress.restarts, job.progress.restart_reason) == (1, "backwards")
    (restart,) = restart_events(services, job_id)
    assert restart["reason"] == "backwards"
    page = client.get("/models/-/jobs/" + job_id)
    assert "relancé automatiquement (1) : la progression a reculé" in page.text


def wait_restarted(services: Services, job_id: str) -> Job:
    return wait_until(
        lambda: (job := services.runner.get(job_id)).progress.restarts >= 1 and job,
        timeout=10.0,
        what="a watchdog restart",
    )


def test_cancel_still_stops_a_silent_pull_the_watchdog_restarted(
    client: FlaskClient,
    services: Services,
    fleet: EmulatedFleet,
    names: list[str],
) -> None:
    node = node_b(fleet)
    node.faults.update(
        {
            "pull_stall_after": at_share(fleet, 5 / 46),
            "pull_stall_for": 4.0,
            "pull_stall_silent": True,
        }
    )
    job_id = pull(client, names)
    wait_restarted(services, job_id)
    assert client.delete(f"/api/jobs/{job_id}").status_code == 200
    # the watchdog's helper checks for a cancel every second: no line is needed
    job = wait_finished(services, job_id, limit=1.8)
    assert job.state == "cancelled"
    assert job.progress.restarts == 1
    # the emulator notices a closed connection when it next writes: after its stall
    wait_until(lambda: not node.downloads, what="the node to stop downloading")


def test_a_pull_on_an_rq_worker_restarts_by_itself(
    services: Services,
    fleet: EmulatedFleet,
    names: list[str],
    redis_conn: Any,
    redis_prefix: str,
) -> None:
    pytest.importorskip("rq")
    from ollama_webmgr.jobs.rq_runner import RQRunner
    from ollama_webmgr.jobs.tasks import TASKS_REF
    from rq_workers import run_burst

    runner = RQRunner(
        redis_conn, tasks_ref=TASKS_REF, prefix=redis_prefix, queue=redis_prefix
    )
    rq_services = replace(services, runner=runner, bus=runner.bus)
    client = create_app(services=rq_services).test_client()
    node = node_b(fleet)
    node.faults.update(
        {"pull_stall_after": at_share(fleet, 10 / 46), "pull_stall_for": 1.5}
    )
    job_id = pull(client, names)
    run_burst(redis_conn, redis_prefix)
    job = wait_finished(rq_services, job_id)
    assert job.state == "done"
    assert job.progress.restarts >= 1
    assert restart_events(rq_services, job_id)[0]["reason"] == "stalled"
    assert MODEL in model_names(client, names[1])
