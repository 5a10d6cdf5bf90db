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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ollama_webmgr.sim.downloading import Download

BUSY_MESSAGE = "server busy, please try again.  maximum pending requests exceeded"


def set_knobs(
    knobs: Any, data: dict[str, Any], what: str, fixed: frozenset[str] = frozenset()
) -> None:
    """Set the public fields of the dataclass ``knobs`` named in ``data``, all
    or none: an unknown name (or one of ``fixed``) raises ValueError."""
    known = {f.name for f in fields(knobs) if not f.name.startswith("_")} - fixed
    for key in data:
        if key not in known:
            raise ValueError(f"unknown {what} {key!r}")
    for key, value in data.items():
        setattr(knobs, key, value)


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
    # A blob's bytes stop once it reaches N (the first one to, once): its lines repeat
    # the same ``completed`` as Ollama's do, or nothing comes when ``silent``.
    pull_stall_after: int | None = None
    pull_stall_for: float = 0.0  # seconds the stall lasts, across reconnections
    pull_stall_silent: bool = False
    pull_backwards_after: int | None = None  # once: a blob's line shows 0 at N
    seed: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)
    _stall: tuple[float, int, str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Faults:
        """Build from a JSON object; unknown knobs raise ValueError."""
        faults = cls()
        faults.update(data)
        return faults

    def update(self, data: dict[str, Any]) -> None:
        set_knobs(self, data, "fault knob")
        if "seed" in data:
            self._rng.seed(self.seed)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("_rng", None)
        data.pop("_stall", None)
        return data

    def should_fail(self) -> bool:
        """Consume one ``fail_next`` or draw against ``failure_rate``."""
        if self.fail_next > 0:
            self.fail_next -= 1
            return True
        return self.failure_rate > 0 and self._rng.random() < self.failure_rate

    def pulled(self, download: Download, now: float) -> int | None:
        """The bytes a pull line shows now (``None``: a silent stall sends nothing).

        A stall holds the download itself (its parts stop reading), so what a
        cut connection leaves as partial is about what the lines showed; a
        rewind is what Ollama's lines sometimes do, the bytes stay.
        """
        completed = download.completed()
        stall_at = self.pull_stall_after
        if self._stall is None and stall_at is not None and completed >= stall_at:
            self._stall = (now + self.pull_stall_for, completed, download.digest)
        if self._stall is not None and self._stall[2] == download.digest:
            until, at, _ = self._stall
            if now < until:
                download.hold(until)
                return None if self.pull_stall_silent else at
            self._stall, self.pull_stall_after = None, None  # spent
        back_at = self.pull_backwards_after
        if back_at is not None and completed >= back_at:
            self.pull_backwards_after = None
            return 0
        return completed
