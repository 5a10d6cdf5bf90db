"""The measured history: one server's series, the uptime report, request totals.

Thin typed views over ``store.stats`` (which keeps the arithmetic and its own
tests): the faces get records, not documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ollama_webmgr.store.database import DatabaseManager, Doc, Rollup
from ollama_webmgr.store.stats import (
    REQUEST_TYPES,
    WINDOWS,
    Period,
    get_health_report,
    get_historical_stats,
    health_series,
)

__all__ = [
    "REQUEST_TYPES",
    "WINDOWS",
    "History",
    "Period",
    "RequestPeriod",
    "ServerHealth",
]


@dataclass(frozen=True, slots=True)
class ServerHealth:
    """A known server's last state and its uptime % per window (``24h``, ``7d``,
    ``30d``; ``None`` when the window holds no sample)."""

    address: str | None
    name: str | None
    healthy: bool | None
    last_check: str | None
    uptime: Mapping[str, float | None]


@dataclass(frozen=True, slots=True)
class RequestPeriod:
    """The requests of one period, from the request rollups."""

    period: Period
    timestamp: float
    total_requests: int
    generate_requests: int
    chat_requests: int
    embedding_requests: int
    other_requests: int
    average_latency_ms: float
    error_requests: int
    prompt_tokens: int
    completion_tokens: int
    bytes_in: int
    bytes_out: int

    def requests_of(self, kind: str) -> int:
        """Requests of one type (``generate``, ``chat``, ``embedding``,
        ``other``) or of all (``total``)."""
        counts = {
            "total": self.total_requests,
            "generate": self.generate_requests,
            "chat": self.chat_requests,
            "embedding": self.embedding_requests,
            "other": self.other_requests,
        }
        return counts[kind]


def _server_health(doc: Doc) -> ServerHealth:
    return ServerHealth(
        address=doc["address"],
        name=doc["name"],
        healthy=doc["healthy"],
        last_check=doc["last_check"],
        uptime=dict(doc["uptime"]),
    )


def _request_period(doc: Doc) -> RequestPeriod:
    return RequestPeriod(**doc)


class History:
    """Reads of the time series and of the ``servers`` table's last states."""

    def __init__(self, db: DatabaseManager) -> None:
        self._db = db

    def series(self, address: str, metric: str, window: str) -> list[Rollup]:
        """Points of one server's metric over a window (``1h``, ``24h``…)."""
        return health_series(self._db, address, metric, window)

    def health_report(self) -> list[ServerHealth]:
        """Every known server, by address."""
        return [_server_health(doc) for doc in get_health_report(self._db)]

    def request_periods(self, period: Period, days: int) -> list[RequestPeriod]:
        """Totals per period over the last ``days`` days, oldest first."""
        return [
            _request_period(doc) for doc in get_historical_stats(self._db, period, days)
        ]
