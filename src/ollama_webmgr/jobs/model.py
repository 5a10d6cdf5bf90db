"""Job records and progress events: plain values, JSON in and out.

A ``Job`` is immutable; runners store the newest version and replace it with
``dataclasses.replace`` so readers in other threads never see half an update.

>>> job = Job.new("pull_model", {"model": "qwen2.5:7b"}, dedupe_key="pull:qwen")
>>> job.state, job.active, job.finished
('queued', True, False)
>>> Job.from_json(job.to_json()) == job
True
>>> Job.from_dict({**job.to_dict(), "added_later": 1}) == job
True
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal, cast

from ollama_webmgr.errors import JobError

JobState = Literal["queued", "running", "done", "error", "cancelled", "interrupted"]
EventType = Literal["progress", "status", "done", "error"]

ACTIVE_STATES: frozenset[str] = frozenset({"queued", "running"})
FINAL_STATES: frozenset[str] = frozenset({"done", "error", "cancelled", "interrupted"})
RETRYABLE_STATES: frozenset[str] = frozenset({"error", "cancelled", "interrupted"})
EVENT_TYPES: frozenset[str] = frozenset({"progress", "status", "done", "error"})


@dataclass(frozen=True)
class Progress:
    """The last thing a job reported: what a re-attaching page shows first.

    ``fraction`` is ``completed / total`` (0..1); ``speed`` is bytes per second and
    ``eta`` seconds left, both ``None`` until enough samples exist. ``restarts``
    counts the automatic restarts of a pull so far, the last one for
    ``restart_reason`` (``stalled`` or ``backwards``); they outlive later lines.
    """

    status: str = ""
    completed: int | None = None
    total: int | None = None
    fraction: float | None = None
    speed: float | None = None
    eta: float | None = None
    digest: str | None = None
    restarts: int = 0
    restart_reason: str | None = None


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    params: dict[str, Any]
    state: JobState = "queued"
    dedupe_key: str | None = None
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    progress: Progress = field(default_factory=Progress)
    error: str | None = None
    error_code: str | None = None
    result: Any = None
    cancel_requested: bool = False
    retry_of: str | None = None

    @classmethod
    def new(
        cls,
        kind: str,
        params: dict[str, Any],
        *,
        dedupe_key: str | None = None,
        retry_of: str | None = None,
    ) -> Job:
        # Fail at submit time, not in a worker, when params cannot travel as JSON.
        try:
            json.dumps(params)
        except (TypeError, ValueError) as exc:
            raise JobError(f"job params must be JSON-serialisable: {exc}") from None
        return cls(
            id=uuid.uuid4().hex,
            kind=kind,
            params=params,
            dedupe_key=dedupe_key,
            created_at=time.time(),
            retry_of=retry_of,
        )

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    def with_state(self, state: JobState, **changes: Any) -> Job:
        """A copy in ``state``; start and finish times are stamped on the way."""
        now = time.time()
        if state == "running" and self.started_at is None:
            changes.setdefault("started_at", now)
        if state in FINAL_STATES:
            changes.setdefault("finished_at", now)
        return replace(self, state=state, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        # Unknown keys are dropped: a newer worker may write fields we lack.
        values = {k: v for k, v in data.items() if k in _JOB_FIELDS}
        progress = values.get("progress") or {}
        values["progress"] = Progress(
            **{k: v for k, v in progress.items() if k in _PROGRESS_FIELDS}
        )
        if values.get("state") not in ACTIVE_STATES | FINAL_STATES:
            raise JobError(f"unknown job state {values.get('state')!r}")
        return cls(**values)

    @classmethod
    def from_json(cls, text: str | bytes) -> Job:
        return cls.from_dict(cast(dict[str, Any], json.loads(text)))


_JOB_FIELDS = frozenset(f.name for f in fields(Job))
_PROGRESS_FIELDS = frozenset(f.name for f in fields(Progress))


@dataclass(frozen=True)
class ProgressEvent:
    """One message of a job's stream; ``id`` is what SSE sends as the event id.

    >>> event = ProgressEvent("j1", "7", "status", {"status": "pulling manifest"}, 1.5)
    >>> ProgressEvent.from_fields("j1", "7", event.to_fields()) == event
    True
    """

    job_id: str
    id: str
    type: EventType
    data: dict[str, Any]
    ts: float

    @property
    def terminal(self) -> bool:
        return self.type in ("done", "error")

    def to_fields(self) -> dict[str, str]:
        return {
            "type": self.type,
            "data": json.dumps(self.data, separators=(",", ":")),
            "ts": repr(self.ts),
        }

    @classmethod
    def from_fields(
        cls, job_id: str, event_id: str, fields: dict[str, str]
    ) -> ProgressEvent:
        kind = fields["type"]
        if kind not in EVENT_TYPES:
            raise JobError(f"unknown event type {kind!r}")
        return cls(
            job_id=job_id,
            id=event_id,
            type=cast(EventType, kind),
            data=cast(dict[str, Any], json.loads(fields["data"])),
            ts=float(fields["ts"]),
        )


def check_event_type(kind: str) -> EventType:
    """Validate an event type given as a plain string.

    >>> check_event_type("progress")
    'progress'
    >>> check_event_type("bogus")
    Traceback (most recent call last):
    ...
    ollama_webmgr.errors.JobError: unknown event type 'bogus'
    """
    if kind not in EVENT_TYPES:
        raise JobError(f"unknown event type {kind!r}")
    return cast(EventType, kind)
