"""Build and run the gateway: one function for ``serve`` and ``gateway`` commands."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ollama_webmgr.cluster.health import HealthMonitor
from ollama_webmgr.cluster.models import ModelMap
from ollama_webmgr.cluster.servers import ServerRegistry
from ollama_webmgr.gateway.app import Gateway, create_gateway_app
from ollama_webmgr.gateway.config import GatewayConfig
from ollama_webmgr.gateway.stats import BatchRecorder, RequestRecord

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ollama_webmgr.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class GatewayService:
    """The gateway app with its background parts; ``start``/``stop`` them together."""

    app: Gateway
    monitor: HealthMonitor
    recorder: BatchRecorder

    def start(self) -> None:
        self.monitor.start()
        self.recorder.start()

    def stop(self) -> None:
        self.monitor.stop()
        self.recorder.stop()


def _log_sink(records: Sequence[RequestRecord]) -> None:
    log.debug("gateway: %d requests", len(records))


def build_gateway(
    settings: Settings,
    *,
    registry: ServerRegistry | None = None,
    config: GatewayConfig | None = None,
    sink: Callable[[Sequence[RequestRecord]], None] = _log_sink,
) -> GatewayService:
    """Servers from ``Settings.servers`` unless a registry is given."""
    config = config or GatewayConfig.from_settings(settings)
    registry = registry or ServerRegistry.from_urls(settings.servers)
    monitor = HealthMonitor(registry, ModelMap(), config)
    recorder = BatchRecorder(sink)
    app = create_gateway_app(config, registry, monitor, on_request=recorder.submit)
    return GatewayService(app, monitor, recorder)


def make_server(app: Any, host: str, port: int) -> Any:
    """A ``gevent.pywsgi`` server whose sockets send small writes at once.

    Without TCP_NODELAY, headers and body of keep-alive answers leave in separate
    packets and Nagle's algorithm adds ~40 ms to each response.
    """
    from gevent.pywsgi import WSGIServer

    class _Server(WSGIServer):  # type: ignore[misc]
        def handle(self, sock: socket.socket, address: Any) -> Any:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return super().handle(sock, address)

    return _Server((host, port), app, log=None)


def run_gateway(settings: Settings, host: str, port: int) -> None:
    """Serve the gateway until interrupted (the CLI has monkey-patched gevent)."""
    service = build_gateway(settings)
    service.start()
    server = make_server(service.app, host, port)
    server.start()  # bound now: port 0 has become a real port
    print(f"ollama-webmgr gateway on http://{host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        service.stop()
