"""The gateway's counters, exposed on ``GET /metrics`` through prometheus-client.

A request only adds to plain dicts (``observe``, one lock already there for
the records); the metric families are built when ``/metrics`` is read
(``collect``), with the live gauges (in flight, up) read at that moment.
No ``prometheus_client`` metric object sits on the hot path: their per-label
lookup and lock would cost every request.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from ollama_webmgr.gateway.stats import RequestRecord


class TtftAverages:
    """Exponential moving average of time to first token, per server."""

    def __init__(self, alpha: float = 0.2) -> None:
        self._alpha = alpha
        self._values: dict[str, float] = {}

    def add(self, server: str, seconds: float) -> None:
        old = self._values.get(server)
        self._values[server] = (
            seconds if old is None else old + self._alpha * (seconds - old)
        )

    def get(self, server: str) -> float | None:
        return self._values.get(server)


class GatewayMetrics(Collector):
    """Counts every ``RequestRecord``; a prometheus-client collector of them
    and of the fleet's live gauges (``servers``: every registered name)."""

    def __init__(
        self,
        servers: Callable[[], Iterable[str]],
        in_flight: Callable[[str], int],
        healthy: Callable[[str], bool],
    ) -> None:
        self._servers = servers
        self._in_flight = in_flight
        self._healthy = healthy
        self._lock = threading.Lock()
        self._requests: defaultdict[tuple[str, str, str], int] = defaultdict(int)
        self._latency_sum: defaultdict[str, float] = defaultdict(float)
        self._tokens: defaultdict[tuple[str, str], int] = defaultdict(int)
        self._bytes: defaultdict[str, int] = defaultdict(int)

    def observe(self, record: RequestRecord) -> None:
        server = record.server or "gateway"
        with self._lock:
            self._requests[server, record.kind, str(record.status)] += 1
            self._latency_sum[server] += record.latency_ms / 1000
            self._bytes[server] += record.bytes_out
            self._tokens[server, "prompt"] += record.prompt_tokens or 0
            self._tokens[server, "completion"] += record.completion_tokens or 0

    def collect(self) -> Iterator[Metric]:
        with self._lock:  # one consistent snapshot
            requests = sorted(self._requests.items())
            latency = sorted(self._latency_sum.items())
            tokens = sorted(self._tokens.items())
            sent = sorted(self._bytes.items())
        counted, tokens_used, bytes_sent = _counters(requests, tokens, sent)
        yield counted
        yield _latency(requests, latency)
        yield tokens_used
        yield bytes_sent
        names = list(self._servers())
        in_flight = GaugeMetricFamily(
            "ollama_gateway_in_flight",
            "Requests in flight to the server (every process's with REDIS_URL)",
            labels=["server"],
        )
        up = GaugeMetricFamily(
            "ollama_gateway_server_up",
            "1 when the health monitor sees the server up",
            labels=["server"],
        )
        for name in names:
            in_flight.add_metric([name], self._in_flight(name))
            up.add_metric([name], int(self._healthy(name)))
        yield in_flight
        yield up


def _counters(
    requests: list[tuple[tuple[str, str, str], int]],
    tokens: list[tuple[tuple[str, str], int]],
    sent: list[tuple[str, int]],
) -> tuple[Metric, Metric, Metric]:
    counted = CounterMetricFamily(
        "ollama_gateway_requests",
        "Requests answered, by server (gateway: answered by the gateway itself)",
        labels=["server", "kind", "status"],
    )
    for (server, kind, status), count in requests:
        counted.add_metric([server, kind, status], count)
    tokens_used = CounterMetricFamily(
        "ollama_gateway_tokens",
        "Prompt and completion tokens counted in the answers",
        labels=["server", "type"],
    )
    for (server, kind), count in tokens:
        tokens_used.add_metric([server, kind], count)
    bytes_sent = CounterMetricFamily(
        "ollama_gateway_response_bytes",
        "Bytes of the answers relayed to the clients",
        labels=["server"],
    )
    for server, count in sent:
        bytes_sent.add_metric([server], count)
    return counted, tokens_used, bytes_sent


def _latency(
    requests: list[tuple[tuple[str, str, str], int]],
    latency: list[tuple[str, float]],
) -> Metric:
    """``ollama_gateway_request_seconds_sum``, with its ``_count`` beside it."""
    counts: defaultdict[str, int] = defaultdict(int)
    for (server, _, _), count in requests:
        counts[server] += count
    family = SummaryMetricFamily(
        "ollama_gateway_request_seconds",
        "Time to answer a request, to its last byte",
        labels=["server"],
    )
    for server, seconds in latency:
        family.add_metric([server], count_value=counts[server], sum_value=seconds)
    return family
