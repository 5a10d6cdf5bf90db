"""Pull, create, delete and copy through the gateway, read back at once.

Where (see docs/gateway.md): the servers named by ``X-Ollama-Servers``
(``name,name`` or ``all``), else every usable server. A pull or a create runs
on each, one merged progress stream (``gateway/progress.py``); a create from
uploaded ``files`` runs on the one server the blobs went to. A delete or a copy
is sent to each: a server that does not have the model answers 404, which only
counts when no server had it (asking every server, rather than those the model
map lists, is what makes a delete right after a pull find every copy).

Read your writes: before the last byte of the answer (the ``success`` line, or
the whole answer of a delete), every server written to is listed again into
the gateway's model map and its version is bumped (``cluster/changes.py``), so
the next request, to this gateway, another gateway process or the web app,
sees the change. A name our parser rejects goes to one server, whose answer is
Ollama's own error.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.errors import UnknownServer
from ollama_webmgr.gateway.fanout import merged_progress
from ollama_webmgr.gateway.progress import ProgressMerger
from ollama_webmgr.gateway.relay import Outcome, end_to_end_headers
from ollama_webmgr.gateway.responses import (
    JSON,
    Closing,
    error_body,
    send_json,
    status_line,
)
from ollama_webmgr.gateway.seeding import pull_lines
from ollama_webmgr.ollama.names import is_valid_name

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse

    from ollama_webmgr.gateway.calls import Call
    from ollama_webmgr.gateway.gate import Gate

TARGET_HEADER = "HTTP_X_OLLAMA_SERVERS"
NDJSON = "application/x-ndjson"
Answer = tuple[Server, int, list[tuple[str, str]], bytes]


def named_targets(gate: Gate, call: Call) -> list[Server] | str:
    """Servers named by the header (``all`` or names), or an error message."""
    raw = str(call.environ.get(TARGET_HEADER, "")).strip()
    if raw.lower() == "all":
        return gate.usable_servers()
    found = []
    for name in (n.strip() for n in raw.split(",") if n.strip()):
        try:
            found.append(gate.server(name))
        except UnknownServer:
            return f"unknown Ollama server '{name}'"
    return found


def write(gate: Gate, call: Call, start_response: StartResponse) -> Iterable[bytes]:
    """``/api/pull``, ``/api/create`` (not from files), ``/api/delete``, ``/api/copy``."""
    targets = named_targets(gate, call)
    if isinstance(targets, str):
        return gate.error(call, start_response, 400, targets)
    data = call.data if isinstance(call.data, dict) else {}
    subject = data.get("source") if call.path == "/api/copy" else call.model
    valid = isinstance(subject, str) and is_valid_name(subject)
    if not isinstance(call.body, bytes) or not valid:
        # nothing will be written: one server words the error, as Ollama does
        only = [s.name for s in targets][:1] or None
        return gate.relay(call, gate.views(None, only), start_response)
    targets = targets or gate.usable_servers()
    if not targets:
        return gate.error(call, start_response, 503, "no Ollama server is available")
    if call.path in ("/api/pull", "/api/create"):
        stream = data.get("stream") is not False
        return merged(gate, call, targets, start_response, stream)
    return _each(gate, call, str(subject), targets, start_response)


def _each(
    gate: Gate,
    call: Call,
    subject: str,
    targets: list[Server],
    start_response: StartResponse,
) -> Iterable[bytes]:
    """Delete or copy on every target, then answer as one server would."""
    timeouts = gate.timeouts(call.path)
    answers: list[Answer] = []
    for server in targets:
        try:
            response = gate.upstream(server.url).request(
                call.method, call.url_tail, call.headers, call.body, timeouts
            )
            body = response.read()
        except OSError as exc:
            body = _json(
                error_body(call.path, 502, f"Ollama server '{server.name}' {exc}")
            )
            headers = [("Content-Type", JSON), ("Content-Length", str(len(body)))]
            answers.append((server, 502, headers, body))
            continue
        answers.append((server, response.status, end_to_end_headers(response), body))
    listed = gate.models.servers_with(subject)
    for server, status, *_ in answers:
        if not 400 <= status < 500:  # a 4xx wrote nothing; a 5xx may have
            gate.models_written(server)
        elif status == 404 and server.name in listed:  # the map was wrong there
            gate.refresh_models_quietly(server)
    _, status, headers, body = answer_of(answers)
    names = ",".join(s.name for s, *_ in answers)
    start_response(status_line(status), [*headers, ("X-Ollama-Server", names)])
    gate.record(call, status, names, Outcome(len(body)), None, len(answers))
    return [body]


def answer_of(answers: list[Answer]) -> Answer:
    """A failure if any server failed (a half-done write is never hidden), a
    404 only when no server had the model, else a success.

    >>> a, b = Server("a", "http://a"), Server("b", "http://b")
    >>> answer_of([(a, 404, [], b"missing"), (b, 200, [], b"")])[1]
    200
    >>> answer_of([(a, 404, [], b"missing"), (b, 500, [], b"broken")])[1]
    500
    >>> answer_of([(a, 404, [], b"missing"), (b, 404, [], b"missing")])[1]
    404
    """
    done = [a for a in answers if a[1] < 300]
    failed = [a for a in answers if a[1] >= 300 and not (done and a[1] == 404)]
    failed.sort(key=lambda a: a[1] == 404)  # a real failure before "not here"
    return (failed or done)[0]


def merged(
    gate: Gate,
    call: Call,
    targets: list[Server],
    start_response: StartResponse,
    stream: bool,
) -> Iterable[bytes]:
    """Pull or create on every target, one progress stream; a failure that
    comes before any line gets the servers' status, as one Ollama's does."""
    cancel = threading.Event()
    payload = call.body if isinstance(call.body, bytes) else b""
    names = ",".join(s.name for s in targets)
    merger = ProgressMerger(
        [s.name for s in targets], create=call.path == "/api/create"
    )
    if call.path == "/api/pull":  # through the seed cache when it can
        lines = pull_lines(gate, call, targets, cancel, merger)
    else:
        lines = merged_progress(
            gate.upstream,
            targets,
            call.path,
            payload,
            call.headers,
            gate.timeouts(call.path),
            cancel,
            merger,
        )
    headers = [("X-Ollama-Server", names)]
    first = next(lines, None)
    if first is None or not stream:
        for _ in lines:
            pass  # stream: false answers the last line only
        _written(gate, targets)
        final = merger.final()
        status = merger.failed_status if "error" in final else 200
        outcome = Outcome(error=final.get("error"))
        gate.record(call, status, names, outcome, None, len(targets))
        return send_json(start_response, status, final, headers)
    start_response("200 OK", [("Content-Type", NDJSON), *headers])
    outcome = Outcome()
    written = threading.Event()

    def body() -> Iterator[bytes]:
        for line in itertools.chain([first], lines):
            yield _frame(line, outcome)
        _written(gate, targets)  # before the client reads "success"
        written.set()
        final = merger.final()
        outcome.error = final.get("error")
        yield _frame(final, outcome)

    def finish() -> None:
        cancel.set()
        if not written.is_set():  # the client left: some servers may be done
            _written(gate, targets)
        gate.record(call, 200, names, outcome, None, len(targets))

    return Closing(body(), finish)


def _written(gate: Gate, targets: list[Server]) -> None:
    for server in targets:
        gate.models_written(server)


def _frame(line: dict[str, Any], outcome: Outcome) -> bytes:
    frame = _json(line) + b"\n"
    outcome.bytes_out += len(frame)
    return frame


def _json(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()
