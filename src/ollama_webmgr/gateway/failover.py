"""``Gateway.relay``: the ranked candidates in turn, until one answers.

Each attempt takes a slot of its server (or waits in its queue), opens the
upstream request (``relay.open_upstream``) and, if the server fails before the
first byte reached the client, asks ``verdicts.Judge`` whose fault it was and
whether another server may do better. The answer that is relayed gives its
slot back, feeds the health monitor, the TTFT averages, the model map and the
sticky table, and is recorded, when its body closes.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ollama_webmgr.errors import UnknownServer
from ollama_webmgr.gateway.relay import (
    Opened,
    Outcome,
    UpstreamFailure,
    open_upstream,
    relay_body,
)
from ollama_webmgr.gateway.responses import RelayedBody, status_line
from ollama_webmgr.gateway.verdicts import Blame, Judge

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse

    from ollama_webmgr.cluster.servers import Server
    from ollama_webmgr.gateway.app import Gateway
    from ollama_webmgr.gateway.balancer import ServerView
    from ollama_webmgr.gateway.calls import Call

RETRY_AFTER = "2"  # seconds suggested to a client refused by a full queue
NO_SERVER = "no Ollama server is available"


def relay(
    gateway: Gateway,
    call: Call,
    ranked: list[ServerView],
    start_response: StartResponse,
    *,
    sticky_key: str | None = None,
    listed: bool = False,
) -> Iterable[bytes]:
    """Try the candidates in order until one answers before its first byte
    (``listed``: the model map says each has the request's model)."""
    candidates = [v for v in ranked if v.usable]
    if not candidates:
        return gateway.error(call, start_response, 503, NO_SERVER)
    max_attempts = (
        1 if not isinstance(call.body, bytes | None) else gateway.config.max_attempts
    )
    judge = Judge()  # whose fault each failure is: see gateway/verdicts.py
    attempts, failure = 0, None
    while candidates and attempts < max_attempts:
        name = _take_slot(gateway, candidates)
        if name is None:
            if attempts == 0:
                message = "all Ollama servers are busy, please try again"
                headers = [("Retry-After", RETRY_AFTER)]
                return gateway.error(call, start_response, 429, message, headers)
            break
        candidates = [v for v in candidates if v.name != name]
        attempts += 1
        # The slot and the upstream answer are given back on every way out
        # of this block, until the response body takes them over.
        with contextlib.ExitStack() as held:
            held.callback(gateway.slots.release, name)
            try:
                server = gateway.registry.get(name)
                opened = open_upstream(
                    gateway.upstream(server.url),
                    call.url_tail,
                    call.method,
                    call.headers,
                    call.body,
                    gateway.timeouts(call.path),
                )
            except UnknownServer:  # removed from the fleet meanwhile
                continue
            except UpstreamFailure as exc:
                failure = (name, exc)
                step = judge.failed(name, exc.kind, exc.status, exc.body, exc.message)
                _blame(gateway, step.blame)
                if step.stop:
                    break
                continue
            held.callback(opened.response.close)
            if listed and opened.status == 404:  # the map was stale: next one
                failure = (name, _not_there(gateway, server, opened))
                continue
            _blame(gateway, judge.answered(opened.status))
            body = _respond(
                gateway, call, server, opened, attempts, start_response, sticky_key
            )
            held.pop_all()
            return body
    return _failed(gateway, call, failure, attempts, start_response)


def _not_there(gateway: Gateway, server: Server, opened: Opened) -> UpstreamFailure:
    """``server`` answered 404 for a model the map listed there (deleted
    through the web app, another gateway, by hand): list it again, and keep
    the answer in case no other server has the model either."""
    try:
        body = opened.first + b"".join(opened.chunks)
        opened.response.release()
    except OSError:
        body = opened.first
        opened.response.close()
    gateway.monitor.refresh_models_quietly(server)
    answer = {"status": 404, "headers": opened.headers, "body": body}
    return UpstreamFailure("status", "answered 404", **answer)


def _blame(gateway: Gateway, blame: Blame) -> None:
    for name, why in blame:
        gateway.monitor.record_failure(name, why)


def _take_slot(gateway: Gateway, candidates: list[ServerView]) -> str | None:
    slots = gateway.slots
    for view in candidates:
        if slots.try_acquire(view.name, view.limit):
            return view.name
    best = candidates[0]
    config = gateway.config
    got = slots.acquire(
        best.name,
        best.limit,
        queue_size=config.queue_size,
        timeout=config.queue_timeout,
    )
    return best.name if got else None


def _respond(
    gateway: Gateway,
    call: Call,
    server: Server,
    opened: Opened,
    attempts: int,
    start_response: StartResponse,
    sticky_key: str | None,
) -> Iterable[bytes]:
    ttft = time.monotonic() - call.started
    start_response(
        status_line(opened.status),
        [*opened.headers, ("X-Ollama-Server", server.name)],
    )
    outcome = Outcome()

    def done() -> None:
        try:
            gateway.slots.release(server.name)
        finally:
            recorded()

    def recorded() -> None:
        monitor = gateway.monitor
        if outcome.error:
            monitor.record_failure(server.name, outcome.error)
        else:
            monitor.record_success(server.name)
            # inference only: a show or a push neither loads nor measures
            if opened.status == 200 and call.model and call.kind != "other":
                gateway.ttft.add(server.name, ttft)
                gateway.models.mark_loaded(server.name, call.model)
                if sticky_key:
                    gateway.sticky.remember(
                        sticky_key, server.name, size=gateway.config.sticky_size
                    )
        gateway.record(call, opened.status, server.name, outcome, ttft, attempts)

    return RelayedBody(relay_body(opened, outcome), opened, done)


def _failed(
    gateway: Gateway,
    call: Call,
    failure: tuple[str, UpstreamFailure] | None,
    attempts: int,
    start_response: StartResponse,
) -> Iterable[bytes]:
    if failure is None:
        return gateway.error(call, start_response, 503, NO_SERVER)
    name, exc = failure
    if exc.kind == "status" and exc.status is not None:
        # the last server's own answer, unchanged
        headers = [*exc.headers, ("X-Ollama-Server", name)]
        start_response(status_line(exc.status), headers)
        gateway.record(call, exc.status, name, Outcome(len(exc.body)), None, attempts)
        return [exc.body]
    status = 504 if exc.kind == "timeout" else 502
    message = f"Ollama server '{name}' {exc.message}"
    return gateway.error(call, start_response, status, message, attempts=attempts)
