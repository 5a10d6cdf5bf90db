"""Serving WSGI apps on real sockets: a thread for tests, the ``sim`` command."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.sim.catalog import DEFAULT_MODELS, Registry
from ollama_webmgr.sim.faults import Faults

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


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


def _always_closed(app: WSGIApplication) -> WSGIApplication:
    """Close every response, also when the client drops the connection.

    werkzeug's server reads what is left of the request before it closes the
    response; when that read fails (a browser reset a download), ``close()`` is
    never called and a file being served stays open. Wrapped in a generator,
    the response is closed when the generator ends or is collected.
    """

    def closing(
        environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        response = app(environ, start_response)

        def body() -> Iterator[bytes]:
            try:
                yield from response
            finally:
                close = getattr(response, "close", None)
                if close is not None:
                    close()

        return body()

    return closing


def start_in_thread(
    app: WSGIApplication, host: str = "127.0.0.1", port: int = 0
) -> RunningServer:
    """Serve ``app`` on a real socket from a daemon thread (port 0: any free port)."""
    server = make_server(
        host, port, _always_closed(app), threaded=True, request_handler=_Handler
    )
    # A short poll interval keeps shutdown (hence each test teardown) fast.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
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


_SIZE_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}


def parse_bandwidth(text: str) -> float:
    """Bytes per second for ``50MB``, ``1GB``, ``500KB``, ``1.5GB`` (ValueError).

    >>> parse_bandwidth("50MB"), parse_bandwidth("1gb"), parse_bandwidth("500KB")
    (50000000.0, 1000000000.0, 500000.0)
    >>> parse_bandwidth("fast")
    Traceback (most recent call last):
    ...
    ValueError: invalid bandwidth 'fast' (examples: 500KB, 50MB, 1GB)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?B?)(?:/S)?\s*", text.upper())
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"invalid bandwidth {text!r} (examples: 500KB, 50MB, 1GB)")
    unit = match.group(2)
    if unit and not unit.endswith("B"):
        unit += "B"
    return float(match.group(1)) * _SIZE_UNITS[unit]


def check_models(names: list[str], registry: Registry) -> list[str]:
    """``names`` if the catalogue knows them all, else ValueError listing it."""
    unknown = [name for name in names if registry.lookup(name) is None]
    if unknown:
        known = ", ".join(
            f"{family.model}:{variant.tag}"
            for family, variants in registry.models()
            for variant in variants
        )
        raise ValueError(
            f"unknown model(s): {', '.join(unknown)}; known models: {known}"
        )
    return names


def run_sim(
    *,
    host: str,
    port: int,
    models: list[str] | None,
    bandwidth: float,
    state_file: str | None,
    faults: Faults | None = None,
    version: str | None = None,
    library_port: int | None = None,
    origins: tuple[str, ...] = (),
    limits: dict[str, int] | None = None,
) -> None:
    """Serve one emulated Ollama node under gevent until interrupted.

    With ``library_port``, the fake ollama.com and registry are served on that
    port too, and the node pulls from there (else from a private fake registry).
    """
    from gevent import pywsgi

    from ollama_webmgr.sim.app import create_app
    from ollama_webmgr.sim.state import SimState

    state = SimState(
        bandwidth=bandwidth,
        state_file=Path(state_file) if state_file else None,
        faults=faults or Faults(),
        origins=origins,
    )
    for key, value in (limits or {}).items():  # OLLAMA_MAX_LOADED_MODELS...
        setattr(state, key, value)
    if version:
        state.version = version
    if not state.load():
        for name in models if models is not None else list(DEFAULT_MODELS):
            entry = state.registry.lookup(name)
            if entry is not None:
                state.install(ModelName.parse(name), entry)

    class Handler(pywsgi.WSGIHandler):  # type: ignore[misc]
        def handle(self) -> None:
            # Without TCP_NODELAY small streamed lines wait ~40 ms for an ACK.
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().handle()

        def get_environ(self) -> dict[str, object]:
            environ: dict[str, object] = super().get_environ()
            environ["sim.socket"] = self.socket
            return environ

    server = pywsgi.WSGIServer(
        (host, port), create_app(state), handler_class=Handler, log=None
    )
    server.init_socket()
    bound = server.socket.getsockname()[1]
    print(
        f"Emulated Ollama {state.version} listening on http://{host}:{bound}",
        flush=True,
    )
    if library_port is not None:
        from ollama_webmgr.sim.library import create_library_app

        library = pywsgi.WSGIServer(
            (host, library_port),
            create_library_app(state.registry),
            handler_class=Handler,
            log=None,
        )
        library.start()
        near = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        state.registry_url = f"http://{near}:{library.server_port}"
        print(
            f"Fake ollama.com and registry on http://{host}:{library.server_port}",
            flush=True,
        )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()
