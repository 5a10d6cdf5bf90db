"""The fields each document table holds (documentation for callers, not enforced).

Every document also carries ``id``, ``created_at`` and ``updated_at``. Timestamps
written by callers are UTC ISO-8601 strings, like the automatic ones.
"""

from __future__ import annotations

from typing import Any, TypedDict


class ServerDoc(TypedDict, total=False):
    address: str  # ``host:port`` (``ollama.urls.display_address``), the natural key
    name: str
    healthy: bool | None
    load: float
    last_check: str
    first_seen: str
    agent_address: str  # host:port of its node agent (gRPC), when it has one
    hardware_info: dict[str, Any]  # cluster/hardware.py: agent documents + stale flag


class ModelDoc(TypedDict, total=False):
    name: str  # the natural key
    servers: list[str]
    size: int  # bytes
    parameter_count: str  # "8B"
    quantization: str  # "Q4_K_M"
    first_seen: str
    last_used: str
    usage_count: int
    digests: dict[str, str]  # server address (host:port) -> manifest digest


class RequestStatsDoc(TypedDict, total=False):
    period: str  # hourly | daily | weekly
    timestamp: float  # start of the period, epoch seconds
    total_requests: int
    generate_requests: int
    chat_requests: int
    embedding_requests: int
    other_requests: int
    average_latency_ms: float
    error_requests: int  # answers with status >= 400
    prompt_tokens: int  # from the final lines the gateway saw
    completion_tokens: int
    bytes_in: int
    bytes_out: int


class ConfigDoc(TypedDict, total=False):
    key: str  # proxy_settings | load_balancing | retry_policy | ...
    value: dict[str, Any]


class JobDoc(TypedDict, total=False):
    kind: str  # pull | check | eject
    target: str  # model name
    server: str
    state: str  # queued | running | done | failed | cancelled
    error: str | None
    finished_at: str | None


class AuditDoc(TypedDict, total=False):
    who: str
    action: str
    target: str
    details: dict[str, Any]
