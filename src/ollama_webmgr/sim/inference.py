"""Fake inference: deterministic tokens and embeddings, runner load/expiry.

>>> tokens, reason = reply_tokens("Why is the sky blue?", None)
>>> tokens == reply_tokens("Why is the sky blue?", None)[0], reason
(True, 'stop')
>>> reply_tokens("Why is the sky blue?", 2)[1]
'length'
>>> vector = embedding("hello", 8)
>>> len(vector), round(sum(x * x for x in vector), 6)
(8, 1.0)
"""

from __future__ import annotations

import hashlib
import math
import struct
import time
from dataclasses import dataclass

from ollama_webmgr.sim.state import (
    DEFAULT_KEEP_ALIVE,
    InstalledModel,
    Runner,
    SimState,
    local_now,
)

_WORDS = (
    "the model answers",
    "with a short",
    "deterministic reply",
    "about",
    "your question",
    "emulated",
    "by ollama-webmgr",
    "so tests",
    "stay fast",
    "and",
    "repeatable",
)


def _seed(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def reply_tokens(prompt: str, limit: int | None) -> tuple[list[str], str]:
    """The tokens answered to ``prompt`` and the done reason (``stop``/``length``)."""
    seed = _seed(prompt)
    count = 6 + seed[0] % 10
    tokens = [
        (" " if i else "") + _WORDS[seed[i % len(seed)] % len(_WORDS)]
        for i in range(count)
    ]
    tokens[-1] += "."
    if limit is not None and 0 <= limit < count:
        return tokens[:limit], "length"
    return tokens, "stop"


def count_tokens(text: str) -> int:
    """A rough token count (about four characters per token)."""
    return max(1, (len(text) + 3) // 4)


def raw_embedding(text: str, dimensions: int) -> list[float]:
    """A deterministic unnormalised vector for ``text``."""
    values: list[float] = []
    block = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{block}:{text}".encode()).digest()
        for (number,) in struct.iter_unpack(">H", digest):
            values.append(round(number / 32768.0 - 1.0, 6))
        block += 1
    return values[:dimensions]


def normalise(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def embedding(text: str, dimensions: int) -> list[float]:
    """L2-normalised vector, as ``/api/embed`` returns."""
    return normalise(raw_embedding(text, dimensions))


@dataclass
class Lease:
    """One request holding a runner; ``load_ns`` is the reported load_duration."""

    runner: Runner
    load_ns: int


def _option_int(options: dict[str, object], key: str) -> int | None:
    value = options.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def acquire(
    state: SimState,
    model: InstalledModel,
    keep_alive: float | None,
    options: dict[str, object] | None = None,
) -> Lease:
    """Load ``model`` if needed (a given keep_alive replaces the runner's).

    A runner shows up in ``/api/ps`` as soon as its load starts; concurrent
    requests wait for the same load to finish.
    """
    started = time.monotonic()
    state.expire_runners()
    with state.lock:
        runner = state.runners.get(model.name.key)
        fresh = runner is None
        if runner is None:
            runner = _new_runner(state, model, keep_alive, options or {})
            state.runners[model.name.key] = runner
        elif keep_alive is not None:
            runner.keep_alive = keep_alive
        runner.model = model
        runner.in_flight += 1
    time.sleep(max(0.0, runner.ready_at - time.monotonic()))
    elapsed = int((time.monotonic() - started) * 1e9)
    nominal = int(model.catalog.variant.weights_size / 4e9 * 1e9) if fresh else 0
    return Lease(runner, max(elapsed, nominal, 1))


def _new_runner(
    state: SimState,
    model: InstalledModel,
    keep_alive: float | None,
    options: dict[str, object],
) -> Runner:
    ctx = _option_int(options, "num_ctx") or 4096
    ctx = min(ctx, model.catalog.family.context_length)
    size = int(model.catalog.size * 1.1) + ctx * 64 * 1024
    chosen = DEFAULT_KEEP_ALIVE if keep_alive is None else keep_alive
    now = local_now()
    runner = Runner(model, chosen, now, size, size if state.gpu else 0, ctx)
    runner.expires_at = runner.expiry_after(now)  # what ps shows while loading
    runner.ready_at = time.monotonic() + state.load_delay
    return runner


def release(state: SimState, lease: Lease) -> None:
    """The request finished: the keep_alive countdown starts now."""
    with state.lock:
        runner = lease.runner
        runner.in_flight = max(0, runner.in_flight - 1)
        if runner.in_flight == 0:
            runner.expires_at = runner.expiry_after(local_now())
            if runner.keep_alive == 0:
                state.runners.pop(runner.model.name.key, None)
