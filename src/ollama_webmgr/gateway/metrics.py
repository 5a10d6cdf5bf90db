"""Prometheus text exposition of the gateway's counters (no extra dependency)."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable

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


class GatewayMetrics:
    """Counts every ``RequestRecord``; renders them with live gauges."""

    def __init__(self) -> None:
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

    def render(
        self,
        servers: Iterable[str],
        in_flight: Callable[[str], int],
        healthy: Callable[[str], bool],
    ) -> str:
        lines = [
            "# TYPE ollama_gateway_requests_total counter",
            *(
                f'ollama_gateway_requests_total{{server="{s}",kind="{k}",status="{c}"}} {n}'
                for (s, k, c), n in sorted(self._requests.items())
            ),
            "# TYPE ollama_gateway_request_seconds_sum counter",
            *(
                f'ollama_gateway_request_seconds_sum{{server="{s}"}} {v:.6f}'
                for s, v in sorted(self._latency_sum.items())
            ),
            "# TYPE ollama_gateway_tokens_total counter",
            *(
                f'ollama_gateway_tokens_total{{server="{s}",type="{t}"}} {n}'
                for (s, t), n in sorted(self._tokens.items())
            ),
            "# TYPE ollama_gateway_response_bytes_total counter",
            *(
                f'ollama_gateway_response_bytes_total{{server="{s}"}} {n}'
                for s, n in sorted(self._bytes.items())
            ),
            "# TYPE ollama_gateway_in_flight gauge",
        ]
        names = list(servers)
        lines += [
            f'ollama_gateway_in_flight{{server="{s}"}} {in_flight(s)}' for s in names
        ]
        lines.append("# TYPE ollama_gateway_server_up gauge")
        lines += [
            f'ollama_gateway_server_up{{server="{s}"}} {int(healthy(s))}' for s in names
        ]
        return "\n".join(lines) + "\n"
