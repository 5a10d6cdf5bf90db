"""Fault knobs of an emulated node: latency, failures, hangs, broken streams.

Every knob is deterministic enough to test: ``fail_next`` fails exactly the
next N requests, ``failure_rate`` draws from an RNG seeded with ``seed``.

>>> faults = Faults.from_json({"latency": 0.5, "fail_next": 2})
>>> faults.latency, faults.fail_next, faults.as_json()["status"]
(0.5, 2, None)
>>> Faults.from_json({"nope": 1})
Traceback (most recent call last):
...
ValueError: unknown fault knob 'nope'
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, fields
from typing import Any

BUSY_MESSAGE = "server busy, please try again.  maximum pending requests exceeded"


@dataclass
class Faults:
    latency: float = 0.0  # seconds added before answering
    failure_rate: float = 0.0  # 0..1: share of requests answered 500
    fail_next: int = 0  # the next N requests answer 500
    failure_message: str = "simulated failure"
    status: int | None = None  # force this status on every request (e.g. 503)
    status_message: str = BUSY_MESSAGE
    hang: bool = False  # never answer until released
    drop_after: int | None = None  # drop the connection after N stream lines
    malformed_after: int | None = None  # emit one malformed line after N lines
    seed: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Faults:
        """Build from a JSON object; unknown knobs raise ValueError."""
        faults = cls()
        faults.update(data)
        return faults

    def update(self, data: dict[str, Any]) -> None:
        known = {f.name for f in fields(self) if not f.name.startswith("_")}
        for key in data:
            if key not in known:
                raise ValueError(f"unknown fault knob {key!r}")
        for key, value in data.items():
            setattr(self, key, value)
        if "seed" in data:
            self._rng.seed(self.seed)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("_rng", None)
        return data

    def should_fail(self) -> bool:
        """Consume one ``fail_next`` or draw against ``failure_rate``."""
        if self.fail_next > 0:
            self.fail_next -= 1
            return True
        return self.failure_rate > 0 and self._rng.random() < self.failure_rate
