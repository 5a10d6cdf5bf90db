"""The manager's hardware collection against real agents and a real SQLite store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_fixtures import captured_readers, running_agent

from ollama_webmgr.agent.schema import SystemInfo
from ollama_webmgr.cluster.hardware import (
    HardwareCollector,
    agents_from_store,
    collect_hardware,
    grpc_client_factory,
    model_sources,
    set_agent_address,
)
from ollama_webmgr.errors import AgentUnavailable
from ollama_webmgr.store import DatabaseManager, Where, open_database
from ollama_webmgr.store.records import record_hardware

SERVER = "http://gpu-a:11434"
T0 = 1_763_900_000.0


@pytest.fixture
def db(tmp_path: Path) -> Iterator[DatabaseManager]:
    with open_database(f"sqlite:///{tmp_path / 'store.sqlite3'}") as database:
        yield database


def _info(db: DatabaseManager, server: str = SERVER) -> dict[str, object]:
    (doc,) = db.find("servers", [Where("address", "==", server)])
    info: dict[str, object] = doc["hardware_info"]
    return info


def _series(db: DatabaseManager, metric: str) -> list[float]:
    return [p.sum for p in db.query_series([SERVER], metric, T0 - 1, T0 + 3600, "raw")]


def test_answer_is_stored_with_its_time_series(db: DatabaseManager) -> None:
    with running_agent() as agent:
        results = collect_hardware(
            db, {SERVER: agent.address}, grpc_client_factory(), T0
        )
    assert [r.ok for r in results] == [True]
    info = _info(db)
    assert info["stale"] is False
    assert info["last_error"] is None
    assert info["agent"] == agent.address
    assert info["collected_at"] == T0
    assert info["cpu"]["model"].startswith("Intel(R) Core(TM) i7")  # type: ignore[index]
    assert info["gpu"]["gpus"][0]["name"] == "NVIDIA GeForce RTX 4090"  # type: ignore[index]
    assert _series(db, "cpu_percent") == [50.0]
    assert _series(db, "ram_percent") == [75.0]
    assert _series(db, "gpu_util") == [37.0]
    assert _series(db, "vram_used") == [9126805504.0]
    assert _series(db, "disk_free") == [4096.0 * 2**27]


def test_agent_down_marks_the_info_stale_and_next_success_clears_it(
    db: DatabaseManager,
) -> None:
    with running_agent() as agent:
        port = agent.port
        collect_hardware(db, {SERVER: agent.address}, grpc_client_factory(), T0)
    # the agent is stopped now: no exception, the last documents stay
    results = collect_hardware(
        db, {SERVER: f"127.0.0.1:{port}"}, grpc_client_factory(), T0 + 60
    )
    assert not results[0].ok
    assert "is unreachable" in str(results[0].error)
    info = _info(db)
    assert info["stale"] is True
    assert "is unreachable" in str(info["last_error"])
    assert info["collected_at"] == T0
    assert info["last_attempt"] == T0 + 60
    assert info["memory"]["percent"] == 75.0  # type: ignore[index]
    assert _series(db, "cpu_percent") == [50.0]  # no sample for the failed round

    with running_agent(port=port) as again:
        collect_hardware(db, {SERVER: again.address}, grpc_client_factory(), T0 + 120)
    info = _info(db)
    assert info["stale"] is False
    assert info["last_error"] is None
    assert info["collected_at"] == T0 + 120
    assert _series(db, "cpu_percent") == [50.0, 50.0]


def test_agent_never_reached_is_stored_as_stale_without_documents(
    db: DatabaseManager,
) -> None:
    with running_agent() as agent:
        address = agent.address
    collect_hardware(db, {SERVER: address}, grpc_client_factory(), T0)
    info = _info(db)
    assert info["stale"] is True
    assert "cpu" not in info


def test_wrong_token_is_a_failure_like_any_other(db: DatabaseManager) -> None:
    with running_agent(token="right") as agent:
        (result,) = collect_hardware(
            db, {SERVER: agent.address}, grpc_client_factory(token="wrong"), T0
        )
    assert "refused the token" in str(result.error)
    assert _info(db)["stale"] is True


def test_one_slow_agent_does_not_hold_the_others(db: DatabaseManager) -> None:
    def slow_memory():  # type: ignore[no-untyped-def]
        time.sleep(2.0)
        return captured_readers().memory()

    from dataclasses import replace

    slow_readers = replace(captured_readers(), memory=slow_memory)
    with running_agent() as fast, running_agent(slow_readers) as slow:
        started = time.monotonic()
        results = collect_hardware(
            db,
            {SERVER: fast.address, "http://gpu-b:11434": slow.address},
            grpc_client_factory(timeout=0.5),
            T0,
        )
        elapsed = time.monotonic() - started
    assert elapsed < 1.8  # bounded by the per-agent timeout, not the slow agent
    assert [r.ok for r in results] == [True, False]
    assert "did not answer within 0.5 s" in str(results[1].error)
    assert _info(db, "http://gpu-b:11434")["stale"] is True


class _Broken:
    """A client with a bug: the collector must survive it."""

    def get_system_info(self, details: bool = True) -> SystemInfo:
        raise RuntimeError("boom")

    def close(self) -> None:
        pass


def test_unexpected_client_errors_do_not_escape(db: DatabaseManager) -> None:
    (result,) = collect_hardware(db, {SERVER: "gpu-a:50051"}, lambda _: _Broken(), T0)
    assert result.error == "unexpected error: boom"
    assert _info(db)["stale"] is True


def test_agent_addresses_live_on_the_server_records(db: DatabaseManager) -> None:
    set_agent_address(db, SERVER, "gpu-a:50051")
    set_agent_address(db, "http://gpu-b:11434", "gpu-b:50051")
    set_agent_address(db, "http://gpu-b:11434", None)
    assert agents_from_store(db) == {SERVER: "gpu-a:50051"}
    with pytest.raises(AgentUnavailable, match="invalid agent address"):
        set_agent_address(db, SERVER, "http://gpu-a")


def test_model_sources_are_the_agents_that_report_a_model_port(
    db: DatabaseManager,
) -> None:
    set_agent_address(db, SERVER, "gpu-a:50051")
    set_agent_address(db, "http://gpu-b:11434", "[fd00::2]:50051")
    set_agent_address(db, "http://gpu-c:11434", "gpu-c:50051")
    record_hardware(db, SERVER, {"system": {"models_port": 50052}})
    record_hardware(db, "http://gpu-b:11434", {"system": {"models_port": 8080}})
    record_hardware(db, "http://gpu-c:11434", {"system": {"models_port": None}})
    assert model_sources(db) == {
        SERVER: "http://gpu-a:50052",
        "http://gpu-b:11434": "http://[fd00::2]:8080",
    }


def test_collector_runs_in_the_background_until_stopped(db: DatabaseManager) -> None:
    with running_agent() as agent:
        set_agent_address(db, SERVER, agent.address)
        collector = HardwareCollector(db, grpc_client_factory(), interval=0.1)
        collector.start()
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                rows = db.query_series([SERVER], "cpu_percent", 0, 2e10, "raw")
                if len(rows) >= 2:
                    break
                time.sleep(0.05)
        finally:
            collector.stop()
    assert len(rows) >= 2
    assert _info(db)["stale"] is False
    after_stop = len(db.query_series([SERVER], "cpu_percent", 0, 2e10, "raw"))
    time.sleep(0.3)  # three intervals pass: a stopped collector writes nothing more
    assert len(db.query_series([SERVER], "cpu_percent", 0, 2e10, "raw")) == after_stop
