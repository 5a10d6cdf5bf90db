"""Bandwidth budgets shared by every process of the machine.

A ``Budget`` caps a byte rate (``rate`` bytes/s) over all the *flows* that
draw from it, whichever process runs them (the web process's job threads, RQ
workers, web workers serving the seed cache): its state is one small JSON
file, changed under a ``flock`` taken without blocking and retried (a blocked
system call would hold every greenlet of a gevent process).

The state is a shared clock of reservations: a flow that has received ``n``
bytes books the next ``n / rate`` seconds after the last booking (or from now
when the line is idle) and sleeps until its booking ends before it reads again.
So the flows together never run ahead of ``rate`` by more than one chunk each,
and, each flow holding at most one booking, their bookings interleave: active
flows get equal shares (fair queueing), and a flow that reads slower than its
share leaves the rest to the others (nothing is wasted). No per-flow quota has
to be recomputed when flows come and go.

Each flow also leaves a heartbeat in the file with the rate it measured, which
is what the UI shows (``snapshot``); a flow whose heartbeat is older than
``STALE`` seconds (it ended, or its process died) no longer counts.

>>> import tempfile
>>> budget = Budget(Path(tempfile.mkdtemp()), "registry", 1e9)
>>> with budget.flow("demo") as flow:
...     flow.took(1000)
...     budget.snapshot().flows[0].label
'demo'
>>> budget.snapshot().flows
[]
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

#: bytes read between two bookings (small: a burst is at most this per flow)
QUANTUM = 1 << 16
#: under a high cap, a booking covers this many seconds of it (fewer bookings)
_QUANTUM_SECONDS = 0.02
_QUANTUM_MAX = 1 << 22
#: seconds after which a flow without a heartbeat stops counting
STALE = 2.0
#: the span (seconds) over which a flow measures its own rate
_MEASURE = 5.0
_UNSAFE = re.compile(r"[^0-9A-Za-z_.-]")


@dataclass(frozen=True)
class FlowState:
    """One flow as the shared file knows it."""

    flow_id: str
    label: str
    rate: float  # bytes/s it measured over the last second
    waiting: bool  # its booking starts later than now: it queues behind others


@dataclass(frozen=True)
class Snapshot:
    """What a budget is doing now: its cap, the live flows, their sum."""

    cap: float | None
    flows: list[FlowState] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return sum(flow.rate for flow in self.flows)

    def share(self) -> float | None:
        """The fair share of one flow (the cap over the live flows)."""
        if not self.cap:
            return None
        return self.cap / max(1, len(self.flows))


class Budget:
    """A byte rate shared by every flow of every process using ``folder``."""

    def __init__(self, folder: Path, name: str, rate: float | None) -> None:
        self.folder = folder
        self.name = _UNSAFE.sub("_", name)
        self.rate = rate if rate and rate > 0 else None

    @property
    def quantum(self) -> int:
        """Bytes per booking: ``QUANTUM``, or 20 ms of a high cap (4 MiB at most).

        >>> Budget(Path("."), "x", 1e6).quantum, Budget(Path("."), "x", 1e8).quantum
        (65536, 2000000)
        """
        if not self.rate:
            return QUANTUM
        return max(QUANTUM, min(_QUANTUM_MAX, int(self.rate * _QUANTUM_SECONDS)))

    @property
    def path(self) -> Path:
        return self.folder / f"{self.name}.json"

    def flow(self, label: str) -> Flow:
        return Flow(self, label)

    def snapshot(self) -> Snapshot:
        state = _read(self.path)
        now = time.time()
        flows = [
            FlowState(
                flow_id,
                str(item.get("label", "")),
                _number(item.get("rate")),
                bool(item.get("waiting", False)),
            )
            for flow_id, item in _live(state, now).items()
        ]
        return Snapshot(self.rate, flows)

    def paced(self, chunks: Iterable[bytes], label: str) -> Iterator[bytes]:
        """``chunks`` regrouped in quanta, each one given out once it is paid for."""
        with self.flow(label) as flow:
            pending = b""
            for chunk in chunks:
                pending += chunk
                while len(pending) >= self.quantum:
                    piece, pending = pending[: self.quantum], pending[self.quantum :]
                    flow.took(len(piece), before=True)
                    yield piece
            if pending:
                flow.took(len(pending), before=True)
                yield pending

    # -- the shared file --

    def book(self, flow: Flow, count: int) -> float:
        """Book ``count`` bytes for ``flow``; when its booking ends (time.time())."""
        with self._locked() as state:
            now = time.time()
            start = _number(state.get("next"))
            if start > now + 60.0:  # the clock went back: forget the bookings
                start = now
            start = max(now, start)
            end = start + count / self.rate if self.rate else now
            state["next"] = end
            flows = _live(state, now)
            flows[flow.flow_id] = {
                "label": flow.label,
                "beat": now,
                "rate": flow.measured(now),
                "waiting": start > now + 0.5,
            }
            state["flows"] = flows
        return end

    def leave(self, flow: Flow) -> None:
        with self._locked() as state:
            flows = _live(state, time.time())
            flows.pop(flow.flow_id, None)
            state["flows"] = flows

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, object]]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / f"{self.name}.lock", "a+b") as handle:
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    time.sleep(0.002)  # another flow books: a moment
            try:
                state = _read(self.path)
                yield state
                temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
                temporary.write_text(json.dumps(state))
                os.replace(temporary, self.path)
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class Flow:
    """One download drawing from a budget (a context manager: it leaves on exit)."""

    def __init__(self, budget: Budget, label: str) -> None:
        self.budget = budget
        self.label = label
        self.flow_id = uuid.uuid4().hex[:12]
        self._recent: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()
        self._started = time.time()

    def __enter__(self) -> Flow:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.budget.rate:
            self.budget.leave(self)

    def took(self, count: int, *, before: bool = False) -> None:
        """``count`` bytes were read (or, ``before``, are about to be sent):
        wait until they are paid for. Without a cap: nothing at all."""
        if not self.budget.rate or count <= 0:
            return
        end = self.budget.book(self, count)
        if before:
            # bytes about to go out are sent at the start of their booking
            end -= count / self.budget.rate
        with self._lock:
            self._recent.append((end, count))  # counted once paid for
        wait = end - time.time()
        if wait > 0:
            time.sleep(wait)

    def measured(self, now: float) -> float:
        """Bytes/s paid for over the last ``_MEASURE`` seconds, or since the
        flow began (at least one): a shorter window holds one or two quanta of
        a low cap, and the rate shown would swing around it."""
        with self._lock:
            while self._recent and self._recent[0][0] < now - _MEASURE:
                self._recent.popleft()
            total = sum(count for at, count in self._recent if at <= now)
        return total / min(_MEASURE, max(1.0, now - self._started))


def _read(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _live(state: dict[str, object], now: float) -> dict[str, dict[str, object]]:
    flows = state.get("flows")
    if not isinstance(flows, dict):
        return {}
    return {
        key: item
        for key, item in flows.items()
        if isinstance(item, dict) and now - _number(item.get("beat")) < STALE
    }


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0
