"""Stop the services, start them again on the same data: nothing is lost."""

from __future__ import annotations

from pathlib import Path

from manager_support import started_services

from fleet_support import SMALL_MODELS
from ollama_webmgr.gateway.auth import hash_api_key
from ollama_webmgr.jobs.model import Job
from ollama_webmgr.jobs.records import JobRecorder
from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.ollama.urls import display_address
from ollama_webmgr.sim.fleet import running_fleet
from ollama_webmgr.store.records import record_audit
from ollama_webmgr.store.stats import get_stats_snapshot, update_request_stats
from ollama_webmgr.usecases import gateway_settings as gs
from waiting import wait_until


def test_config_keys_jobs_stats_and_servers_survive_a_restart(tmp_path: Path) -> None:
    with running_fleet([SMALL_MODELS, SMALL_MODELS[:1]]) as fleet:
        with started_services(fleet, tmp_path) as services:
            config = services.gateway.app.config
            gs.save_gateway_config(
                services.db, config, {"strategy": "round_robin", "max_attempts": 2}
            )
            key = gs.create_api_key(services.db, config, "ci").key
            second = services.servers.all()[1].name
            services.servers.set_draining(second, True)
            gs.save_draining(services.db, services.servers)
            finished = services.runner.submit("echo", {"model": "smollm2:135m"})
            wait_until(lambda: services.runner.get(finished.id).state == "done")
            # what a process killed in the middle of a pull leaves behind
            died = Job.new("echo", {"model": "all-minilm:latest"}).with_state("running")
            JobRecorder(services.db)(died)
            update_request_stats(services.db, "chat", 12.0)
            record_audit(services.db, "web", "gateway.config", "gateway")

        with started_services(fleet, tmp_path) as services:
            config = services.gateway.app.config
            assert (config.strategy, config.max_attempts) == ("round_robin", 2)
            assert config.api_key_hashes == {hash_api_key(key)}
            assert services.servers.get(second).draining
            assert services.runner.get(finished.id).state == "done"
            interrupted = services.runner.get(died.id)
            assert interrupted.state == "interrupted"
            assert services.background.report is not None
            assert services.background.report.interrupted == [died.id]
            stored = services.db.get("jobs", died.id)
            assert stored is not None
            assert stored["state"] == "interrupted"
            retried = services.runner.retry(died.id)
            wait_until(lambda: services.runner.get(retried.id).state == "done")
            assert services.runner.get(retried.id).result == {
                "echo": {"model": "all-minilm:latest"}
            }
            assert get_stats_snapshot(services.db)["chat_requests"] == 1
            addresses = {d["address"] for d in services.db.find("servers")}
            assert addresses == {display_address(u) for u in fleet.urls}
            assert services.db.count("audit") == 1


def test_a_restart_reconciles_models_that_appeared_or_vanished(tmp_path: Path) -> None:
    with running_fleet([SMALL_MODELS, SMALL_MODELS[:1]]) as fleet:
        with started_services(fleet, tmp_path) as services:
            report = services.background.report
            assert report is not None
            assert sorted(report.appeared) == sorted(SMALL_MODELS)
            assert report.vanished == []
        # while the application was stopped: one model deleted, one pulled
        first, second = fleet.nodes
        installed = first.state.find(SMALL_MODELS[1])
        assert installed is not None
        first.state.delete(installed)
        second_model = "tinyllama:latest"
        entry = fleet.registry.lookup(second_model)
        assert entry is not None
        second.state.install(ModelName.parse(second_model), entry)

        with started_services(fleet, tmp_path) as services:
            report = services.background.report
            assert report is not None
            assert report.vanished == [SMALL_MODELS[1]]
            assert report.appeared == [second_model]
            models = {d["name"]: d for d in services.db.find("models")}
            assert models[SMALL_MODELS[1]]["servers"] == []
            assert models[second_model]["servers"] == [display_address(second.url)]
            assert sorted(models[SMALL_MODELS[0]]["servers"]) == sorted(
                display_address(u) for u in fleet.urls
            )
