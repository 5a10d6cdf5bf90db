"""The emulated Ollama node as a WSGI application: ``create_app(state)``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import Map, MapAdapter, Rule
from werkzeug.wrappers import Request, Response

from ollama_webmgr.gateway.cors import apply_cors
from ollama_webmgr.sim import (
    blobs,
    creating,
    models_api,
    native_infer,
    openai_chat,
    openai_compat,
    scheduler,
    showing,
)
from ollama_webmgr.sim.responses import (
    empty_response,
    error_response,
    json_response,
    text_response,
)
from ollama_webmgr.sim.state import SimState
from ollama_webmgr.sim.wire import BadRequest

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

Handler = Callable[[SimState, Request], Response]


def _root(state: SimState, request: Request) -> Response:
    return text_response("Ollama is running", 200)


def _version(state: SimState, request: Request) -> Response:
    return json_response({"version": state.version})


def _faults(state: SimState, request: Request) -> Response:
    """``GET``: the current knobs; ``POST``: update some of them."""
    if request.method == "POST":
        try:
            changes = json.loads(request.get_data() or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("a JSON object is expected")
            with state.lock:
                if changes.get("hang"):
                    state.hang_release.clear()
                state.faults.update(changes)
            if changes.get("hang") is False:
                state.release_hang()
        except ValueError as error:
            return error_response(str(error), 400)
    return json_response(state.faults.as_json())


_LIMITS = ("max_loaded_models", "num_parallel", "max_queue")


def _scheduler(state: SimState, request: Request) -> Response:
    """``GET``: limits and live counters; ``POST``: change the limits."""
    if request.method == "POST":
        try:
            changes = json.loads(request.get_data() or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("a JSON object is expected")
            for key, value in changes.items():
                if key not in _LIMITS or isinstance(value, bool):
                    raise ValueError(f"unknown scheduler limit {key!r}")
                if not isinstance(value, int) or value < 0:
                    raise ValueError(f"{key} must be a whole number >= 0")
        except ValueError as error:
            return error_response(str(error), 400)
        with state.changed:
            for key, value in changes.items():
                setattr(state, key, value)
            state.changed.notify_all()
    return json_response(scheduler.snapshot(state))


def _reset(state: SimState, request: Request) -> Response:
    state.reset()
    return json_response({"status": "reset"})


# (path, methods, handler); HEAD only where Ollama registers it.
ROUTES: list[tuple[str, tuple[str, ...], Handler]] = [
    ("/", ("GET", "HEAD"), _root),
    ("/api/version", ("GET", "HEAD"), _version),
    ("/api/tags", ("GET", "HEAD"), models_api.tags),
    ("/api/show", ("POST",), showing.show),
    ("/api/pull", ("POST",), models_api.pull),
    ("/api/delete", ("DELETE",), models_api.delete),
    ("/api/copy", ("POST",), models_api.copy),
    ("/api/create", ("POST",), creating.create),
    ("/api/blobs/<digest>", ("HEAD", "POST"), blobs.blobs),
    ("/api/push", ("POST",), creating.push),
    ("/api/ps", ("GET",), models_api.ps),
    ("/api/generate", ("POST",), native_infer.generate),
    ("/api/chat", ("POST",), native_infer.chat),
    ("/api/embed", ("POST",), native_infer.embed),
    ("/api/embeddings", ("POST",), native_infer.embeddings),
    ("/v1/chat/completions", ("POST",), openai_chat.chat_completions),
    ("/v1/completions", ("POST",), openai_compat.completions),
    ("/v1/embeddings", ("POST",), openai_compat.embeddings),
    ("/v1/models", ("GET",), openai_compat.list_models),
    ("/v1/models/<model>", ("GET",), openai_compat.retrieve_model),
    ("/_sim/faults", ("GET", "POST"), _faults),
    ("/_sim/reset", ("POST",), _reset),
    ("/_sim/scheduler", ("GET", "POST"), _scheduler),
]


class SimApp:
    """WSGI callable: routing, fault knobs, then the endpoint handler."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.handlers: dict[str, Handler] = {}
        self.methods: dict[str, tuple[str, ...]] = {}
        rules = []
        for path, methods, handler in ROUTES:
            rules.append(Rule(path, endpoint=path, methods=list(methods)))
            self.handlers[path] = handler
            self.methods[path] = methods
        self.url_map = Map(rules, strict_slashes=True, merge_slashes=False)

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        origin = environ.get("HTTP_ORIGIN")
        if origin:  # Ollama's CORS middleware runs before everything else
            start_response, answered = apply_cors(
                environ, start_response, origin, self.state.origins
            )
            if answered is not None:
                return answered
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return empty_response(204)  # Ollama's host guard answers preflights
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except MethodNotAllowed:
            return text_response("405 method not allowed", 405)
        except (NotFound, HTTPException):
            return self._trailing_slash(request, adapter)
        if request.method == "HEAD" and "HEAD" not in self.methods[str(endpoint)]:
            return text_response("405 method not allowed", 405)
        request.environ["sim.route_args"] = args
        path = str(endpoint)
        try:
            if not path.startswith("/_sim/"):
                self._apply_faults()
            return self.handlers[path](self.state, request)
        except BadRequest as error:
            if path.startswith("/v1/"):
                return openai_compat.error(error.message, error.status)
            return error_response(error.message, error.status)

    @staticmethod
    def _trailing_slash(request: Request, adapter: MapAdapter) -> Response:
        """gin redirects ``/api/tags/`` to ``/api/tags`` (301 GET, 307 others)."""
        path = request.path
        if len(path) > 1 and path.endswith("/"):
            target = path.rstrip("/")
            try:
                adapter.match(target, method=request.method)
            except HTTPException:
                pass
            else:
                if request.method not in ("GET", "HEAD"):
                    response = empty_response(307)
                else:  # Go's http.Redirect writes a tiny page for GET only
                    response = Response(
                        f'<a href="{target}">{HTTP_STATUS_CODES[301]}</a>.\n\n',
                        status=301,
                        content_type="text/html; charset=utf-8",
                    )
                response.headers["Location"] = target
                return response
        return text_response("404 page not found", 404)

    def _apply_faults(self) -> None:
        """Wait, delay or fail as the knobs say (errors raised as BadRequest)."""
        faults = self.state.faults
        while faults.hang:
            self.state.hang_release.wait(0.05)
        if faults.latency > 0:
            time.sleep(faults.latency)
        if faults.status is not None:
            raise BadRequest(faults.status_message, faults.status)
        with self.state.lock:
            failing = faults.should_fail()
        if failing:
            raise BadRequest(faults.failure_message, 500)


def create_app(state: SimState) -> WSGIApplication:
    """The emulated Ollama node over ``state``."""
    return SimApp(state)
