"""The agent's model port: the node's own models, spoken as a registry.

Opt-in (``ollama-webmgr agent --serve-models PORT``): another node of the
fleet pulls ``<this host>:<PORT>/<ns>/<model>:<tag>`` with ``insecure`` and
gets the bytes over the LAN instead of from the internet
(``jobs/peer_seeding.py``). Read-only, and only model files: the manifests
of registry models and the blobs they list (``model_files.py``), in the
answers' shapes of the manager's seed cache (``ollama/registry_answers.py``).

No token is asked here: Ollama, which does the pulling, cannot send ours.
The port listens on the agent's own host (a LAN address, not every
interface); anyone who reaches it can read the node's registry models, which
are public downloads anyway, and nothing else.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from ollama_webmgr.agent.model_files import ModelFiles
from ollama_webmgr.errors import AgentUnavailable
from ollama_webmgr.ollama.registry_answers import (
    blob_answer,
    manifest_answer,
    route,
    with_direct_url,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


class ModelRegistry:
    """The WSGI app of the model port."""

    def __init__(self, files: ModelFiles) -> None:
        self.files = files

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        answer = route(Request(environ), self.manifest, self.blob)
        body = answer(environ, start_response)

        def closing() -> Iterator[bytes]:
            # closed also when the node drops the connection mid-blob
            try:
                yield from body
            finally:
                answer.close()

        return closing()

    def manifest(self, namespace: str, model: str, tag: str) -> Response:
        return manifest_answer(self.files.manifest_for(namespace, model, tag))

    def blob(
        self, request: Request, namespace: str, model: str, digest: str
    ) -> Response:
        path = self.files.blob_path(namespace, model, digest)
        return with_direct_url(request, blob_answer(request, path, digest))


class _Connections:
    """The open connections, cut when the port stops (a blob being sent would
    otherwise go on to its end after the agent was told to stop)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.add(sock)

    def discard(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)

    def cut(self) -> None:
        with self._lock:
            found = list(self._open)
        for sock in found:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _handler(connections: _Connections) -> type[WSGIRequestHandler]:
    class Handler(WSGIRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Ollama's client expects

        def setup(self) -> None:
            super().setup()
            connections.add(self.connection)

        def finish(self) -> None:
            connections.discard(self.connection)
            super().finish()

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass  # a pull is thousands of ranged requests: no line each

    return Handler


@dataclass
class ModelPort:
    """The model port, served by a thread (greenlets under gevent)."""

    server: BaseWSGIServer
    thread: threading.Thread
    connections: _Connections

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        """Stop at once: no new connection, the open ones cut."""
        self.server.shutdown()
        self.server.server_close()
        self.connections.cut()
        self.thread.join(timeout=5)


def serve_models(host: str, port: int, models_dir: str) -> ModelPort:
    """Start serving ``models_dir`` on ``host:port`` (0: a free port)."""
    app = ModelRegistry(ModelFiles(Path(models_dir)))
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:  # bound here: werkzeug would exit the process on a busy port
        listening = socket.create_server((host, port), family=family)
    except OSError:
        raise AgentUnavailable(
            f"cannot serve the models on {host}:{port} (port in use or bad host)"
        ) from None
    connections = _Connections()
    with listening:
        bound = int(listening.getsockname()[1])
        server = make_server(
            host,
            bound,
            app,
            threaded=True,
            request_handler=_handler(connections),
            fd=listening.fileno(),  # werkzeug takes a duplicate
        )
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.1},
        name="agent-model-port",
        daemon=True,
    )
    thread.start()
    return ModelPort(server, thread, connections)
