"""Fleet-wide answers: ``/api/tags``, ``/api/ps``, ``/api/version``, ``/v1/models``.

Every usable server is asked at once (``fleet.fetch_all``); their answers are
merged as one Ollama would give them (``fleet.py``), and the servers that
answered are named in ``X-Ollama-Server``. A listing also refreshes the model
map, unless a write to that server ended meanwhile (tokens taken before).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ollama_webmgr.gateway.fleet import (
    fetch_all,
    lowest_version,
    merge_openai_models,
    merge_running,
    merge_tags,
)
from ollama_webmgr.gateway.relay import Outcome
from ollama_webmgr.gateway.responses import send_json

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse

    from ollama_webmgr.gateway.calls import Call
    from ollama_webmgr.gateway.gate import Gate


def tags(gate: Gate, call: Call, start_response: StartResponse) -> Iterable[bytes]:
    tokens = _tokens(gate)
    answers, failed = _gather(gate, call, start_response, "/api/tags")
    if failed is not None:
        return failed
    lists = {name: a.get("models") or [] for name, a in answers.items()}
    for name, models in lists.items():
        gate.models.update(name, tags=models, token=tokens.get(name))
    return _fleet_json(
        gate, call, start_response, {"models": merge_tags(lists)}, answers
    )


def running(gate: Gate, call: Call, start_response: StartResponse) -> Iterable[bytes]:
    tokens = _tokens(gate)
    answers, failed = _gather(gate, call, start_response, "/api/ps")
    if failed is not None:
        return failed
    lists = {name: a.get("models") or [] for name, a in answers.items()}
    for name, models in lists.items():
        gate.models.update(name, running=models, token=tokens.get(name))
    data = {"models": merge_running(lists)}
    return _fleet_json(gate, call, start_response, data, answers)


def version(gate: Gate, call: Call, start_response: StartResponse) -> Iterable[bytes]:
    answers, failed = _gather(gate, call, start_response, "/api/version")
    if failed is not None:
        return failed
    lowest = lowest_version(str(a.get("version", "")) for a in answers.values())
    data = {"version": lowest or "0.0.0"}
    return _fleet_json(gate, call, start_response, data, answers)


def openai_models(
    gate: Gate, call: Call, start_response: StartResponse
) -> Iterable[bytes]:
    answers, failed = _gather(gate, call, start_response, "/v1/models")
    if failed is not None:
        return failed
    merged = merge_openai_models({n: a.get("data") or [] for n, a in answers.items()})
    data = {"object": "list", "data": merged}
    return _fleet_json(gate, call, start_response, data, answers)


def _gather(
    gate: Gate, call: Call, start_response: StartResponse, path: str
) -> tuple[dict[str, Any], Iterable[bytes] | None]:
    servers = gate.usable_servers()
    timeouts = gate.timeouts(path, read=max(gate.config.health_timeout, 10.0))
    answers = fetch_all(gate.upstream, servers, path, timeouts) if servers else {}
    if not answers:
        message = "no Ollama server is available"
        return {}, gate.error(call, start_response, 503, message)
    return answers, None


def _tokens(gate: Gate) -> dict[str, int]:
    """Taken before listing: a write that ends meanwhile keeps its own listing."""
    return {s.name: gate.models.token(s.name) for s in gate.active_servers()}


def _fleet_json(
    gate: Gate,
    call: Call,
    start_response: StartResponse,
    data: Any,
    names: Iterable[str],
) -> Iterable[bytes]:
    headers = [("X-Ollama-Server", ",".join(sorted(names)))]
    gate.record(call, 200, None, Outcome(), None, 0)
    return send_json(start_response, 200, data, headers, head=call.method == "HEAD")
