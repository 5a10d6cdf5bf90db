"""Routes answered for the whole fleet: listings, version, pull/create/delete/copy/push."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ollama_webmgr.gateway.fleet import (
    fetch_all,
    lowest_version,
    merge_openai_models,
    merge_running,
    merge_tags,
)
from ollama_webmgr.gateway.relay import Outcome
from ollama_webmgr.gateway.responses import send, send_json
from ollama_webmgr.gateway.writes import merged, named_targets, usable_servers, write
from ollama_webmgr.ollama.names import is_valid_name

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse

    from ollama_webmgr.gateway.app import Gateway
    from ollama_webmgr.gateway.calls import Call

Handler = Callable[["Gateway", "Call", "StartResponse"], Iterable[bytes]]


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


def _tokens(gateway: Gateway) -> dict[str, int]:
    """Taken before listing: a write that ends meanwhile keeps its own listing."""
    return {s.name: gateway.models.token(s.name) for s in gateway.registry.active()}


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
    tokens = _tokens(gateway)
    answers, failed = _gather(gateway, call, start_response, "/api/tags")
    if failed is not None:
        return failed
    lists = {name: a.get("models") or [] for name, a in answers.items()}
    for name, models in lists.items():
        gateway.models.update(name, tags=models, token=tokens.get(name))
    return _fleet_json(
        gateway, call, start_response, {"models": merge_tags(lists)}, answers
    )


def running(
    gateway: Gateway, call: Call, start_response: StartResponse
) -> Iterable[bytes]:
    tokens = _tokens(gateway)
    answers, failed = _gather(gateway, call, start_response, "/api/ps")
    if failed is not None:
        return failed
    lists = {name: a.get("models") or [] for name, a in answers.items()}
    for name, models in lists.items():
        gateway.models.update(name, running=models, token=tokens.get(name))
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


# --- targeted routes (the writes: gateway/writes.py) --------------------------
def primary(
    gateway: Gateway, call: Call, start_response: StartResponse
) -> Iterable[bytes]:
    """Blob uploads go to one server: the named one, else the first usable."""
    targets = named_targets(gateway, call)
    if isinstance(targets, str):
        return gateway.error(call, start_response, 400, targets)
    names = [s.name for s in targets] or [s.name for s in usable_servers(gateway)][:1]
    return gateway.relay(call, gateway.views(None, only=names[:1]), start_response)


def create(
    gateway: Gateway, call: Call, start_response: StartResponse
) -> Iterable[bytes]:
    """From uploaded blobs: on the server that holds them (where blob uploads
    go); otherwise on every usable (or named) server, progress merged."""
    data = call.data if isinstance(call.data, dict) else {}
    if data.get("files") is None and data.get("adapters") is None:
        return write(gateway, call, start_response)
    targets = named_targets(gateway, call)
    if isinstance(targets, str):
        return gateway.error(call, start_response, 400, targets)
    chosen = (targets or usable_servers(gateway))[:1]
    if not chosen or not isinstance(call.body, bytes):
        return primary(gateway, call, start_response)
    stream = data.get("stream") is not False
    return merged(gateway, call, chosen, start_response, stream)


def push(
    gateway: Gateway, call: Call, start_response: StartResponse
) -> Iterable[bytes]:
    """From one server: the named ones in order, else those that have the model
    (the next one if it fails before its first byte), else any server, whose
    error is then Ollama's own."""
    targets = named_targets(gateway, call)
    if isinstance(targets, str):
        return gateway.error(call, start_response, 400, targets)
    names = [s.name for s in targets]
    model = call.model
    if not names and model and is_valid_name(model):
        having = gateway.models.servers_with(model)
        names = [s.name for s in usable_servers(gateway) if s.name in having]
    return gateway.relay(call, gateway.views(None, names or None), start_response)


SPECIAL: dict[tuple[str, str], Handler] = {
    ("GET", "/api/tags"): tags,
    ("HEAD", "/api/tags"): tags,
    ("GET", "/api/ps"): running,
    ("GET", "/api/version"): version,
    ("HEAD", "/api/version"): version,
    ("GET", "/v1/models"): openai_models,
    ("POST", "/api/pull"): write,
    ("DELETE", "/api/delete"): write,
    ("POST", "/api/copy"): write,
    ("POST", "/api/create"): create,
    ("POST", "/api/push"): push,
}
