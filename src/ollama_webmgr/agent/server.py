"""The agent's gRPC server: ``GetSystemInfo`` plus the standard health service.

With ``--serve-models PORT`` the agent also serves the node's models over the
registry protocol on that port of the same host (``model_port.py``; no token
there, Ollama could not send it), and reports the port in the system document
(``models_port``) so that the manager knows where to seed other nodes from.

With a token, every call but the health checks must carry it, either as
``authorization: Bearer <token>`` or ``x-agent-token: <token>`` metadata;
otherwise the call ends with ``UNAUTHENTICATED``. Health stays open so probes
need no secret (it tells nothing about the machine).
"""

from __future__ import annotations

import hmac
import logging
import signal
import sys
import threading
from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from ollama_webmgr.agent.generated import ollama_pb2, ollama_pb2_grpc
from ollama_webmgr.agent.green import cooperate_with_gevent
from ollama_webmgr.agent.live import Readers, live_readers
from ollama_webmgr.agent.schema import encode_all
from ollama_webmgr.errors import AgentUnavailable, WebmgrError

log = logging.getLogger(__name__)

SERVICE_NAME = "ollama_webmgr.agent.OllamaService"
HEALTH_PREFIX = "/grpc.health.v1.Health/"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class SystemInfoServicer(ollama_pb2_grpc.OllamaServiceServicer):  # type: ignore[misc]
    """Answers ``GetSystemInfo`` from the readers, validating each document."""

    def __init__(self, readers: Readers) -> None:
        self._readers = readers

    def GetSystemInfo(
        self, request: ollama_pb2.SystemInfoRequest, context: grpc.ServicerContext
    ) -> ollama_pb2.SystemInfoResponse:
        try:
            info = self._readers.read(bool(request.include_hardware_details))
            documents = encode_all(info)
        except (OSError, WebmgrError) as exc:
            log.exception("reading the hardware failed")
            context.abort(
                grpc.StatusCode.INTERNAL, f"reading the hardware failed: {exc}"
            )
        return ollama_pb2.SystemInfoResponse(**documents)


def token_matches(metadata: Any, token: str) -> bool:
    """Whether the call's metadata carries ``token`` (constant-time comparison).

    >>> token_matches((("authorization", "Bearer s3cret"),), "s3cret")
    True
    >>> token_matches((("x-agent-token", "nope"),), "s3cret")
    False
    """
    expected = token.encode()
    for key, value in metadata or ():
        given = str(value)
        if key == "authorization" and given.startswith("Bearer "):
            given = given[len("Bearer ") :]
        elif key != "x-agent-token":
            continue
        if hmac.compare_digest(given.strip().encode(), expected):
            return True
    return False


class TokenInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Refuses calls without the shared token (health checks excepted)."""

    def __init__(self, token: str) -> None:
        self._token = token

        def refuse(request: object, context: grpc.ServicerContext) -> None:
            context.abort(
                grpc.StatusCode.UNAUTHENTICATED, "missing or wrong agent token"
            )

        self._refusal = grpc.unary_unary_rpc_method_handler(refuse)

    def intercept_service(
        self, continuation: Callable[[Any], Any], details: grpc.HandlerCallDetails
    ) -> Any:
        if details.method.startswith(HEALTH_PREFIX) or token_matches(
            details.invocation_metadata, self._token
        ):
            return continuation(details)
        return self._refusal


def create_server(
    host: str,
    port: int,
    *,
    models_dir: str,
    token: str | None = None,
    readers: Readers | None = None,
    max_workers: int = 4,
    models_port: int | None = None,
) -> tuple[grpc.Server, int]:
    """Build, bind and start the agent; returns the server and its bound port.

    ``port=0`` picks a free port. ``readers`` default to this machine's, which
    report ``models_port`` (the model port, started by the caller) if given.
    """
    interceptors = [TokenInterceptor(token)] if token else []
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers),
        interceptors=interceptors,
        # a second agent on the same port must fail, not share the traffic
        options=[("grpc.so_reuseport", 0)],
    )
    ollama_pb2_grpc.add_OllamaServiceServicer_to_server(
        SystemInfoServicer(
            readers or live_readers(models_dir, models_port=models_port)
        ),
        server,
    )
    health_servicer = health.HealthServicer()
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as exc:
        bound = 0
        log.debug("binding %s failed: %s", address, exc)
    if not bound:
        raise AgentUnavailable(f"cannot listen on {address} (port in use or bad host)")
    server.start()
    return server, bound


def run_agent(
    host: str,
    port: int,
    *,
    models_dir: str,
    token: str | None,
    serve_models: int | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM (the ``ollama-webmgr agent`` command)."""
    under_gevent = cooperate_with_gevent()
    models = None
    if serve_models is not None:
        from ollama_webmgr.agent.model_port import serve_models as start_models

        models = start_models(host, serve_models, models_dir)
    try:
        server, bound = create_server(
            host,
            port,
            models_dir=models_dir,
            token=token,
            models_port=models.port if models else None,
        )
    except BaseException:
        if models is not None:
            models.stop()
        raise
    log.info("agent on %s:%d (token: %s)", host, bound, "yes" if token else "no")
    if not token and host not in LOOPBACK:
        print(
            f"ATTENTION : l’agent écoute sur {host} sans jeton : quiconque joint ce"
            " port peut lire le matériel de la machine (définissez AGENT_TOKEN).",
            file=sys.stderr,
            flush=True,
        )
    print(f"ollama-webmgr agent on {host}:{bound}", flush=True)
    if models is not None:
        print(f"models served read-only on {host}:{models.port}", flush=True)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        if under_gevent:
            # the hub, blocked in its loop, only sees signals it registered
            import gevent

            gevent.signal_handler(signum, stopping.set)
        else:
            signal.signal(signum, lambda *_: stopping.set())
    stopping.wait()
    server.stop(grace=1.0).wait()
    if models is not None:
        models.stop()
