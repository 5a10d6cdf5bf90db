"""What the gateway answers about itself: ``/`` and ``/metrics``.

``GET /`` (and ``HEAD``) answers as Ollama does, ``Ollama is running``, before
any API key check: clients and load balancers probe it. ``GET /metrics`` is the
Prometheus exposition of the gateway's counters (``metrics.GatewayMetrics``).
Neither reads a request body.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from ollama_webmgr.gateway.responses import send

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse

    from ollama_webmgr.gateway.calls import Call
    from ollama_webmgr.gateway.gate import Gate

RUNNING = b"Ollama is running"
TEXT = "text/plain; charset=utf-8"


def running(gate: Gate, call: Call, start_response: StartResponse) -> Iterable[bytes]:
    head = call.method == "HEAD"
    return send(start_response, 200, RUNNING, content_type=TEXT, head=head)


def metrics(gate: Gate, call: Call, start_response: StartResponse) -> Iterable[bytes]:
    text = generate_latest(gate.metrics)
    return send(start_response, 200, text, content_type=CONTENT_TYPE_PLAIN_0_0_4)
