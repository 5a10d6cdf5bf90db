"""Fault knobs and byte counters of the fake registry's blob downloads.

The knobs count bytes from the moment they are set, over every blob response
together (a registry-side fault, whichever connection carries the bytes):

- ``stall_after``: after N more bytes, the connection that carried the Nth byte
  is stuck: it sends nothing more for ``stall_for`` seconds (``None``: until
  ``release()``), then goes on if its client is still there. Other connections,
  and new ones (a part reconnecting, a resumed pull), are served as usual: a
  stuck TCP connection, what a real network does. Each stuck connection is
  recorded in ``stuck`` (where it stopped, and when another connection served
  that byte: the download resumed).
- ``stall_all``: the stall holds every connection instead, new ones too, until
  it ends (a registry that stops answering altogether).
- ``slow``: all blob responses together send at most this many bytes/s.
- ``drop_after``: after N more bytes, the connection carrying the next byte is
  cut (once).
- ``corrupt``: blob bytes are altered on the way out (the digest is wrong).

``ServedBytes`` counts the blob bytes that went out, in total and per digest.

>>> faults = RegistryFaults.from_json({"drop_after": 10, "slow": 1e9})
>>> tuple(faults.admit(4)), tuple(faults.admit(20)), faults.drop_after
((4, False, False), (6, True, False), None)
>>> faults.update({"stall_after": 5})  # this connection stops; the next one goes on
>>> tuple(faults.admit(8)), faults.stalled(), tuple(faults.admit(8))
((5, False, True), False, (8, False, False))
>>> RegistryFaults.from_json({"nope": 1})
Traceback (most recent call last):
...
ValueError: unknown registry fault knob 'nope'
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field, fields
from typing import Any, NamedTuple

from ollama_webmgr.sim.faults import set_knobs

_WAIT_STEP = 0.05
#: pieces ``ServedBytes.history`` keeps (64 KiB each at most: a few GB)
HISTORY = 100_000


class Admitted(NamedTuple):
    """What ``RegistryFaults.admit`` lets one connection do next."""

    allowed: int  # bytes that may go out now
    drop: bool  # cut the connection right after them
    stuck: bool  # then send nothing more for the stall (``hold_stuck``)


@dataclass
class Stuck:
    """One stuck connection: the byte it stopped before, and when it resumed.

    Times are ``time.monotonic()``: ``started`` when it stopped sending,
    ``resumed`` when another connection served that byte (the part reconnected,
    or a resumed pull), ``unstuck`` when its stall ended, ``closed`` when the
    connection was done (its client gone, or everything sent).
    """

    digest: str
    offset: int
    started: float
    resumed: float | None = None
    unstuck: float | None = None
    closed: float | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RegistryFaults:
    stall_after: int | None = None
    stall_for: float | None = None
    slow: float | None = None
    drop_after: int | None = None
    corrupt: bool = False
    stall_all: bool = False
    stuck: list[Stuck] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stalled_until: float | None = field(default=None, repr=False)
    _released: threading.Event = field(default_factory=threading.Event, repr=False)
    _paced_until: float = field(default=0.0, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RegistryFaults:
        faults = cls()
        faults.update(data)
        return faults

    def update(self, data: dict[str, Any]) -> None:
        """Set some knobs (unknown ones raise ValueError); a new stall re-arms."""
        set_knobs(self, data, "registry fault knob", fixed=frozenset({"stuck"}))

    def as_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data = {k: v for k, v in data.items() if not k.startswith("_")}
        with self._lock:
            data["stuck"] = [stuck.as_json() for stuck in self.stuck]
            held = any(stuck["unstuck"] is None for stuck in data["stuck"])
        data["stalled"] = self.stalled() or held
        return data

    def release(self) -> None:
        """End a stall now (stuck connections go on) and disarm a pending one."""
        with self._lock:
            self.stall_after = None
            self._stalled_until = None
            self._released.set()

    def stalled(self) -> bool:
        """Whether every connection is held (``stall_all``) right now."""
        with self._lock:
            until = self._stalled_until
            if until is not None and time.monotonic() >= until:
                self._stalled_until = until = None
            return until is not None

    def wait_while_stalled(self) -> None:
        while self.stalled():
            self._released.wait(_WAIT_STEP)

    def admit(self, wanted: int) -> Admitted:
        """How many of the next ``wanted`` bytes may go out, whether the
        connection must be dropped right after them, or stuck."""
        with self._lock:
            allowed, drop, stuck = wanted, False, False
            if self.drop_after is not None:
                allowed = min(allowed, self.drop_after)
                self.drop_after -= allowed
                if self.drop_after <= 0 and allowed < wanted:
                    self.drop_after, drop = None, True
            if self.stall_after is not None:
                allowed = min(allowed, self.stall_after)
                self.stall_after -= allowed
                if self.stall_after <= 0:
                    stuck = not self.stall_all
                    self._start_stall()
            return Admitted(allowed, drop, stuck)

    def _start_stall(self) -> None:
        self.stall_after = None
        self._released.clear()
        if self.stall_all:
            self._stalled_until = self._stall_end()

    def _stall_end(self) -> float:
        duration = self.stall_for
        return time.monotonic() + (duration if duration is not None else float("inf"))

    def hold_stuck(self, digest: str, offset: int) -> Stuck:
        """Block the stuck connection (stopped before byte ``offset`` of
        ``digest``) for the stall; its record, for ``closed`` to be set."""
        record = Stuck(digest, offset, started=time.monotonic())
        with self._lock:
            until = self._stall_end()
            self.stuck.append(record)
        try:
            while not self._released.is_set() and time.monotonic() < until:
                self._released.wait(min(_WAIT_STEP, until - time.monotonic()))
        finally:
            record.unstuck = time.monotonic()
        return record

    def served(self, digest: str, start: int, end: int) -> None:
        """Bytes ``[start, end)`` of ``digest`` went out: a stuck connection's
        next byte served by another one is when the download resumed."""
        with self._lock:
            for record in self.stuck:
                if (
                    record.resumed is None
                    and record.unstuck is None
                    and record.digest == digest
                    and start <= record.offset < end
                ):
                    record.resumed = time.monotonic()

    def pace(self, sent: int) -> None:
        """Sleep so that all responses together keep under ``slow`` bytes/s."""
        rate = self.slow
        if not rate or rate <= 0:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._paced_until)
            self._paced_until = start + sent / rate
            wait = self._paced_until - now
        time.sleep(wait)


class Sent(NamedTuple):
    """One piece of a blob that went out, and when (``time.monotonic()``)."""

    at: float
    digest: str
    size: int


@dataclass
class ServedBytes:
    """Blob bytes the registry sent, in total and per digest (thread-safe);
    ``history`` keeps the latest pieces with their time (a rate can be
    measured over any window of it)."""

    total: int = 0
    by_digest: dict[str, int] = field(default_factory=dict)
    history: deque[Sent] = field(default_factory=lambda: deque(maxlen=HISTORY))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, digest: str, count: int) -> None:
        with self._lock:
            self.total += count
            self.by_digest[digest] = self.by_digest.get(digest, 0) + count
            self.history.append(Sent(time.monotonic(), digest, count))

    def sent(self) -> list[Sent]:
        with self._lock:
            return list(self.history)

    def of(self, digest: str) -> int:
        with self._lock:
            return self.by_digest.get(digest, 0)

    def reset(self) -> None:
        with self._lock:
            self.total = 0
            self.by_digest.clear()
            self.history.clear()

    def as_json(self) -> dict[str, Any]:
        with self._lock:
            return {"total": self.total, "by_digest": dict(self.by_digest)}
