"""The typed repositories read what the writers stored, alike on every backend."""

from __future__ import annotations

import dataclasses

import pytest

from ollama_webmgr.cluster.hardware import set_agent_address
from ollama_webmgr.store.database import DatabaseManager
from ollama_webmgr.store.records import (
    record_hardware,
    record_model_map,
    record_server_check,
)
from ollama_webmgr.store.repositories import (
    History,
    ModelRecord,
    ModelRecords,
    ServerRecord,
    ServerRecords,
)
from ollama_webmgr.store.stats import update_request_stats


def test_server_records_by_address_agent_and_all(db: DatabaseManager) -> None:
    record_server_check(db, "b:1", healthy=False, name="beta")
    record_server_check(db, "a:1", healthy=True)
    record_hardware(db, "a:1", {"cpu": {"cores": 8}})
    set_agent_address(db, "a:1", "a:50051")
    servers = ServerRecords(db)
    alpha = servers.by_address("a:1")
    assert alpha is not None
    assert (alpha.address, alpha.name, alpha.healthy) == ("a:1", None, True)
    assert (alpha.agent_address, alpha.hardware) == ("a:50051", {"cpu": {"cores": 8}})
    assert alpha.label == "a:1"
    assert servers.by_address("c:1") is None
    assert [r.label for r in servers.with_agent()] == ["a:1"]
    assert sorted(servers.by_addresses(["b:1", "c:1"])) == ["b:1"]
    assert servers.by_addresses([]) == {}
    beta = servers.all()[1]
    assert (beta.label, beta.healthy, beta.hardware_info) == ("beta", False, None)
    assert beta.hardware == {}


def test_model_records_keep_only_a_usable_size(db: DatabaseManager) -> None:
    record_model_map(db, "qwen:1b", {"n1": "sha256:a"}, size=1_000)
    record_model_map(db, "odd:1b", {}, size="big")
    models = ModelRecords(db)
    assert models.by_name("qwen:1b") == ModelRecord("qwen:1b", 1_000, 0, ("n1",))
    odd = models.by_name("odd:1b")
    assert odd is not None
    assert odd.size is None
    assert models.by_name("absent:1b") is None
    assert models.names() == ["odd:1b", "qwen:1b"]


def test_history_reports_uptime_and_request_periods(db: DatabaseManager) -> None:
    record_server_check(db, "a:1", healthy=True, latency_ms=4.0)
    update_request_stats(db, "chat", 10.0)
    update_request_stats(db, "generate", 30.0)
    history = History(db)
    [health] = history.health_report()
    assert (health.address, health.healthy, health.uptime["24h"]) == (
        "a:1",
        True,
        100.0,
    )
    assert [p.avg for p in history.series("a:1", "latency", "1h")] == [4.0]
    [today] = history.request_periods("daily", 1)[-1:]
    assert (today.total_requests, today.requests_of("chat")) == (2, 1)
    assert today.average_latency_ms == 20.0


def test_records_are_frozen() -> None:
    record = ServerRecord("a:1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.name = "x"  # type: ignore[misc]
