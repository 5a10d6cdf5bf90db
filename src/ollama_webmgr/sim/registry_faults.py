"""Fault knobs and byte counters of the fake registry's blob downloads.

The knobs count bytes from the moment they are set, over every blob response
together (a registry-side fault, whichever connection carries the bytes):

- ``stall_after``: after N more bytes, no blob byte goes out for ``stall_for``
  seconds (``None``: until ``release()``); new connections stall too.
- ``slow``: all blob responses together send at most this many bytes/s.
- ``drop_after``: after N more bytes, the connection carrying the next byte is
  cut (once).
- ``corrupt``: blob bytes are altered on the way out (the digest is wrong).

``ServedBytes`` counts the blob bytes that went out, in total and per digest.

>>> faults = RegistryFaults.from_json({"drop_after": 10, "slow": 1e9})
>>> faults.admit(4), faults.admit(20), faults.drop_after
((4, False), (6, True), None)
>>> RegistryFaults.from_json({"nope": 1})
Traceback (most recent call last):
...
ValueError: unknown registry fault knob 'nope'
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, fields
from typing import Any

_WAIT_STEP = 0.05


@dataclass
class RegistryFaults:
    stall_after: int | None = None
    stall_for: float | None = None
    slow: float | None = None
    drop_after: int | None = None
    corrupt: bool = False
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
        known = {f.name for f in fields(self) if not f.name.startswith("_")}
        for key in data:
            if key not in known:
                raise ValueError(f"unknown registry fault knob {key!r}")
        for key, value in data.items():
            setattr(self, key, value)

    def as_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data = {k: v for k, v in data.items() if not k.startswith("_")}
        data["stalled"] = self.stalled()
        return data

    def release(self) -> None:
        """End a stall now and disarm a pending one."""
        with self._lock:
            self.stall_after = None
            self._stalled_until = None
            self._released.set()

    def stalled(self) -> bool:
        with self._lock:
            until = self._stalled_until
            if until is not None and time.monotonic() >= until:
                self._stalled_until = until = None
            return until is not None

    def wait_while_stalled(self) -> None:
        while self.stalled():
            self._released.wait(_WAIT_STEP)

    def admit(self, wanted: int) -> tuple[int, bool]:
        """How many of the next ``wanted`` bytes may go out, and whether the
        connection must be dropped right after them."""
        with self._lock:
            allowed, drop = wanted, False
            if self.drop_after is not None:
                allowed = min(allowed, self.drop_after)
                self.drop_after -= allowed
                if self.drop_after <= 0 and allowed < wanted:
                    self.drop_after, drop = None, True
            if self.stall_after is not None:
                allowed = min(allowed, self.stall_after)
                self.stall_after -= allowed
                if self.stall_after <= 0:
                    self._start_stall()
            return allowed, drop

    def _start_stall(self) -> None:
        self.stall_after = None
        self._released.clear()
        duration = self.stall_for
        self._stalled_until = time.monotonic() + (
            duration if duration is not None else float("inf")
        )

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


@dataclass
class ServedBytes:
    """Blob bytes the registry sent, in total and per digest (thread-safe)."""

    total: int = 0
    by_digest: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, digest: str, count: int) -> None:
        with self._lock:
            self.total += count
            self.by_digest[digest] = self.by_digest.get(digest, 0) + count

    def of(self, digest: str) -> int:
        with self._lock:
            return self.by_digest.get(digest, 0)

    def reset(self) -> None:
        with self._lock:
            self.total = 0
            self.by_digest.clear()

    def as_json(self) -> dict[str, Any]:
        with self._lock:
            return {"total": self.total, "by_digest": dict(self.by_digest)}
