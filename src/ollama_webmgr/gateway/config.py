"""Runtime configuration of the gateway, changeable while it runs.

Components keep a reference to one ``GatewayConfig`` and read its fields on each
use, so ``update(...)`` (from the UI or the persisted config table) takes effect
at once. ``update`` validates everything before changing anything.

>>> config = GatewayConfig()
>>> config.health_interval, config.health_timeout, config.strategy
(5.0, 2.0, 'least_in_flight')
>>> config.update(strategy="round_robin", max_attempts=2).strategy
'round_robin'
>>> config.update(strategy="random")
Traceback (most recent call last):
...
ollama_webmgr.errors.InvalidGatewaySetting: strategy: expected one of least_in_flight, round_robin, weighted, latency
>>> config.update(colour="blue")
Traceback (most recent call last):
...
ollama_webmgr.errors.InvalidGatewaySetting: unknown gateway setting 'colour'
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from ollama_webmgr.errors import InvalidGatewaySetting, SettingReason
from ollama_webmgr.gateway.balancer import STRATEGIES, Strategy
from ollama_webmgr.ollama.origins import valid_pattern


class StartSettings(Protocol):
    """What ``from_settings`` reads (``settings.Settings`` has it): the
    gateway does not import the settings module, which sits above it."""

    @property
    def connect_timeout(self) -> float: ...
    @property
    def pull_timeout(self) -> float: ...
    @property
    def gateway_origins(self) -> tuple[str, ...]: ...


#: what each setting a person may change takes: the reason a refusal gives
SETTING_KINDS: dict[str, SettingReason] = {
    "strategy": "strategy",
    "sticky": "boolean",
    "origins": "origins",
    **dict.fromkeys(
        ("max_attempts", "failures_to_down", "successes_to_up"), "integer_min_1"
    ),
    **dict.fromkeys(("sticky_size", "default_limit", "queue_size"), "integer_min_0"),
    **dict.fromkeys(
        (
            "queue_timeout",
            "connect_timeout",
            "read_timeout",
            "pull_timeout",
            "health_interval",
            "health_timeout",
            "backoff_max",
        ),
        "positive_seconds",
    ),
}


@dataclass
class GatewayConfig:
    strategy: Strategy = "least_in_flight"
    sticky: bool = False
    sticky_size: int = 10_000  # conversations remembered
    max_attempts: int = 3  # servers tried before the first byte
    default_limit: int = 0  # per-server concurrent requests, 0: unlimited
    queue_size: int = 64  # requests waiting per server when full
    queue_timeout: float = 30.0  # seconds a request may wait for a slot
    connect_timeout: float = 5.0
    read_timeout: float = 300.0  # between two reads; model loads can be slow
    pull_timeout: float = 600.0
    health_interval: float = 5.0
    health_timeout: float = 2.0
    failures_to_down: int = 3
    successes_to_up: int = 2
    backoff_max: float = 60.0
    origins: tuple[str, ...] = ()  # CORS origins allowed besides Ollama's built-ins
    api_key_hashes: frozenset[str] = field(default_factory=frozenset)
    #: the fleet's download cap (bytes/s, « Téléchargements »): a pull fanned
    #: out is seeded under it, even to one server
    seed_fleet_rate: float | None = None
    _lock: threading.Lock = field(
        default_factory=threading.Lock, repr=False, compare=False
    )

    @classmethod
    def from_settings(cls, settings: StartSettings) -> GatewayConfig:
        return cls(
            connect_timeout=settings.connect_timeout,
            pull_timeout=settings.pull_timeout,
            origins=settings.gateway_origins,
        )

    def update(self, **changes: Any) -> GatewayConfig:
        """Validate then apply ``changes``; returns self for chaining.

        A refused value raises ``InvalidGatewaySetting`` (its setting, reason
        and allowed values) and changes nothing.
        """
        names = {f.name for f in fields(self) if not f.name.startswith("_")}
        for key, value in changes.items():
            if key not in names:
                raise InvalidGatewaySetting(
                    key, "unknown_setting", allowed=tuple(SETTING_KINDS)
                )
            _validate(key, value)
        with self._lock:
            for key, value in changes.items():
                if key == "api_key_hashes":
                    value = frozenset(value)
                elif key == "origins":
                    value = tuple(value)
                setattr(self, key, value)
        return self

    def as_dict(self) -> dict[str, Any]:
        """Plain values for persistence (key hashes as a sorted list).

        >>> GatewayConfig().as_dict()["strategy"]
        'least_in_flight'
        """
        # field by field: ``dataclasses.asdict`` would deep-copy the lock and fail
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.pop("_lock")
        data["api_key_hashes"] = sorted(self.api_key_hashes)
        data["origins"] = list(self.origins)
        return data


def _validate(key: str, value: Any) -> None:
    if key == "api_key_hashes":
        # set by the key use cases, never typed by a person: a caller's mistake
        if isinstance(value, str) or not all(isinstance(h, str) for h in value):
            raise TypeError("api_key_hashes: expected a collection of hex digests")
        return
    if key == "seed_fleet_rate":
        # read from the download settings, which checked it
        if value is not None and not (isinstance(value, float) and value > 0):
            raise TypeError("seed_fleet_rate: expected None or a positive float")
        return
    reason = SETTING_KINDS[key]
    if not _ACCEPTS[reason](value):
        allowed = STRATEGIES if reason == "strategy" else ()
        raise InvalidGatewaySetting(key, reason, allowed=allowed)


def _origins(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(
        isinstance(o, str) and valid_pattern(o) for o in value
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_ACCEPTS: dict[SettingReason, Callable[[Any], bool]] = {
    "strategy": lambda v: v in STRATEGIES,
    "boolean": lambda v: isinstance(v, bool),
    "origins": _origins,
    "integer_min_1": lambda v: _is_int(v) and v >= 1,
    "integer_min_0": lambda v: _is_int(v) and v >= 0,
    "positive_seconds": lambda v: _is_number(v) and v > 0,
}
