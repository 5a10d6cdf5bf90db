"""The agent over real gRPC on port 0, with the client the manager uses."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import grpc
import pytest
from agent_fixtures import RunningAgent, captured_readers, rocm_readers, running_agent
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ollama_webmgr.agent.client import AgentClient
from ollama_webmgr.agent.generated import ollama_pb2, ollama_pb2_grpc
from ollama_webmgr.agent.live import live_readers
from ollama_webmgr.agent.server import SERVICE_NAME, create_server
from ollama_webmgr.errors import AgentProtocolError, AgentUnavailable


def test_system_info_with_details(agent: RunningAgent) -> None:
    with AgentClient(agent.address) as client:
        info = client.get_system_info(details=True)
    assert info == captured_readers().read(details=True)
    assert info.cpu.per_cpu_percent == [83.3, 50.0, 0.0, 0.0]
    assert info.gpu.gpus[0].name == "NVIDIA GeForce RTX 4090"
    assert [v.label for v in info.disk.volumes] == ["models", "root"]


def test_system_info_without_details_is_lighter(agent: RunningAgent) -> None:
    with AgentClient(agent.address) as client:
        info = client.get_system_info(details=False)
    assert info.cpu.per_cpu_percent is None
    assert info.cpu.usage_percent == 50.0
    assert info.memory.percent == 75.0


def test_raw_response_fields_are_the_json_documents(agent: RunningAgent) -> None:
    with grpc.insecure_channel(agent.address) as channel:
        reply = ollama_pb2_grpc.OllamaServiceStub(channel).GetSystemInfo(
            ollama_pb2.SystemInfoRequest(include_hardware_details=True), timeout=5
        )
    assert json.loads(reply.system)["hostname"] == "gpu-a"
    assert json.loads(reply.gpu)["source"] == "nvml"
    assert json.loads(reply.memory)["swap_percent"] == 25.0


def test_amd_node_reports_its_cards() -> None:
    with running_agent(rocm_readers()) as agent, AgentClient(agent.address) as client:
        gpu = client.get_system_info().gpu
    assert gpu.source == "rocm-smi"
    assert len(gpu.gpus) == 2


@pytest.mark.parametrize("service", ["", SERVICE_NAME])
def test_health_service_says_serving(agent: RunningAgent, service: str) -> None:
    with grpc.insecure_channel(agent.address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=5
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    with AgentClient(agent.address) as client:
        assert client.check_health() is True


def test_token_is_required_when_set(token_agent: RunningAgent) -> None:
    with (
        AgentClient(token_agent.address) as client,
        pytest.raises(AgentUnavailable, match="refused the token"),
    ):
        client.get_system_info()


def test_wrong_token_is_unauthenticated(token_agent: RunningAgent) -> None:
    with grpc.insecure_channel(token_agent.address) as channel:
        stub = ollama_pb2_grpc.OllamaServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetSystemInfo(
                ollama_pb2.SystemInfoRequest(),
                timeout=5,
                metadata=(("authorization", "Bearer wrong"),),
            )
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with (
        AgentClient(token_agent.address, token="wrong") as client,
        pytest.raises(AgentUnavailable, match="refused the token"),
    ):
        client.get_system_info()


def test_right_token_works_as_bearer_or_agent_header(token_agent: RunningAgent) -> None:
    with AgentClient(token_agent.address, token="s3cret") as client:
        assert client.get_system_info().system.hostname == "gpu-a"
    with grpc.insecure_channel(token_agent.address) as channel:
        reply = ollama_pb2_grpc.OllamaServiceStub(channel).GetSystemInfo(
            ollama_pb2.SystemInfoRequest(),
            timeout=5,
            metadata=(("x-agent-token", "s3cret"),),
        )
    assert json.loads(reply.system)["hostname"] == "gpu-a"


def test_health_stays_open_without_the_token(token_agent: RunningAgent) -> None:
    with AgentClient(token_agent.address) as client:
        assert client.check_health() is True


def test_stopped_agent_is_unavailable_quickly() -> None:
    with running_agent() as agent:
        address = agent.address
    with AgentClient(address, timeout=3.0) as client:
        started = time.monotonic()
        with pytest.raises(AgentUnavailable, match="is unreachable"):
            client.get_system_info()
        assert time.monotonic() - started < 2.0  # refused, not timed out
        assert client.check_health() is False


def test_slow_agent_hits_the_deadline() -> None:
    def slow_memory():  # type: ignore[no-untyped-def]
        time.sleep(1.0)
        return captured_readers().memory()

    readers = replace(captured_readers(), memory=slow_memory)
    with running_agent(readers) as agent, AgentClient(agent.address, timeout=0.2) as c:
        started = time.monotonic()
        with pytest.raises(AgentUnavailable, match=r"did not answer within 0.2 s"):
            c.get_system_info()
        assert time.monotonic() - started < 0.9


def test_agent_refuses_to_send_a_document_that_breaks_the_schema() -> None:
    broken = captured_readers().memory()
    readers = replace(captured_readers(), memory=lambda: replace(broken, percent=-3.0))
    with (
        running_agent(readers) as agent,
        AgentClient(agent.address) as client,
        pytest.raises(AgentUnavailable, match=r"INTERNAL.*'percent' must be within"),
    ):
        client.get_system_info()


class _CorruptServicer(ollama_pb2_grpc.OllamaServiceServicer):  # type: ignore[misc]
    """An agent of another make that answers a document out of the schema."""

    def GetSystemInfo(self, request, context):  # type: ignore[no-untyped-def]
        good = captured_readers().read(details=False)
        from ollama_webmgr.agent.schema import encode_all

        documents = encode_all(good)
        documents["gpu"] = json.dumps({"source": "nvml", "gpus": [{"index": 0}]})
        return ollama_pb2.SystemInfoResponse(**documents)


def test_client_rejects_a_corrupted_document() -> None:
    from concurrent import futures

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    ollama_pb2_grpc.add_OllamaServiceServicer_to_server(_CorruptServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with (
            AgentClient(f"127.0.0.1:{port}") as client,
            pytest.raises(AgentProtocolError, match=r"gpu document: 'gpus'\[0\]"),
        ):
            client.get_system_info()
    finally:
        server.stop(None).wait()


def test_live_readers_describe_this_machine(tmp_path: object) -> None:
    server, port = create_server(
        "127.0.0.1", 0, models_dir=str(tmp_path), readers=live_readers(str(tmp_path))
    )
    try:
        with AgentClient(f"127.0.0.1:{port}", timeout=10) as client:
            info = client.get_system_info(details=True)
    finally:
        server.stop(None).wait()
    assert info.cpu.cores_logical >= 1
    assert info.memory.total > 0
    assert info.disk.volumes[0].path == str(tmp_path)
    assert info.disk.volumes[0].free is not None
    assert info.cpu.per_cpu_percent is not None
    assert len(info.cpu.per_cpu_percent) == info.cpu.cores_logical


def test_missing_models_folder_is_reported_not_fatal(tmp_path: object) -> None:
    missing = f"{tmp_path}/absent"
    server, port = create_server("127.0.0.1", 0, models_dir=missing)
    try:
        with AgentClient(f"127.0.0.1:{port}", timeout=10) as client:
            models = client.get_system_info(details=False).disk.volumes[0]
    finally:
        server.stop(None).wait()
    assert models.total is None
    assert models.error == "No such file or directory"


def test_port_in_use_is_a_clear_error(agent: RunningAgent) -> None:
    with pytest.raises(AgentUnavailable, match=r"cannot listen on 127\.0\.0\.1:"):
        create_server(
            "127.0.0.1", agent.port, models_dir="/", readers=captured_readers()
        )


@pytest.mark.parametrize("address", ["http://gpu-a:50051", "gpu-a", "gpu-a:99999", ""])
def test_bad_agent_address_is_refused_before_any_call(address: str) -> None:
    with pytest.raises(AgentUnavailable, match="invalid agent address"):
        AgentClient(address)
