"""The progress bus: one append-only stream of events per job.

Readers replay from an event id (SSE ``Last-Event-ID``) and then wait for live
events, so any number of pages can attach, leave and come back. ``MemoryBus`` serves
one process; ``RedisBus`` (``jobs/redis_bus.py``) serves many through Redis Streams.

``events(job_id, after, timeout=...)`` yields everything after ``after`` and keeps
waiting while events keep coming; it returns once ``timeout`` seconds pass without
any, which is the caller's cue to send a heartbeat and call again. An ``after``
that is not an id of this bus (garbage from a client) means "from the start".
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from ollama_webmgr.jobs.model import ProgressEvent, check_event_type


class ProgressBus(Protocol):
    def publish(self, job_id: str, type: str, data: dict[str, Any]) -> str:
        """Append an event to the job's stream; returns its id, or ``""`` when
        the stream is closed (a late event of a stopped task is dropped)."""
        ...

    def events(
        self, job_id: str, after: str | None, *, timeout: float
    ) -> Iterator[ProgressEvent]:
        """Replay after ``after``, then live events until ``timeout`` of silence."""
        ...

    def publish_last(self, job_id: str, type: str, data: dict[str, Any]) -> str:
        """Append the terminal event and close the stream in one step, so nothing
        follows it; the stream is kept for the retention time, then dropped."""
        ...


class AppendingBus(ABC):
    """``publish`` and ``publish_last`` of both buses: one ``_append`` each."""

    def publish(self, job_id: str, type: str, data: dict[str, Any]) -> str:
        return self._append(job_id, type, data, last=False)

    def publish_last(self, job_id: str, type: str, data: dict[str, Any]) -> str:
        return self._append(job_id, type, data, last=True)

    @abstractmethod
    def _append(
        self, job_id: str, type: str, data: dict[str, Any], *, last: bool
    ) -> str:
        """Append an event (closing the stream when ``last``); its id or ``""``."""


@dataclass
class _Stream:
    events: deque[ProgressEvent]
    next_seq: int = 1
    closed_at: float | None = None
    cond: threading.Condition = field(default_factory=threading.Condition)


def _parse_seq(after: str | None) -> int:
    """Memory ids are decimal sequence numbers; anything else reads from the start.

    >>> _parse_seq("12"), _parse_seq(None), _parse_seq("1700000000000-0")
    (12, 0, 0)
    """
    if after is None or not after.isdigit():
        return 0
    return int(after)


class MemoryBus(AppendingBus):
    """In-process bus: a bounded deque and a condition variable per job.

    ``max_events`` bounds each stream (the oldest are dropped, like ``MAXLEN``);
    closed streams are dropped ``retention`` seconds later, checked on each call
    rather than by a background thread. Works with gevent's patched threading.
    """

    def __init__(
        self,
        *,
        max_events: int = 2000,
        retention: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_events = max_events
        self._retention = retention
        self._clock = clock
        self._streams: dict[str, _Stream] = {}
        self._lock = threading.Lock()

    def _stream(self, job_id: str) -> _Stream:
        with self._lock:
            self._expire_locked()
            stream = self._streams.get(job_id)
            if stream is None:
                stream = _Stream(events=deque(maxlen=self._max_events))
                self._streams[job_id] = stream
            return stream

    def _expire_locked(self) -> None:
        limit = self._clock() - self._retention
        for job_id in [
            job_id
            for job_id, stream in self._streams.items()
            if stream.closed_at is not None and stream.closed_at < limit
        ]:
            del self._streams[job_id]

    def _append(
        self, job_id: str, type: str, data: dict[str, Any], *, last: bool
    ) -> str:
        kind = check_event_type(type)
        stream = self._stream(job_id)
        with stream.cond:
            if stream.closed_at is not None:
                return ""
            event = ProgressEvent(job_id, str(stream.next_seq), kind, data, time.time())
            stream.next_seq += 1
            stream.events.append(event)
            if last:
                stream.closed_at = self._clock()
            stream.cond.notify_all()
        return event.id

    def events(
        self, job_id: str, after: str | None, *, timeout: float
    ) -> Iterator[ProgressEvent]:
        stream = self._stream(job_id)
        seq = _parse_seq(after)
        while True:
            with stream.cond:
                batch = [e for e in stream.events if int(e.id) > seq]
                if not batch and timeout > 0:
                    stream.cond.wait(timeout)
                    batch = [e for e in stream.events if int(e.id) > seq]
            if not batch:
                return
            # Yield outside the lock: the consumer may be slow (a network write).
            yield from batch
            seq = int(batch[-1].id)

    def stream_count(self) -> int:
        with self._lock:
            self._expire_locked()
            return len(self._streams)
