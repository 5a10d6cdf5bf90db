"""One ``RequestRecord`` per gateway request, and a batching recorder.

The gateway hands each record to an ``on_request`` callable when the response
ends. ``BatchRecorder.submit`` only puts the record on a queue; a background
thread hands batches to the sink (the store, later), so recording never slows
a stream down.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
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
    """Queue records and flush them to ``sink`` by batches from one thread."""

    def __init__(
        self, sink: Sink, *, batch_size: int = 200, interval: float = 1.0
    ) -> None:
        self._sink = sink
        self._batch_size = batch_size
        self._interval = interval
        self._queue: queue.SimpleQueue[RequestRecord | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def submit(self, record: RequestRecord) -> None:
        self._queue.put(record)

    __call__ = submit

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="gateway-stats", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Flush what is queued, then end the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[RequestRecord] = []
            deadline = time.monotonic() + self._interval
            while len(batch) < self._batch_size:
                try:
                    item = self._queue.get(
                        timeout=max(0.0, deadline - time.monotonic())
                    )
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            if batch:
                try:
                    self._sink(batch)
                except Exception:  # a broken sink must not stop recording
                    log.exception("could not record %d gateway requests", len(batch))
