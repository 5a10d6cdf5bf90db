"""One ``RequestRecord`` per gateway request, and a batching recorder.

The gateway hands each record to an ``on_request`` callable when the response
ends. ``BatchRecorder.submit`` only appends the record to a deque; a background
thread hands batches to the sink (the store), so recording never slows a
stream down. The store's sinks write through ``off_hub`` (an OS thread under
gevent): the writes would otherwise stall every request of the process.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

KINDS = {
    "/api/generate": "generate",
    "/api/chat": "chat",
    "/api/embed": "embed",
    "/api/embeddings": "embed",
    "/v1/chat/completions": "chat",
    "/v1/completions": "generate",
    "/v1/embeddings": "embed",
    "/v1/responses": "chat",
    "/v1/messages": "chat",
}


def request_kind(path: str) -> str:
    """``generate``, ``chat``, ``embed`` or ``other``.

    >>> request_kind("/v1/chat/completions"), request_kind("/api/tags")
    ('chat', 'other')
    """
    return KINDS.get(path, "other")


@dataclass(frozen=True, slots=True)
class RequestRecord:
    started_at: float  # unix time
    method: str
    path: str
    kind: str
    model: str | None
    server: str | None  # None: answered by the gateway itself
    status: int
    latency_ms: float
    ttft_ms: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    bytes_in: int
    bytes_out: int
    attempts: int
    error: str | None


def token_counts(tail: bytes) -> tuple[int | None, int | None]:
    """Prompt and completion token counts from the last line, event or body.

    >>> token_counts(b'{"response":"a"}\\n{"done":true,"prompt_eval_count":5,"eval_count":7}\\n')
    (5, 7)
    >>> token_counts(b'data: {"usage":{"prompt_tokens":3,"completion_tokens":4}}\\n\\ndata: [DONE]\\n\\n')
    (3, 4)
    >>> token_counts(b"data: [DONE]\\n\\n"), token_counts(b"")
    ((None, None), (None, None))
    """
    if b"usage" not in tail and b"eval_count" not in tail:
        return None, None  # most bodies (show, tags...): no JSON to parse
    for line in reversed(tail.split(b"\n")):
        text = line.strip().removeprefix(b"data:").strip()
        if not text.startswith(b"{"):
            continue
        try:
            data = json.loads(text)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        usage = data.get("usage")
        if isinstance(usage, dict):
            return _int(usage.get("prompt_tokens")), _int(
                usage.get("completion_tokens")
            )
        if "eval_count" in data or "prompt_eval_count" in data:
            return _int(data.get("prompt_eval_count")), _int(data.get("eval_count"))
    return None, None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


Sink = Callable[[Sequence[RequestRecord]], None]


class BatchRecorder:
    """Collect records and hand them to ``sink`` by batches from one thread.

    ``submit`` is one append to a deque: no lock, no queue, no wake-up of the
    thread per request (under gevent each wake-up is a greenlet switch). The
    thread wakes every ``interval`` seconds, or as soon as ``batch_size`` records
    wait, and hands what is there to the sink in batches of at most
    ``batch_size`` (larger batches make each stored record cheaper).
    """

    def __init__(
        self, sink: Sink, *, batch_size: int = 1000, interval: float = 1.0
    ) -> None:
        self._sink = sink
        self._batch_size = batch_size
        self._interval = interval
        self._pending: deque[RequestRecord] = deque()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def submit(self, record: RequestRecord) -> None:
        self._pending.append(record)
        if len(self._pending) >= self._batch_size:
            self._wake.set()

    __call__ = submit

    def start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(
            target=self._run, name="gateway-stats", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Flush what is pending, then end the thread."""
        if self._thread is not None:
            self._stopping = True
            self._wake.set()
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            stopping = self._stopping
            # only what is there now: a steady flow must not keep this loop busy
            self._flush(len(self._pending))
            if stopping:
                self._flush(len(self._pending))
                return

    def _flush(self, count: int) -> None:
        pending = self._pending
        while count > 0:
            size = min(count, self._batch_size)
            batch = [pending.popleft() for _ in range(size)]
            count -= size
            try:
                self._sink(batch)
            except Exception:  # a broken sink must not stop recording
                log.exception("could not record %d gateway requests", len(batch))
