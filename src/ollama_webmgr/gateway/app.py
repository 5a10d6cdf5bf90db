"""The gateway's WSGI application: routing, retries, slots, records.

Kept free of Flask: the hot path is a dict lookup, one JSON parse of the
request body (to read ``model``), the balancer, and the relay over each
server's keep-alive connections (``upstream.Upstream``).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import sys
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ollama_webmgr.cluster.health import HealthMonitor
from ollama_webmgr.cluster.servers import Server, ServerRegistry
from ollama_webmgr.gateway import routes
from ollama_webmgr.gateway.auth import key_allowed
from ollama_webmgr.gateway.balancer import ServerView
from ollama_webmgr.gateway.calls import Call, JSONTooDeep, read_call
from ollama_webmgr.gateway.config import GatewayConfig
from ollama_webmgr.gateway.cors import apply_cors
from ollama_webmgr.gateway.limiter import Slots, SlotTable
from ollama_webmgr.gateway.metrics import GatewayMetrics, TtftAverages
from ollama_webmgr.gateway.relay import (
    Opened,
    Outcome,
    UpstreamFailure,
    open_upstream,
    relay_body,
)
from ollama_webmgr.gateway.responses import (
    JSON,
    RelayedBody,
    error_body,
    send,
    send_error,
    status_line,
)
from ollama_webmgr.gateway.routing import MODEL_ROUTES, model_route
from ollama_webmgr.gateway.stats import RequestRecord, token_counts
from ollama_webmgr.gateway.sticky import StickyTable
from ollama_webmgr.gateway.upstream import Timeouts, Upstream
from ollama_webmgr.gateway.verdicts import Blame, Judge

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)
Observer = Callable[[RequestRecord], None]
RETRY_AFTER = "2"  # seconds suggested to a client refused by a full queue


class Gateway:
    """WSGI callable; build it with ``create_gateway_app``."""

    def __init__(
        self,
        config: GatewayConfig,
        registry: ServerRegistry,
        monitor: HealthMonitor,
        *,
        on_request: Observer | None = None,
        slots: SlotTable | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.monitor = monitor
        self.models = monitor.models
        # in-process by default; shared through Redis with several gateways
        self.slots: SlotTable = slots or Slots()
        self.ttft = TtftAverages()
        self.metrics = GatewayMetrics()
        self._observers: list[Observer] = [self.metrics.observe]
        if on_request is not None:
            self._observers.append(on_request)
        self.turns = itertools.count()  # round-robin turns
        self.sticky = StickyTable()
        self._upstreams: dict[str, Upstream] = {}

    # --- entry point -------------------------------------------------------
    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        method = environ["REQUEST_METHOD"]
        origin = environ.get("HTTP_ORIGIN")
        if origin:
            start_response, answered = apply_cors(
                environ, start_response, origin, self.config.origins
            )
            if answered is not None:
                return answered
        if path == "/" and method in ("GET", "HEAD"):
            body = b"Ollama is running"
            ctype = "text/plain; charset=utf-8"
            return send(
                start_response, 200, body, content_type=ctype, head=method == "HEAD"
            )
        hashes = self.config.api_key_hashes
        if hashes and not key_allowed(environ.get("HTTP_AUTHORIZATION"), hashes):
            return send_error(
                start_response, path, 401, "unauthorized: invalid or missing API key"
            )
        if path == "/metrics" and method == "GET":
            return routes.metrics(self, start_response)
        try:
            call = read_call(environ, path, method, strip_auth=bool(hashes))
        except JSONTooDeep as exc:
            return send_error(start_response, path, 400, str(exc))
        try:
            return self._dispatch(call, start_response)
        except Exception:  # a bug must still answer in Ollama's shape
            log.exception("gateway failure on %s %s", method, path)
            message = "internal error in the gateway"
            body = json.dumps(error_body(path, 500, message)).encode()
            headers = [("Content-Type", JSON), ("Content-Length", str(len(body)))]
            start_response(status_line(500), headers, sys.exc_info())
            return [body]

    def _dispatch(self, call: Call, start_response: StartResponse) -> Iterable[bytes]:
        path, method = call.path, call.method
        handler = routes.SPECIAL.get((method, path))
        if handler is not None:
            return handler(self, call, start_response)
        if path in MODEL_ROUTES or path.startswith("/v1/models/"):
            return model_route(self, call, start_response)
        if path == "/api/create" or path.startswith("/api/blobs/"):
            return routes.primary(self, call, start_response)
        return self.relay(call, self.views(None), start_response)

    # --- routing -------------------------------------------------------------
    def views(
        self, model: str | None, only: Iterable[str] | None = None
    ) -> list[ServerView]:
        having = self.models.servers_with(model) if model else set()
        loaded = self.models.loaded_on(model) if model else set()
        allowed = set(only) if only is not None else None
        return [
            ServerView(
                s.name,
                s.url,
                healthy=self.monitor.is_healthy(s.name),
                draining=s.draining,
                in_flight=self.slots.in_flight(s.name),
                limit=self._limit(s),
                weight=s.weight,
                ttft_avg=self.ttft.get(s.name),
                has_model=model is None or s.name in having,
                model_loaded=s.name in loaded,
            )
            for s in self.registry.active()
            if allowed is None or s.name in allowed
        ]

    # --- relaying ------------------------------------------------------------
    def relay(
        self,
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
            return self.error(
                call, start_response, 503, "no Ollama server is available"
            )
        max_attempts = (
            1 if not isinstance(call.body, bytes | None) else self.config.max_attempts
        )
        judge = Judge()  # whose fault each failure is: see gateway/verdicts.py
        attempts, failure = 0, None
        while candidates and attempts < max_attempts:
            name = self._take_slot(candidates)
            if name is None:
                if attempts == 0:
                    message = "all Ollama servers are busy, please try again"
                    headers = [("Retry-After", RETRY_AFTER)]
                    return self.error(call, start_response, 429, message, headers)
                break
            candidates = [v for v in candidates if v.name != name]
            attempts += 1
            # The slot and the upstream answer are given back on every way out
            # of this block, until the response body takes them over.
            with contextlib.ExitStack() as held:
                held.callback(self.slots.release, name)
                try:
                    server = self.registry.get(name)
                    opened = open_upstream(
                        self.upstream(server.url),
                        call.url_tail,
                        call.method,
                        call.headers,
                        call.body,
                        self.timeouts(call.path),
                    )
                except KeyError:  # removed from the fleet meanwhile
                    continue
                except UpstreamFailure as exc:
                    failure = (name, exc)
                    step = judge.failed(
                        name, exc.kind, exc.status, exc.body, exc.message
                    )
                    self._blame(step.blame)
                    if step.stop:
                        break
                    continue
                held.callback(opened.response.close)
                if listed and opened.status == 404:  # the map was stale: next one
                    failure = (name, self._not_there(server, opened))
                    continue
                self._blame(judge.answered(opened.status))
                body = self._respond(
                    call, server, opened, attempts, start_response, sticky_key
                )
                held.pop_all()
                return body
        return self._failed(call, failure, attempts, start_response)

    def _not_there(self, server: Server, opened: Opened) -> UpstreamFailure:
        """``server`` answered 404 for a model the map listed there (deleted
        through the web app, another gateway, by hand): list it again, and keep
        the answer in case no other server has the model either."""
        try:
            body = opened.first + b"".join(opened.chunks)
            opened.response.release()
        except OSError:
            body = opened.first
            opened.response.close()
        self.monitor.refresh_models_quietly(server)
        answer = {"status": 404, "headers": opened.headers, "body": body}
        return UpstreamFailure("status", "answered 404", **answer)

    def _blame(self, blame: Blame) -> None:
        for name, why in blame:
            self.monitor.record_failure(name, why)

    def _take_slot(self, candidates: list[ServerView]) -> str | None:
        for view in candidates:
            if self.slots.try_acquire(view.name, view.limit):
                return view.name
        best = candidates[0]
        config = self.config
        got = self.slots.acquire(
            best.name,
            best.limit,
            queue_size=config.queue_size,
            timeout=config.queue_timeout,
        )
        return best.name if got else None

    def _respond(
        self,
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
                self.slots.release(server.name)
            finally:
                recorded()

        def recorded() -> None:
            if outcome.error:
                self.monitor.record_failure(server.name, outcome.error)
            else:
                self.monitor.record_success(server.name)
                # inference only: a show or a push neither loads nor measures
                if opened.status == 200 and call.model and call.kind != "other":
                    self.ttft.add(server.name, ttft)
                    self.models.mark_loaded(server.name, call.model)
                    if sticky_key:
                        self.sticky.remember(
                            sticky_key, server.name, size=self.config.sticky_size
                        )
            self.record(call, opened.status, server.name, outcome, ttft, attempts)

        return RelayedBody(relay_body(opened, outcome), opened, done)

    def _failed(
        self,
        call: Call,
        failure: tuple[str, UpstreamFailure] | None,
        attempts: int,
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        if failure is None:
            return self.error(
                call, start_response, 503, "no Ollama server is available"
            )
        name, exc = failure
        if exc.kind == "status" and exc.status is not None:
            # the last server's own answer, unchanged
            headers = [*exc.headers, ("X-Ollama-Server", name)]
            start_response(status_line(exc.status), headers)
            self.record(call, exc.status, name, Outcome(len(exc.body)), None, attempts)
            return [exc.body]
        status = 504 if exc.kind == "timeout" else 502
        message = f"Ollama server '{name}' {exc.message}"
        return self.error(call, start_response, status, message, attempts=attempts)

    def error(
        self,
        call: Call,
        start_response: StartResponse,
        status: int,
        message: str,
        headers: list[tuple[str, str]] | None = None,
        *,
        attempts: int = 0,
    ) -> Iterable[bytes]:
        """A response made by the gateway itself, recorded like the others."""
        self.record(call, status, None, Outcome(error=message), None, attempts)
        return send_error(start_response, call.path, status, message, headers or [])

    # --- bookkeeping ---------------------------------------------------------
    def record(
        self,
        call: Call,
        status: int,
        server: str | None,
        outcome: Outcome,
        ttft: float | None,
        attempts: int,
    ) -> None:
        prompt, completion = token_counts(outcome.tail)
        record = RequestRecord(
            started_at=call.wall,
            method=call.method,
            path=call.path,
            kind=call.kind,
            model=call.model,
            server=server,
            status=status,
            latency_ms=(time.monotonic() - call.started) * 1000,
            ttft_ms=None if ttft is None else ttft * 1000,
            prompt_tokens=prompt,
            completion_tokens=completion,
            bytes_in=call.size,
            bytes_out=outcome.bytes_out,
            attempts=attempts,
            error=outcome.error,
        )
        for observer in self._observers:
            # recording must never break a response
            with contextlib.suppress(Exception):
                observer(record)

    def _limit(self, server: Server) -> int:
        return server.limit or self.config.default_limit

    def timeouts(self, path: str, read: float | None = None) -> Timeouts:
        """Settings may change at run time: read them per request."""
        if read is None:
            slow = path in _SLOW
            read = self.config.pull_timeout if slow else self.config.read_timeout
        return Timeouts(self.config.connect_timeout, read)

    def upstream(self, base_url: str) -> Upstream:
        """The keep-alive connections of one server, made on first use."""
        upstream = self._upstreams.get(base_url)
        if upstream is None:
            if len(self._upstreams) > 256:  # servers removed and added over time
                for old in self._upstreams.values():
                    old.close()
                self._upstreams.clear()
            upstream = self._upstreams[base_url] = Upstream(base_url)
        return upstream

    def close(self) -> None:
        """Close the idle upstream connections."""
        for upstream in self._upstreams.values():
            upstream.close()


_SLOW = frozenset({"/api/pull", "/api/push", "/api/create"})


def create_gateway_app(
    config: GatewayConfig,
    registry: ServerRegistry,
    monitor: HealthMonitor,
    *,
    on_request: Observer | None = None,
    slots: SlotTable | None = None,
) -> Gateway:
    """The Ollama-compatible gateway over ``registry`` (see ``wiring`` to run it)."""
    return Gateway(config, registry, monitor, on_request=on_request, slots=slots)
