"""What the manager uses to talk to a node agent.

Every failure becomes an ``AgentUnavailable`` (``AgentProtocolError`` for a
document that breaks the schema) whose message says what went wrong.
"""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ollama_webmgr.agent.address import check_address
from ollama_webmgr.agent.generated import ollama_pb2, ollama_pb2_grpc
from ollama_webmgr.agent.schema import SystemInfo, decode_all
from ollama_webmgr.closeable import Closeable
from ollama_webmgr.errors import AgentUnavailable


class AgentClient(Closeable):
    """One channel to one agent; close it (or use ``with``) when done."""

    def __init__(
        self, address: str, *, token: str | None = None, timeout: float = 3.0
    ) -> None:
        self.address = check_address(address)
        self.timeout = timeout
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._channel = grpc.insecure_channel(self.address)
        self._stub = ollama_pb2_grpc.OllamaServiceStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)

    def get_system_info(self, details: bool = True) -> SystemInfo:
        """The node's hardware, validated against the schema."""
        request = ollama_pb2.SystemInfoRequest(include_hardware_details=details)
        try:
            reply = self._stub.GetSystemInfo(
                request, timeout=self.timeout, metadata=self._metadata
            )
        except grpc.RpcError as exc:
            raise self._error(exc) from None
        return decode_all(reply.system, reply.cpu, reply.memory, reply.disk, reply.gpu)

    def check_health(self) -> bool:
        """Whether the agent says it is serving (``False`` when unreachable)."""
        request = health_pb2.HealthCheckRequest(service="")
        try:
            reply = self._health.Check(request, timeout=self.timeout)
        except grpc.RpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    def _error(self, exc: grpc.RpcError) -> AgentUnavailable:
        code = exc.code()
        where = f"agent {self.address}"
        if code == grpc.StatusCode.UNAVAILABLE:
            return AgentUnavailable(f"{where} is unreachable ({exc.details()})")
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return AgentUnavailable(f"{where} did not answer within {self.timeout:g} s")
        if code == grpc.StatusCode.UNAUTHENTICATED:
            return AgentUnavailable(f"{where} refused the token ({exc.details()})")
        if code == grpc.StatusCode.UNIMPLEMENTED:
            return AgentUnavailable(f"{where} does not offer GetSystemInfo")
        return AgentUnavailable(f"{where} failed: {code.name} {exc.details()}")

    def close(self) -> None:
        self._channel.close()
