"""What a task sees of the machinery: ``report`` progress and ask ``cancelled()``.

A task is a plain function ``task(params, ctx) -> result`` (result JSON-able or
``None``), with no Flask or RQ import, so it runs the same in a thread or on an RQ
worker. Progress events get ``fraction``, ``speed`` (bytes/s) and ``eta`` (s)
added from their ``completed``/``total`` over time; bursts are thinned to one
event per ``min_interval`` (a layer's first and last update always pass).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from ollama_webmgr.jobs.model import Progress, check_event_type


class JobCancelled(Exception):
    """Raised inside a task by ``ctx.check_cancelled()``; the runner marks the job."""


class TaskContext(Protocol):
    job_id: str

    def report(self, type: str, data: dict[str, Any]) -> None: ...

    def cancelled(self) -> bool: ...

    def check_cancelled(self) -> None: ...


Task = Callable[[dict[str, Any], TaskContext], Any]
TaskRegistry = Mapping[str, Task]


@dataclass
class SpeedMeter:
    """Bytes per second over a sliding window of ``(time, completed)`` samples.

    A new layer (another digest or total, or ``completed`` going back) restarts it.

    >>> meter = SpeedMeter(window=5.0)
    >>> meter.add(0.0, 0, 1000, "a"), meter.add(1.0, 100, 1000, "a")
    ((None, None), (100.0, 9.0))
    """

    window: float = 5.0
    _samples: deque[tuple[float, int]] = field(default_factory=deque)
    _layer: tuple[str | None, int | None] = (None, None)

    def add(
        self, now: float, completed: int, total: int | None, digest: str | None
    ) -> tuple[float | None, float | None]:
        """Record a sample; returns ``(speed, eta)``, ``None`` while unknown."""
        layer = (digest, total)
        if layer != self._layer or (self._samples and completed < self._samples[-1][1]):
            self._samples.clear()
            self._layer = layer
        self._samples.append((now, completed))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window:
            self._samples.popleft()
        first_t, first_c = self._samples[0]
        if now - first_t <= 0:
            return None, None
        speed = (completed - first_c) / (now - first_t)
        if total is None or speed <= 0:
            return speed, None
        return speed, max(0.0, (total - completed) / speed)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass
class ProgressTracker:
    """Turns raw task reports into enriched events and the job's snapshot."""

    min_interval: float = 0.1
    clock: Callable[[], float] = time.monotonic
    snapshot: Progress = field(default_factory=Progress)
    meter: SpeedMeter = field(default_factory=SpeedMeter)
    _last_sent: float | None = None

    def update(self, type: str, data: dict[str, Any]) -> dict[str, Any] | None:
        """The event data to publish, or ``None`` when this update is thinned out."""
        kind = check_event_type(type)
        if kind in ("done", "error"):
            raise ValueError("tasks end by returning or raising, not by reporting")
        status = str(data.get("status", self.snapshot.status))
        if kind == "status":
            self.snapshot = Progress(status=status, **self._restarts(data))
            self._last_sent = None
            return dict(data)
        return self._progress(status, data)

    def _restarts(self, data: dict[str, Any]) -> dict[str, Any]:
        """The restart count a status carries, else the one known so far."""
        restarts = _int_or_none(data.get("restarts"))
        if restarts is None:
            return {
                "restarts": self.snapshot.restarts,
                "restart_reason": self.snapshot.restart_reason,
            }
        reason = data.get("reason")
        return {
            "restarts": restarts,
            "restart_reason": reason if isinstance(reason, str) else None,
        }

    def _progress(self, status: str, data: dict[str, Any]) -> dict[str, Any] | None:
        now = self.clock()
        completed = _int_or_none(data.get("completed"))
        total = _int_or_none(data.get("total"))
        digest = data.get("digest")
        digest = digest if isinstance(digest, str) else None
        speed = eta = fraction = None
        if completed is not None:
            speed, eta = self.meter.add(now, completed, total, digest)
            if total:
                fraction = min(1.0, completed / total)
        new_layer = digest != self.snapshot.digest or status != self.snapshot.status
        self.snapshot = replace(
            self.snapshot,
            status=status,
            completed=completed,
            total=total,
            fraction=fraction,
            speed=speed,
            eta=eta,
            digest=digest,
        )
        last = completed is not None and completed == total
        due = self._last_sent is None or now - self._last_sent >= self.min_interval
        if not (due or new_layer or last):
            return None
        self._last_sent = now
        return {**data, "fraction": fraction, "speed": speed, "eta": eta}
