"""Routes answered for the whole fleet: listings, version, pull/create/delete/copy/push."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.gateway.fanout import merged_progress
from ollama_webmgr.gateway.fleet import (
    fetch_all,
    lowest_version,
    merge_openai_models,
    merge_running,
    merge_tags,
)
from ollama_webmgr.gateway.progress import ProgressMerger
from ollama_webmgr.gateway.relay import Outcome, end_to_end_headers
from ollama_webmgr.gateway.responses import Closing, send, send_json, status_line
from ollama_webmgr.ollama.names import is_valid_name

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse

    from ollama_webmgr.gateway.app import Gateway
    from ollama_webmgr.gateway.calls import Call

Handler = Callable[["Gateway", "Call", "StartResponse"], Iterable[bytes]]
TARGET_HEADER = "HTTP_X_OLLAMA_SERVERS"
NDJSON = "application/x-ndjson"


def usable_servers(gateway: Gateway) -> list[Server]:
    return [
        s
        for s in gateway.registry.active()
        if not s.draining and gateway.monitor.is_healthy(s.name)
    ]


def _gather(
    gateway: Gateway, call: Call, start_response: StartResponse, path: str
) -> tuple[dict[str, Any], Iterable[bytes] | None]:
    servers = usable_servers(gateway)
    timeouts = gateway.timeouts(path, read=max(gateway.config.health_timeout, 10.0))
    answers = fetch_all(gateway.upstream, servers, path, timeouts) if servers else {}
    if not answers:
        message = "no Ollama server is available"
        return {}, gateway.error(call, start_response, 503, message)
    return answers, None


def _fleet_json(
    gateway: Gateway,
    call: Call,
    start_response: StartResponse,
    data: Any,
    names: Iterable[str],
) -> Iterable[bytes]:
    headers = [("X-Ollama-Server", ",".join(sorted(names)))]
    gateway.record(call, 200, None, Outcome(), None, 0)
    return send_json(start_response, 200, data, headers, head=call.method == "HEAD")


def tags(
    gateway: Gateway, call: Call, start_response: StartResponse
) -> Iterable[bytes]:
    answers, failed = _gather(gateway, call, start_response, "/api/tags")
    if failed is not None:
        return failed
    lists = {name: a.get("models") or [] for name, a in answers.items()}
    for name, models in lists.items():
        gateway.models.update(name, tags=models)
    return _fleet_json(
        gateway, call, start_response, {"models": merge_tags(lists)}, answers
    )


def running(
    gateway: Gateway, call: Call, start_response: StartResponse
) -> Iterable[bytes]:
    answers, failed = _gather(gateway, call, start_response, "/api/ps")
    if failed is not None:
        return failed
    lists = {name: a.get("models") or [] for name, a in answers.items()}
    for name, models in lists.items():
        gateway.models.update(name, running=models)
    data = {"models": merge_running(lists)}
    return _fleet_json(gateway, call, start_response, data, answers)


def version(
    gateway: Gateway, call: Call, start_response: StartResponse
) -> Iterable[bytes]:
    answers, failed = _gather(gateway, call, start_response, "/api/version")
    if failed is not None:
        return failed
    lowest = lowest_version(str(a.get("version", "")) for a in answers.values())
    data = {"version": lowest or "0.0.0"}
    return _fleet_json(gateway, call, start_response, data, answers)


def openai_models(
    gateway: Gateway, call: Call, start_response: StartResponse
) -> Iterable[bytes]:
    answers, failed = _gather(gateway, call, start_response, "/v1/models")
    if failed is not None:
        return failed
    merged = merge_openai_models({n: a.get("data") or [] for n, a in answers.items()})
    data = {"object": "list", "data": merged}
    return _fleet_json(gateway, call, start_response, data, answers)


def metrics(gateway: Gateway, start_response: StartResponse) -> Iterable[bytes]:
    names = [s.name for s in gateway.registry.all()]
    text = gateway.metrics.render(
        names, gateway.slots.in_flight, gateway.monitor.is_healthy
    )
    ctype = "text/plain; version=0.0.4; charset=utf-8"
    return send(start_response, 200, text.encode(), content_type=ctype)


# --- targeted routes ---------------------------------------------------------
def _targets(gateway: Gateway, call: Call) -> list[Server] | str:
    """Servers named by the header (``all`` or names), or an error message."""
    raw = str(call.environ.get(TARGET_HEADER, "")).strip()
    if raw.lower() == "all":
        return usable_servers(gateway)
    found = []
    for name in (n.strip() for n in raw.split(",") if n.strip()):
        try:
            found.append(gateway.registry.get(name))
        except KeyError:
            return f"unknown Ollama server '{name}'"
    return found


def primary(
    gateway: Gateway, call: Call, start_response: StartResponse
) -> Iterable[bytes]:
    """Blob uploads go to one server: the named one, else the first usable."""
    targets = _targets(gateway, call)
    if isinstance(targets, str):
        return gateway.error(call, start_response, 400, targets)
    names = [s.name for s in targets] or [s.name for s in usable_servers(gateway)][:1]
    return gateway.relay(call, gateway.views(None, only=names[:1]), start_response)


def create(
    gateway: Gateway, call: Call, start_response: StartResponse
) -> Iterable[bytes]:
    """From uploaded blobs: on the server that holds them (as blob uploads);
    otherwise on every usable (or named) server, progress merged."""
    data = call.data if isinstance(call.data, dict) else {}
    if data.get("files") is not None or data.get("adapters") is not None:
        return primary(gateway, call, start_response)
    return fanout(gateway, call, start_response)


def push(
    gateway: Gateway, call: Call, start_response: StartResponse
) -> Iterable[bytes]:
    """From one server: the named ones in order, else those that have the model
    (the next one if it fails before its first byte), else any server, whose
    error is then Ollama's own."""
    targets = _targets(gateway, call)
    if isinstance(targets, str):
        return gateway.error(call, start_response, 400, targets)
    names = [s.name for s in targets]
    model = call.model
    if not names and model and is_valid_name(model):
        having = gateway.models.servers_with(model)
        names = [s.name for s in usable_servers(gateway) if s.name in having]
    return gateway.relay(call, gateway.views(None, names or None), start_response)


def fanout(
    gateway: Gateway, call: Call, start_response: StartResponse
) -> Iterable[bytes]:
    targets = _targets(gateway, call)
    if isinstance(targets, str):
        return gateway.error(call, start_response, 400, targets)
    data = call.data if isinstance(call.data, dict) else {}
    subject = data.get("source") if call.path == "/api/copy" else call.model
    if not targets and call.path in _EVERYWHERE:
        targets = usable_servers(gateway)
    elif not targets and isinstance(subject, str) and is_valid_name(subject):
        having = gateway.models.servers_with(subject)
        targets = [s for s in usable_servers(gateway) if s.name in having]
    if len(targets) <= 1 or not isinstance(call.body, bytes):
        # one server, or nothing valid to fan out: its own answer, errors included
        only = [s.name for s in targets] or None
        answer = gateway.relay(call, gateway.views(None, only), start_response)
        return Closing(answer, lambda: _refresh(gateway, targets))
    if call.path in _EVERYWHERE:
        stream = data.get("stream") is not False
        return _merged(gateway, call, targets, start_response, stream)
    return _each(gateway, call, targets, start_response)


_EVERYWHERE = frozenset({"/api/pull", "/api/create"})


def _each(
    gateway: Gateway, call: Call, targets: list[Server], start_response: StartResponse
) -> Iterable[bytes]:
    """Delete or copy everywhere; the first failure is answered unchanged."""
    timeouts = gateway.timeouts(call.path)
    answers: list[tuple[Server, int, list[tuple[str, str]], bytes]] = []
    for server in targets:
        try:
            response = gateway.upstream(server.url).request(
                call.method, call.url_tail, call.headers, call.body, timeouts
            )
            body = response.read()
        except OSError as exc:
            message = f"Ollama server '{server.name}' failed: {exc}"
            return gateway.error(call, start_response, 502, message)
        answers.append((server, response.status, end_to_end_headers(response), body))
        gateway.monitor.refresh_models_quietly(server)
    failed = [a for a in answers if a[1] >= 300]
    server, status, headers, body = (failed or answers)[0]
    names = ",".join(s.name for s, *_ in answers)
    start_response(status_line(status), [*headers, ("X-Ollama-Server", names)])
    gateway.record(call, status, names, Outcome(len(body)), None, len(answers))
    return [body]


def _merged(
    gateway: Gateway,
    call: Call,
    targets: list[Server],
    start_response: StartResponse,
    stream: bool,
) -> Iterable[bytes]:
    """Pull or create everywhere, one progress stream; an error that comes
    before any line gets the servers' status, as one Ollama server does."""
    cancel = threading.Event()
    timeouts = gateway.timeouts(call.path)
    payload = call.body if isinstance(call.body, bytes) else b""
    names = ",".join(s.name for s in targets)
    merger = ProgressMerger(
        [s.name for s in targets], create=call.path == "/api/create"
    )
    lines = merged_progress(
        gateway.upstream,
        targets,
        call.path,
        payload,
        call.headers,
        timeouts,
        cancel,
        merger,
    )
    first = next(lines)
    if not stream or "error" in first:
        rest = [] if "error" in first else list(lines)
        final = rest[-1] if rest else first
        _refresh(gateway, targets)
        status = merger.failed_status if "error" in final else 200
        gateway.record(
            call, status, names, Outcome(error=final.get("error")), None, len(targets)
        )
        return send_json(start_response, status, final, [("X-Ollama-Server", names)])
    start_response("200 OK", [("Content-Type", NDJSON), ("X-Ollama-Server", names)])

    outcome = Outcome()

    def body() -> Iterator[bytes]:
        for line in itertools.chain([first], lines):
            frame = json.dumps(line, separators=(",", ":")).encode() + b"\n"
            outcome.bytes_out += len(frame)
            outcome.error = line.get("error")
            yield frame

    def finish() -> None:
        cancel.set()
        _refresh(gateway, targets)
        gateway.record(call, 200, names, outcome, None, len(targets))

    return Closing(body(), finish)


def _refresh(gateway: Gateway, targets: list[Server]) -> None:
    for server in targets:
        gateway.monitor.refresh_models_quietly(server)


SPECIAL: dict[tuple[str, str], Handler] = {
    ("GET", "/api/tags"): tags,
    ("HEAD", "/api/tags"): tags,
    ("GET", "/api/ps"): running,
    ("GET", "/api/version"): version,
    ("HEAD", "/api/version"): version,
    ("GET", "/v1/models"): openai_models,
    ("POST", "/api/pull"): fanout,
    ("DELETE", "/api/delete"): fanout,
    ("POST", "/api/copy"): fanout,
    ("POST", "/api/create"): create,
    ("POST", "/api/push"): push,
}
