"""Serving WSGI apps on real sockets: a thread for tests, the ``sim`` command."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


class _Handler(WSGIRequestHandler):
    # HTTP/1.1 gives keep-alive and chunked streaming, as Ollama's Go server does.
    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # tests and the demo stay quiet


@dataclass
class RunningServer:
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_in_thread(
    app: WSGIApplication, host: str = "127.0.0.1", port: int = 0
) -> RunningServer:
    """Serve ``app`` on a real socket from a daemon thread (port 0: any free port)."""
    server = make_server(host, port, app, threaded=True, request_handler=_Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return RunningServer(server, thread)


@contextmanager
def serve_in_thread(
    app: WSGIApplication, host: str = "127.0.0.1", port: int = 0
) -> Iterator[RunningServer]:
    """Context manager around ``start_in_thread`` that always stops the server."""
    running = start_in_thread(app, host, port)
    try:
        yield running
    finally:
        running.stop()
