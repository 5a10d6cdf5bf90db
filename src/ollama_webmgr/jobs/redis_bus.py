"""The progress bus on Redis Streams, shared by web processes and RQ workers.

One stream per job (``<prefix>:stream:<job_id>``); the stream entry id is the SSE
event id, so ``Last-Event-ID`` maps straight onto ``XREAD`` from that id. Streams
are trimmed with ``MAXLEN ~`` and expire: ``idle_ttl`` after the last event (a
worker that died never closes its stream) and ``retention`` after ``publish_last``,
which also leaves a ``:closed`` marker: later events are dropped, in the same
script that appends (no event can slip in after the terminal one).
The connection may or may not decode responses; both are handled.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import redis

from ollama_webmgr.jobs.bus import AppendingBus
from ollama_webmgr.jobs.model import ProgressEvent, check_event_type

_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")

# KEYS: stream, closed marker; ARGV: maxlen, ttl, last (0/1), field, value...
_APPEND = """
if redis.call('exists', KEYS[2]) == 1 then return '' end
local args = {KEYS[1], 'MAXLEN', '~', ARGV[1], '*'}
for i = 4, #ARGV do args[#args + 1] = ARGV[i] end
local id = redis.call('xadd', unpack(args))
redis.call('expire', KEYS[1], ARGV[2])
if ARGV[3] == '1' then redis.call('set', KEYS[2], '1', 'EX', ARGV[2]) end
return id
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _stream_id(after: str | None) -> str:
    """A client's Last-Event-ID, or ``0-0`` (from the start) when it is not one.

    >>> _stream_id("1700000000000-3"), _stream_id(None), _stream_id("0 OR 1")
    ('1700000000000-3', '0-0', '0-0')
    """
    if after is None or not _STREAM_ID.match(after):
        return "0-0"
    return after


def _entries(reply: Any) -> list[Any]:
    """Entries of a one-stream XREAD reply, RESP2 (list) or RESP3 (dict)."""
    if not reply:
        return []
    if isinstance(reply, dict):
        return list(next(iter(reply.values()))[0])
    return list(reply[0][1])


class RedisBus(AppendingBus):
    def __init__(
        self,
        connection: redis.Redis,
        *,
        prefix: str = "webmgr",
        max_events: int = 2000,
        retention: float = 3600.0,
        idle_ttl: float = 86400.0,
    ) -> None:
        self._redis = connection
        self._prefix = prefix
        self._max_events = max_events
        self._retention = retention
        self._idle_ttl = idle_ttl
        self._append_script = connection.register_script(_APPEND)

    def key(self, job_id: str) -> str:
        return f"{self._prefix}:stream:{job_id}"

    def _append(
        self, job_id: str, type: str, data: dict[str, Any], *, last: bool
    ) -> str:
        kind = check_event_type(type)
        event = ProgressEvent(job_id, "", kind, data, time.time())
        ttl = max(1, int(self._retention if last else self._idle_ttl))
        fields = [part for pair in event.to_fields().items() for part in pair]
        key = self.key(job_id)
        keys = [key, f"{key}:closed"]
        event_id: Any = self._append_script(
            keys=keys, args=[self._max_events, ttl, int(last), *fields]
        )
        return _text(event_id)

    def events(
        self, job_id: str, after: str | None, *, timeout: float
    ) -> Iterator[ProgressEvent]:
        key = self.key(job_id)
        last = _stream_id(after)
        block: int | None = None  # the first read only replays
        while True:
            reply: Any = self._redis.xread({key: last}, count=500, block=block)
            entries = _entries(reply)
            if not entries:
                if block is not None or timeout <= 0:
                    return
                block = max(1, int(timeout * 1000))
                continue
            for raw_id, raw_fields in entries:
                last = _text(raw_id)
                fields = {_text(k): _text(v) for k, v in raw_fields.items()}
                yield ProgressEvent.from_fields(job_id, last, fields)
            if timeout > 0:
                block = max(1, int(timeout * 1000))
