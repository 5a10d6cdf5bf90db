"""``POST /api/pull`` fanned out, the bytes taken from the registry once.

When a registry model goes to several servers and the manager's seed cache
is served (``ollama/seed_cache.py``, the same directory as the web app's, at
``SEED_CACHE_URL``), the gateway opens a seeding, fills the cache from the
registry, then has each server pull ``<cache host:port>/<ns>/<model>:<tag>``
(``insecure``), copy it to its canonical name and delete the temporary one,
as a seeding job does (``jobs/seeding.py``; both decide with
``ollama/seed_plan.py``).

The client reads one Ollama pull stream: ``pulling manifest``, the fill's
lines per blob (the bytes coming from the registry: the slow part), then the
servers' own stream merged (``gateway/progress.py``) with their blob lines
left out (a blob already shown must not come back, contract §5.2): while
they copy from the cache, the last blob's line is sent again every few
seconds so the stream is not silent; then ``verifying sha256 digest``,
``writing manifest`` and ``success`` once every server has the model under
its name, or Ollama's error line.

Each server pulls directly from the registry, as before, when the cache does
not serve (``seed_plan.serves``), when the model is of another host, goes to
one server, or the client asked ``insecure``, when every server already has
the registry's manifest (a fill would be for nothing), or, for one server,
when its pull fails naming the cache's address (it cannot reach it).
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.errors import InvalidModelName
from ollama_webmgr.gateway.fanout import (
    NodeFailed,
    Posted,
    merged_progress,
    node_lines,
    run_merged,
)
from ollama_webmgr.gateway.progress import Line, ProgressMerger
from ollama_webmgr.gateway.upstream import Timeouts, Upstream
from ollama_webmgr.ollama.names import ModelName

if TYPE_CHECKING:
    from ollama_webmgr.gateway.calls import Call
    from ollama_webmgr.gateway.gate import Gate
    from ollama_webmgr.ollama.seed_cache import SeedCache, Seeding

PULL = "/api/pull"
#: seconds between two lines of one blob while the cache fills (Ollama ticks too)
TICK = 0.1
#: seconds of silence after which the last blob's line is sent again
HEARTBEAT = 2.0


@dataclass(frozen=True)
class SeedSource:
    """The manager's seed cache as the gateway uses it (``Settings``:
    ``seed_cache_path``, ``seed_cache_address``, ``registry_url``)."""

    root: Path
    cache_url: str
    registry_url: str


@dataclass(frozen=True)
class _Plan:
    cache: SeedCache
    seeding: Seeding
    source: SeedSource

    @property
    def name(self) -> ModelName:
        return self.seeding.name


def pull_lines(
    gate: Gate,
    call: Call,
    targets: list[Server],
    cancel: threading.Event,
    merger: ProgressMerger,
) -> Iterator[Line]:
    """The merged lines of a fanned-out pull: seeded when it can be, else each
    server from the registry (``fanout.merged_progress``)."""
    plan = _plan(gate, call, targets)
    if plan is None:
        body = call.body if isinstance(call.body, bytes) else b""
        timeouts = gate.timeouts(PULL)
        yield from merged_progress(
            gate.upstream, targets, PULL, body, call.headers, timeouts, cancel, merger
        )
        return
    finished = False
    try:
        yield from _seeded(gate, call, targets, cancel, merger, plan)
        finished = True
    finally:
        if not finished:
            cancel.set()  # the client left: stop the fill and the servers' pulls


def _plan(gate: Gate, call: Call, targets: list[Server]) -> _Plan | None:
    """The seeding of this pull, or None when the servers pull directly."""
    source = gate.seed_source
    data = call.data
    if source is None or not isinstance(data, dict) or data.get("insecure"):
        return None
    try:
        name = ModelName.parse(str(call.model))
    except InvalidModelName:
        return None
    # imported here: the gateway process loads httpx only when it seeds
    from ollama_webmgr.ollama.seed_cache import SeedCache, SeedError
    from ollama_webmgr.ollama.seed_plan import cache_answers, seedable, serves

    rate = gate.config.seed_fleet_rate
    capped = rate is not None
    if not seedable(name, len(targets), capped=capped):
        return None
    if not cache_answers(source.cache_url):
        return None
    cache = SeedCache(source.root, rate=rate)
    try:
        seeding = cache.open_seeding(uuid.uuid4().hex, name, source.registry_url)
    except SeedError:
        return None  # the servers will say why, in Ollama's words
    if not serves(source.cache_url, seeding) or _everywhere(gate, targets, seeding):
        return None
    return _Plan(cache, seeding, source)


def _everywhere(gate: Gate, targets: list[Server], seeding: Seeding) -> bool:
    """Every server already lists the model with the registry's manifest."""
    config = gate.config  # a listing is quick: the health probe's timeout
    for server in targets:
        try:
            listed = gate.upstream(server.url).get_json(
                "/api/tags", connect=config.connect_timeout, read=config.health_timeout
            )
        except (OSError, ValueError):
            return False
        models = listed.get("models")
        if not isinstance(models, list) or not any(
            _same(item, seeding) for item in models
        ):
            return False
    return True


def _same(item: Any, seeding: Seeding) -> bool:
    if not isinstance(item, dict) or item.get("digest") != seeding.digest:
        return False
    try:
        return ModelName.parse(str(item.get("name"))).key == seeding.name.key
    except InvalidModelName:
        return False


def _seeded(
    gate: Gate,
    call: Call,
    targets: list[Server],
    cancel: threading.Event,
    merger: ProgressMerger,
    plan: _Plan,
) -> Iterator[Line]:
    from ollama_webmgr.ollama.seed_cache import SeedError

    yield {"status": "pulling manifest"}
    last: Line | None = None
    try:
        for line in _fill_lines(plan, cancel):
            last = line
            yield line
    except SeedError as error:
        if cancel.is_set():
            return
        for server in targets:  # no server pulled anything: one error for all
            merger.finish(server.name, f"seed cache: {error}", 502)
        return
    sent = time.monotonic()
    work = _node_work(gate, call, plan, cancel)
    for line in run_merged(targets, work, merger):
        if line.get("status") == "pulling manifest" or "digest" in line:
            if last is not None and time.monotonic() - sent >= HEARTBEAT:
                sent = time.monotonic()
                yield last  # the servers copy from the cache: still alive
            continue
        sent = time.monotonic()
        yield line


def _fill_lines(plan: _Plan, cancel: threading.Event) -> Iterator[Line]:
    """The cache's fill from the registry as Ollama's blob lines, one blob
    after the other; ``SeedError`` when it fails."""
    from ollama_webmgr.ollama.seed_cache import SeedError

    out: queue.SimpleQueue[Line | Exception | None] = queue.SimpleQueue()

    def progress(digest: str, completed: int, total: int) -> None:
        line: Line = {"status": f"pulling {digest[7:19]}", "digest": digest}
        line["total"] = total
        if completed:
            line["completed"] = completed  # omitempty, as Ollama
        out.put(line)

    def fill() -> None:
        try:
            plan.cache.fill(
                plan.seeding,
                plan.source.registry_url,
                progress=progress,
                cancelled=cancel.is_set,
            )
        except SeedError as error:
            out.put(error)
        except Exception as error:  # a disk error: the pull fails, not the gateway
            out.put(SeedError(str(error)))
        else:
            out.put(None)

    threading.Thread(target=fill, daemon=True).start()
    shown: dict[str, float] = {}
    while (item := out.get()) is not None:
        if isinstance(item, Exception):
            raise item
        digest, now = str(item["digest"]), time.monotonic()
        complete = item.get("completed") == item["total"]
        if complete or now - shown.get(digest, 0.0) >= TICK:
            shown[digest] = now
            yield item


def _node_work(
    gate: Gate, call: Call, plan: _Plan, cancel: threading.Event
) -> Callable[[Server, queue.SimpleQueue[Posted]], None]:
    """One server's part: pull from the cache (or directly when it cannot
    reach it), then take the canonical name."""
    from ollama_webmgr.ollama.seed_plan import cache_name, node_cannot_reach

    data = dict(call.data) if isinstance(call.data, dict) else {}
    data.pop("name", None)
    direct = _json({**data, "model": call.model, "stream": True})
    timeouts = gate.timeouts(PULL)

    def reach(error: str) -> bool:
        return node_cannot_reach(plan.source.cache_url, error)

    def work(server: Server, out: queue.SimpleQueue[Posted]) -> None:
        error: str | None = None
        status = 500
        temporary = cache_name(plan.source.cache_url, plan.name, server.url)
        seeded = _json({**data, "model": temporary, "insecure": True, "stream": True})
        try:
            if not _pull(
                gate.upstream, server, seeded, call, timeouts, out, cancel, reach
            ):
                _from_registry(
                    gate.upstream, server, direct, call, timeouts, out, cancel
                )
            elif not cancel.is_set():
                _rename(gate.upstream(server.url), temporary, plan.name, timeouts)
        except NodeFailed as failed:
            error, status = failed.error, failed.status
        finally:
            out.put((server.name, None, error, status))

    return work


def _pull(
    upstream: Callable[[str], Upstream],
    server: Server,
    body: bytes,
    call: Call,
    timeouts: Timeouts,
    out: queue.SimpleQueue[Posted],
    cancel: threading.Event,
    unreachable: Callable[[str], bool],
) -> bool:
    """The server's pull from the cache: False when it cannot reach the cache
    (``unreachable(error)``), ``NodeFailed`` when it fails otherwise."""
    try:
        for line in node_lines(
            upstream, server, PULL, body, call.headers, timeouts, cancel
        ):
            if line.get("error"):
                raise NodeFailed(str(line["error"]), 200)
            out.put((server.name, line, None, 200))
    except NodeFailed as failed:
        if unreachable(failed.error):
            return False
        raise
    return True


def _from_registry(
    upstream: Callable[[str], Upstream],
    server: Server,
    body: bytes,
    call: Call,
    timeouts: Timeouts,
    out: queue.SimpleQueue[Posted],
    cancel: threading.Event,
) -> None:
    """The server cannot reach the cache: it pulls directly, as without seeding."""
    for line in node_lines(
        upstream, server, PULL, body, call.headers, timeouts, cancel
    ):
        out.put((server.name, line, None, 200))


def _rename(
    upstream: Upstream, temporary: str, name: ModelName, timeouts: Timeouts
) -> None:
    """Copy the cache's name to the canonical one, delete the cache's."""
    _ask(
        upstream,
        "POST",
        "/api/copy",
        {"source": temporary, "destination": name.display},
        timeouts,
    )
    _ask(
        upstream,
        "DELETE",
        "/api/delete",
        {"model": temporary},
        timeouts,
        missing_ok=True,
    )


def _ask(
    upstream: Upstream,
    method: str,
    path: str,
    data: dict[str, Any],
    timeouts: Timeouts,
    *,
    missing_ok: bool = False,
) -> None:
    headers = {"content-type": "application/json"}
    try:
        response = upstream.request(method, path, headers, _json(data), timeouts)
        body = response.read()
    except OSError as exc:
        raise NodeFailed(f"{path.rsplit('/', 1)[-1]} failed: {exc}") from None
    if response.status < 300 or (missing_ok and response.status == 404):
        return
    try:
        error = str(json.loads(body).get("error") or "")
    except (ValueError, AttributeError):
        error = ""
    raise NodeFailed(error or f"{path} answered {response.status}", response.status)


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()
