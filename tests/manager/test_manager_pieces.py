"""The small parts of the wiring: scheduler, stored settings, job and check writers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from ollama_webmgr.cluster.health import HealthMonitor, Policy
from ollama_webmgr.cluster.models import ModelMap
from ollama_webmgr.cluster.servers import Server, ServerRegistry
from ollama_webmgr.gateway.auth import hash_api_key
from ollama_webmgr.gateway.config import GatewayConfig
from ollama_webmgr.gateway.upstream import Upstreams
from ollama_webmgr.jobs.model import Job, Progress
from ollama_webmgr.jobs.records import JobRecorder, stored_jobs
from ollama_webmgr.manager.recording import HealthRecorder
from ollama_webmgr.ollama.urls import display_address
from ollama_webmgr.runtime.background import ConfigSync, Periodic, Scheduler
from ollama_webmgr.runtime.services import build_services
from ollama_webmgr.settings import Settings
from ollama_webmgr.sim.app import create_app
from ollama_webmgr.sim.serve import serve_in_thread
from ollama_webmgr.sim.state import SimState
from ollama_webmgr.store.database import DatabaseManager, open_database
from ollama_webmgr.store.stats import health_series
from ollama_webmgr.usecases import gateway_settings as gs


@pytest.fixture
def db(tmp_path: Path) -> Iterator[DatabaseManager]:
    database = open_database(f"sqlite:///{tmp_path / 'test.sqlite3'}")
    yield database
    database.close()


def test_scheduler_runs_each_task_when_due_and_survives_failures() -> None:
    now = [0.0]
    calls: list[str] = []

    def broken() -> None:
        calls.append("broken")
        raise RuntimeError("boom")

    scheduler = Scheduler(
        [
            Periodic("often", 5, lambda: calls.append("often")),
            Periodic("broken", 5, broken, first_after=0),
            Periodic("rare", 60, lambda: calls.append("rare")),
        ],
        clock=lambda: now[0],
    )
    scheduler.plan()  # driven by hand: no thread
    for moment in (0.0, 5.0, 10.0, 60.0):
        now[0] = moment
        scheduler.run_due()
    assert calls == [
        *("broken", "often", "broken", "often", "broken"),
        *("often", "broken", "rare"),
    ]


def test_scheduler_thread_runs_due_tasks_and_stops() -> None:
    ran = threading.Event()
    scheduler = Scheduler([Periodic("now", 60, ran.set, first_after=0)])
    scheduler.start()
    try:
        assert ran.wait(5)
    finally:
        scheduler.stop()


def test_stored_settings_that_no_longer_validate_are_skipped(
    db: DatabaseManager,
) -> None:
    db.upsert(
        "config",
        ["key"],
        {"key": gs.CONFIG_KEY, "value": {"strategy": "random", "max_attempts": 5}},
    )
    config = gs.load_gateway_config(db, GatewayConfig())
    assert (config.strategy, config.max_attempts) == ("least_in_flight", 5)


def test_unknown_settings_are_refused_before_anything_changes(
    db: DatabaseManager,
) -> None:
    config = GatewayConfig()
    with pytest.raises(ValueError, match="api_key_hashes"):
        gs.save_gateway_config(db, config, {"api_key_hashes": ["x"]})
    assert config.api_key_hashes == frozenset()
    assert db.count("config") == 0


def test_job_records_are_written_on_state_changes_only(db: DatabaseManager) -> None:
    recorder = JobRecorder(db)
    job = Job.new("pull_model", {"model": "llama3.2", "server": "gpu"})
    running = job.with_state("running")
    recorder(job)
    recorder(running)
    recorder(replace(running, progress=Progress(status="downloading", completed=5)))
    before = db.get("jobs", job.id)
    recorder(running.with_state("done", result={"ok": True}))
    after = db.get("jobs", job.id)
    assert before is not None
    assert after is not None
    assert before["job"]["progress"]["completed"] is None  # progress not written
    assert (after["state"], after["target"], after["server"]) == (
        "done",
        "llama3.2",
        "gpu",
    )
    assert after["finished_at"]
    assert stored_jobs(db)[0].result == {"ok": True}


def test_each_probe_of_the_monitor_is_recorded(db: DatabaseManager) -> None:
    state = SimState.with_models(["llama3.2:latest"])
    with serve_in_thread(create_app(state)) as node:
        registry = ServerRegistry(
            [Server("a", node.url), Server("b", "http://127.0.0.1:9")]
        )
        monitor = HealthMonitor(
            registry,
            ModelMap(),
            Policy(health_timeout=1),
            on_check=HealthRecorder(db, lambda name: 2),
            clients=Upstreams(),
        )
        monitor.check_all()
    servers = {d["address"]: d for d in db.find("servers")}
    address = display_address(node.url)
    up = health_series(db, address, "health", "1h")
    latency = health_series(db, address, "latency", "1h")
    down = health_series(db, "127.0.0.1:9", "health", "1h")
    assert (servers[address]["healthy"], servers[address]["name"]) == (True, "a")
    assert servers[address]["load"] == 2.0
    assert servers["127.0.0.1:9"]["healthy"] is False
    assert [(p.count, p.avg) for p in up] == [(1, 1.0)]
    assert latency[0].avg > 0
    assert [(p.count, p.avg) for p in down] == [(1, 0.0)]


def test_job_documents_without_a_full_record_are_read_too(db: DatabaseManager) -> None:
    db.insert(
        "jobs",
        {
            "id": "j1",
            "kind": "pull_model",
            "state": "running",
            "params": {"model": "llama3.2"},
        },
    )
    db.insert("jobs", {"id": "j2", "kind": "pull_model", "state": "exploded"})
    (job,) = stored_jobs(db)
    assert (job.id, job.state, job.params) == ("j1", "running", {"model": "llama3.2"})
    assert job.created_at > 0


def test_a_separate_gateway_process_picks_up_settings_edited_in_the_ui(
    tmp_path: Path,
) -> None:
    settings = Settings(ollama_base_url="http://127.0.0.1:9", data_dir=str(tmp_path))
    web, gateway = build_services(settings), build_services(settings)
    try:
        sync = ConfigSync(gateway)
        sync()  # nothing changed yet
        assert gateway.gateway.app.config.strategy == "least_in_flight"
        gs.save_gateway_config(web.db, web.gateway.app.config, {"strategy": "latency"})
        key = gs.create_api_key(web.db, web.gateway.app.config, "ci").key
        name = web.servers.all()[0].name
        web.servers.set_draining(name, True)
        gs.save_draining(web.db, web.servers)
        sync()
        assert gateway.gateway.app.config.strategy == "latency"
        assert gateway.gateway.app.config.api_key_hashes == {hash_api_key(key)}
        assert gateway.servers.get(name).draining
        web.servers.set_draining(name, False)
        gs.save_draining(web.db, web.servers)
        sync()
        assert not gateway.servers.get(name).draining
    finally:
        web.close()
        gateway.close()
