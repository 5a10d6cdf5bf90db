"""Routes sent to one server: blob uploads, a create from them, a push.

A blob is uploaded to the server named by ``X-Ollama-Servers``, else to the
first usable one; a create from uploaded ``files`` (or ``adapters``) runs on
that same server, its progress shaped like a fleet write's; any other create
is a fleet write (``writes.write``). A push goes to the named servers in
order, else to those that have the model.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ollama_webmgr.gateway.writes import merged, named_targets, write
from ollama_webmgr.ollama.names import is_valid_name

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse

    from ollama_webmgr.gateway.calls import Call
    from ollama_webmgr.gateway.gate import Gate


def to_one_server(
    gate: Gate, call: Call, start_response: StartResponse
) -> Iterable[bytes]:
    """Blob uploads go to one server: the named one, else the first usable."""
    targets = named_targets(gate, call)
    if isinstance(targets, str):
        return gate.error(call, start_response, 400, targets)
    names = [s.name for s in targets] or [s.name for s in gate.usable_servers()][:1]
    return gate.relay(call, gate.views(None, only=names[:1]), start_response)


def create(gate: Gate, call: Call, start_response: StartResponse) -> Iterable[bytes]:
    """From uploaded blobs: on the server that holds them (where blob uploads
    go); otherwise on every usable (or named) server, progress merged."""
    data = call.data if isinstance(call.data, dict) else {}
    if data.get("files") is None and data.get("adapters") is None:
        return write(gate, call, start_response)
    targets = named_targets(gate, call)
    if isinstance(targets, str):
        return gate.error(call, start_response, 400, targets)
    chosen = (targets or gate.usable_servers())[:1]
    if not chosen or not isinstance(call.body, bytes):
        return to_one_server(gate, call, start_response)
    stream = data.get("stream") is not False
    return merged(gate, call, chosen, start_response, stream)


def push(gate: Gate, call: Call, start_response: StartResponse) -> Iterable[bytes]:
    """From one server: the named ones in order, else those that have the model
    (the next one if it fails before its first byte), else any server, whose
    error is then Ollama's own."""
    targets = named_targets(gate, call)
    if isinstance(targets, str):
        return gate.error(call, start_response, 400, targets)
    names = [s.name for s in targets]
    model = call.model
    if not names and model and is_valid_name(model):
        having = gate.models.servers_with(model)
        names = [s.name for s in gate.usable_servers() if s.name in having]
    return gate.relay(call, gate.views(None, names or None), start_response)
