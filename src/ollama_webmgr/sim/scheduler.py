"""The scheduler of one emulated node: loads, eviction, parallelism, the queue.

As in Ollama's ``server/sched.go``:

- a request for a loaded runner uses it at once (it does not enter the queue);
- a request that needs a load waits in the pending queue, which holds at most
  ``max_queue`` requests (``OLLAMA_MAX_QUEUE``); one more answers 503
  ``server busy, please try again.  maximum pending requests exceeded``;
- one load is worked on at a time; when ``max_loaded_models`` runners
  (``OLLAMA_MAX_LOADED_MODELS``, 0: 3 per GPU, or 3 on CPU) are loaded, a runner
  is evicted first: an idle one, in order of keep_alive then name, else the
  request waits for the first in that order to finish;
- each runner serves ``num_parallel`` requests at once (``OLLAMA_NUM_PARALLEL``;
  embedding models 1); the others wait for a slot, without a bound.

A runner shows up in ``/api/ps`` as soon as its load starts; concurrent
requests wait for the same load to finish.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ollama_webmgr.sim.faults import BUSY_MESSAGE
from ollama_webmgr.sim.state import (
    DEFAULT_KEEP_ALIVE,
    InstalledModel,
    Runner,
    SimState,
    local_now,
)
from ollama_webmgr.sim.wire import BadRequest

MODELS_PER_GPU = 3  # Ollama's automatic OLLAMA_MAX_LOADED_MODELS per GPU


@dataclass
class Lease:
    """One request holding a runner; ``load_ns`` is the reported load_duration."""

    runner: Runner
    load_ns: int


def max_loaded(state: SimState) -> int:
    return state.max_loaded_models if state.max_loaded_models > 0 else MODELS_PER_GPU


def acquire(
    state: SimState,
    model: InstalledModel,
    keep_alive: float | None,
    options: dict[str, object] | None = None,
) -> Lease:
    """Hold ``model``'s runner, loading it first if needed (503 when the queue is full).

    A given keep_alive replaces the runner's.
    """
    started = time.monotonic()
    state.expire_runners()
    with state.changed:
        runner = _usable(state, model)
        fresh = runner is None
        if runner is None:
            runner = _load_slot(state, model, keep_alive, options or {})
        elif keep_alive is not None:
            runner.keep_alive = keep_alive
        runner.model = model
        runner.in_flight += 1
    time.sleep(max(0.0, runner.ready_at - time.monotonic()))
    elapsed = int((time.monotonic() - started) * 1e9)
    library_size = model.weights_size / model.catalog.scale  # the catalogue is scaled
    nominal = int(library_size / 4e9 * 1e9) if fresh else 0
    return Lease(runner, max(elapsed, nominal, 1))


def _usable(state: SimState, model: InstalledModel) -> Runner | None:
    # Ollama's fast path: a loaded runner serves at once, even one chosen for
    # eviction (it unloads when it goes idle).
    return state.runners.get(model.name.key)


def _load_slot(
    state: SimState,
    model: InstalledModel,
    keep_alive: float | None,
    options: dict[str, object],
) -> Runner:
    """Queue for the loader (lock held), make room, start the load."""
    if state.loader_busy or state.pending:
        if state.pending >= state.max_queue:
            raise BadRequest(BUSY_MESSAGE, 503)
        state.pending += 1
        try:
            state.changed.wait_for(lambda: not state.loader_busy)
        finally:
            state.pending -= 1
    state.loader_busy = True
    try:
        while True:
            runner = _usable(state, model)
            if runner is not None:
                return runner
            if len(state.runners) < max_loaded(state):
                runner = _new_runner(state, model, keep_alive, options)
                state.runners[model.name.key] = runner
                return runner
            _evict_one(state)
    finally:
        state.loader_busy = False
        state.changed.notify_all()


def _evict_one(state: SimState) -> None:
    """Unload an idle runner, or wait for the first in order to go idle."""
    ordered = sorted(state.runners.values(), key=_eviction_order)
    victim = next((r for r in ordered if r.in_flight == 0), ordered[0])
    victim.evicting = True
    state.changed.wait_for(lambda: victim.in_flight == 0)
    state.runners.pop(victim.model.name.key, None)


def _eviction_order(runner: Runner) -> tuple[float, str]:
    duration = float("inf") if runner.keep_alive < 0 else runner.keep_alive
    return duration, runner.model.name.display


def _new_runner(
    state: SimState,
    model: InstalledModel,
    keep_alive: float | None,
    options: dict[str, object],
) -> Runner:
    ctx = options.get("num_ctx")
    ctx = int(ctx) if isinstance(ctx, int | float) and not isinstance(ctx, bool) else 0
    ctx = min(ctx or 4096, model.context_length)
    size = int(model.size * 1.1) + ctx * 64 * 1024
    chosen = DEFAULT_KEEP_ALIVE if keep_alive is None else keep_alive
    now = local_now()
    runner = Runner(model, chosen, now, size, size if state.gpu else 0, ctx)
    runner.parallel = 1 if model.is_embedding else max(1, state.num_parallel)
    runner.expires_at = runner.expiry_after(now)  # what ps shows while loading
    runner.ready_at = time.monotonic() + state.load_delay
    return runner


@contextmanager
def slot(state: SimState, lease: Lease) -> Iterator[None]:
    """One of the runner's ``num_parallel`` slots, for the time of a completion."""
    runner = lease.runner
    with state.changed:
        state.changed.wait_for(lambda: runner.active < runner.parallel)
        runner.active += 1
    try:
        yield
    finally:
        with state.changed:
            runner.active -= 1
            state.changed.notify_all()


def release(state: SimState, lease: Lease) -> None:
    """The request finished: the keep_alive countdown starts now."""
    with state.changed:
        runner = lease.runner
        runner.in_flight = max(0, runner.in_flight - 1)
        if runner.in_flight == 0:
            runner.expires_at = runner.expiry_after(local_now())
            unloads = runner.keep_alive == 0 or runner.evicting
            if unloads and state.runners.get(runner.model.name.key) is runner:
                state.runners.pop(runner.model.name.key, None)
        state.changed.notify_all()


def snapshot(state: SimState) -> dict[str, object]:
    """The limits and live counters, for ``GET /_sim/scheduler``."""
    with state.lock:
        return {
            "max_loaded_models": state.max_loaded_models,
            "num_parallel": state.num_parallel,
            "max_queue": state.max_queue,
            "pending": state.pending,
            "loading": state.loader_busy,
            "loaded": len(state.runners),
            "in_flight": sum(r.in_flight for r in state.runners.values()),
            "active": sum(r.active for r in state.runners.values()),
        }


class Release:
    """Release one lease, once (the end of a reply, or its close, whichever first)."""

    def __init__(self, state: SimState, lease: Lease) -> None:
        self.state = state
        self.lease = lease
        self._done = False

    def __call__(self) -> None:
        if not self._done:
            self._done = True
            release(self.state, self.lease)


class Leased:
    """Lines made while holding a lease: closing them releases it."""

    def __init__(self, lines: Iterator[dict[str, Any]], done: Release) -> None:
        self._lines = lines
        self._done = done

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self

    def __next__(self) -> dict[str, Any]:
        try:
            return next(self._lines)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        close = getattr(self._lines, "close", None)
        if close is not None:
            close()
        self._done()
