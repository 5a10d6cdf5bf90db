"""Server-Sent Events: the wire format as a value object, and job progress streams.

``progress_stream`` is what ``GET /api/stream/progress?job_id=`` streams: first a
``status`` event holding the whole job record (a page that re-attaches sees where
the job is), then the bus replay after ``Last-Event-ID``, then live events, with a
``: keep-alive`` comment after each ``heartbeat`` seconds of silence. It ends after
``done`` or ``error``. The first event has no ``id`` so the browser keeps its last
real event id for the next reconnection.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ollama_webmgr.jobs.bus import ProgressBus
from ollama_webmgr.jobs.execution import final_event
from ollama_webmgr.jobs.model import Job, ProgressEvent
from ollama_webmgr.jobs.runner import JobRunner

KEEP_ALIVE = ": keep-alive\n\n"
#: Headers for the streaming response: no caching, no proxy buffering (nginx).
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
SSE_MIMETYPE = "text/event-stream"


@dataclass(frozen=True)
class SseEvent:
    r"""One SSE message.

    >>> SseEvent("hello").encode()
    'data: hello\n\n'
    >>> SseEvent("a\nb", event="progress", id="3-0", retry=2000).encode()
    'event: progress\nid: 3-0\nretry: 2000\ndata: a\ndata: b\n\n'
    >>> SseEvent("").encode()
    'data: \n\n'

    Line breaks in ``event`` or ``id`` would forge fields, so they are refused:

    >>> SseEvent("x", event="a\nb").encode()
    Traceback (most recent call last):
    ...
    ValueError: SSE event name contains a line break
    """

    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None

    def encode(self) -> str:
        lines = []
        for name, value in (("event", self.event), ("id", self.id)):
            if value is None:
                continue
            if "\n" in value or "\r" in value:
                raise ValueError(f"SSE {name} name contains a line break")
            lines.append(f"{name}: {value}")
        if self.retry is not None:
            lines.append(f"retry: {self.retry}")
        # splitlines() drops a trailing empty line; split keeps the data exact.
        text = self.data.replace("\r\n", "\n").replace("\r", "\n")
        lines.extend(f"data: {line}" for line in text.split("\n"))
        return "\n".join(lines) + "\n\n"


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


#: turns an event's data into what the client reads (the web edge adds French)
Localise = Callable[[str, dict[str, Any]], dict[str, Any]]


def _as_is(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return data


def state_event(
    job: Job, retry: int | None = None, localise: Localise = _as_is
) -> SseEvent:
    data = localise("status", {"state": job.state, "job": job.to_dict()})
    return SseEvent(_json(data), "status", retry=retry)


def bus_event(event: ProgressEvent, localise: Localise = _as_is) -> SseEvent:
    return SseEvent(_json(localise(event.type, event.data)), event.type, event.id)


def _synthetic_end(job: Job, localise: Localise) -> SseEvent:
    kind, data = final_event(job)
    return SseEvent(_json(localise(kind, data)), kind)


def progress_stream(
    runner: JobRunner,
    bus: ProgressBus,
    job_id: str,
    last_event_id: str | None,
    *,
    heartbeat: float = 15.0,
    retry: int | None = 3000,
    localise: Localise = _as_is,
) -> Iterator[str]:
    """Encoded SSE text for one job; raises ``JobNotFound`` before the first yield.

    ``retry`` (ms) tells the browser how soon to reconnect after a cut;
    ``localise(type, data)`` rewrites each event's data before it is sent.
    """
    job = runner.get(job_id)
    return _stream(runner, bus, job, last_event_id, heartbeat, retry, localise)


def _stream(
    runner: JobRunner,
    bus: ProgressBus,
    job: Job,
    last_id: str | None,
    heartbeat: float,
    retry: int | None,
    localise: Localise,
) -> Iterator[str]:
    yield state_event(job, retry, localise).encode()
    while True:
        # A finished job only replays what is left; a running one also waits.
        wait = 0.0 if job.finished else heartbeat
        for event in bus.events(job.id, last_id, timeout=wait):
            yield bus_event(event, localise).encode()
            last_id = event.id
            if event.terminal:
                return
        job = runner.get(job.id)
        if job.finished:
            # Its final event may be past retention (or never sent: a dead worker).
            for event in bus.events(job.id, last_id, timeout=0):
                yield bus_event(event, localise).encode()
                if event.terminal:
                    return
            yield _synthetic_end(job, localise).encode()
            return
        yield KEEP_ALIVE
