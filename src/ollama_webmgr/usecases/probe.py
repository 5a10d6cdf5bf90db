"""Ask every server of the fleet the same question at once, with short timeouts.

Pages and ``/health`` must answer quickly even when a server is down or
blackholed: calls use the pool's probe clients (connect 1 s, read 3 s, no
retry; ``ClientPool.probe``) and run in parallel, so the slowest server bounds
the wait, not the sum of them. A thread pool works the same under gevent
(threads are greenlets once monkey-patched).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Generic, TypeVar

from ollama_webmgr.cluster.clients import ClientPool, probe_factory
from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.errors import OllamaError, OllamaTimeout
from ollama_webmgr.ollama.client import OllamaClient

T = TypeVar("T")

# Seconds for a whole page of reads: a server slower than this shows as timed
# out (its thread finishes on its own, bounded by the read timeout).
PROBE_DEADLINE = 2.0
MAX_PARALLEL = 16


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """What one server answered (``value``) or why it did not (``error``)."""

    server: Server
    value: T | None
    error: OllamaError | None
    latency_ms: float

    @property
    def ok(self) -> bool:
        return self.error is None


def ask(
    server: Server, call: Callable[[OllamaClient], T], clients: ClientPool | None
) -> Outcome[T]:
    """``call`` on the probe client of ``server``; Ollama errors are kept.

    Without a pool, a one-off probe client is built and closed.
    """
    started = time.perf_counter()
    try:
        if clients is not None:
            value = call(clients.probe(server))
        else:
            with probe_factory(server.url) as client:
                value = call(client)
    except OllamaError as exc:
        return Outcome(server, None, exc, _since(started))
    return Outcome(server, value, None, _since(started))


def ask_all(
    servers: Sequence[Server],
    call: Callable[[OllamaClient], T],
    clients: ClientPool | None,
    *,
    deadline: float = PROBE_DEADLINE,
) -> list[Outcome[T]]:
    """``ask`` every server in parallel; results in the order of ``servers``.

    A server still busy after ``deadline`` seconds counts as timed out; its
    thread is left to finish on its own (its client timeouts bound it).
    """
    if not servers:
        return []
    pool = ThreadPoolExecutor(
        max_workers=min(MAX_PARALLEL, len(servers)), thread_name_prefix="probe"
    )
    try:
        futures = [pool.submit(ask, server, call, clients) for server in servers]
        end = time.monotonic() + deadline
        outcomes: list[Outcome[T]] = []
        for server, future in zip(servers, futures, strict=True):
            try:
                outcomes.append(future.result(max(0.0, end - time.monotonic())))
            except FutureTimeout:
                late = OllamaTimeout("no answer in time", server=server.url)
                outcomes.append(Outcome(server, None, late, deadline * 1000))
        return outcomes
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
