"""Requests that name a model: to the servers that have it, else Ollama's words.

The candidates are the usable servers the model map lists the model on,
ranked by the balancer (``gateway/balancer.py``). When none lists it, the
servers written to since they were listed (``HealthMonitor.recheck``: a pull
or copy through the web app, a job, another gateway process) are listed again
first, so a model written anywhere in the product is found at once; then a
server whose models are not known yet is asked; otherwise the gateway answers
as Ollama would (404 with the endpoint's wording), or 503 when only servers
out of service have the model.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ollama_webmgr.cluster.models import name_key
from ollama_webmgr.gateway.balancer import ServerView, rank
from ollama_webmgr.gateway.responses import not_found_message
from ollama_webmgr.gateway.sticky import conversation_key
from ollama_webmgr.ollama.names import ModelName

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse

    from ollama_webmgr.gateway.calls import Call
    from ollama_webmgr.gateway.gate import Gate


def by_model(gate: Gate, call: Call, start_response: StartResponse) -> Iterable[bytes]:
    """The routes whose body names the model (``/v1/models/<model>`` its path)."""
    model = call.model
    if model is None or name_key(model) is None:
        return gate.relay(call, gate.views(None), start_response)
    sticky_key = None
    if gate.config.sticky:
        header = call.environ.get("HTTP_X_OLLAMA_SESSION")
        sticky_key = conversation_key(header, model, call.data)
    sticky = gate.sticky.get(sticky_key) if sticky_key else None
    turn = next(gate.turns)

    def ranked() -> tuple[list[ServerView], list[ServerView]]:
        views = gate.views(model)
        order = rank(views, gate.config.strategy, sticky=sticky, turn=turn)
        return views, order

    views, order = ranked()
    if not order and gate.recheck(gate.usable_servers()):
        views, order = ranked()  # read your writes, wherever they were made
    if order:
        return gate.relay(
            call, order, start_response, sticky_key=sticky_key, listed=True
        )
    # Not listed anywhere usable: ask a server whose models are not known yet,
    # else say why in Ollama's words.
    every = gate.views(None)
    unknown = [v for v in every if v.usable and not gate.models.known(v.name)]
    if unknown:
        return gate.relay(call, unknown, start_response)
    if not any(v.usable for v in every):
        return gate.error(call, start_response, 503, "no Ollama server is available")
    if any(not v.usable for v in views if v.has_model):
        message = f"no available Ollama server has model '{model}'"
        return gate.error(call, start_response, 503, message)
    display = ModelName.parse(model).display
    message = not_found_message(call.path, model, display)
    return gate.error(call, start_response, 404, message)
