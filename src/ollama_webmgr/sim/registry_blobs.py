"""The fake registry's blobs: ``HEAD`` and (ranged) ``GET /v2/<ns>/<model>/blobs/<digest>``.

Real bytes (``Layer.chunks``), a ``Range: bytes=a-b`` answered 206 with
``Content-Range``, every body byte counted in ``Registry.served`` and passed
through ``Registry.faults`` (stall, slow, drop, corrupt). The real registry
answers a plain ``GET`` with a 307 to a CDN; this one serves the bytes itself.
A stall holds the connection that crossed it (``RegistryFaults.hold_stuck``),
or every one with ``stall_all``. A blob connection's kernel send buffer is
kept small (``SEND_BUFFER``): on loopback the kernel would otherwise let the
registry write megabytes ahead of what its client reads, and ``served`` would
count bytes that have not left the host; small, it counts what went on the
line (a real registry's count is what crossed the internet). Also the control endpoints of those knobs and
counters under ``/_sim/registry``.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import time
from collections.abc import Iterator
from typing import Any

from werkzeug.wrappers import Request, Response

from ollama_webmgr.sim.catalog import Layer, Registry
from ollama_webmgr.sim.responses import drop_connection

BLOB_PATH = re.compile(r"^/v2/([^/]+)/([^/]+)/blobs/(sha256:[0-9a-f]{64})$")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")
CHUNK = 1 << 16
#: a blob connection's send buffer (the kernel doubles it)
SEND_BUFFER = 1 << 15
OCTETS = "application/octet-stream"


def _docker_error(status: int, code: str, message: str) -> Response:
    body = {"errors": [{"code": code, "message": message, "detail": None}]}
    return Response(json.dumps(body), status, content_type="application/json")


def _span(header: str | None, size: int) -> tuple[int, int] | None:
    """``[start, end)`` asked by a Range header; None when there is none.

    >>> _span("bytes=10-19", 100), _span("bytes=90-", 100), _span(None, 100)
    ((10, 20), (90, 100), None)
    """
    if not header:
        return None
    found = _RANGE.match(header.strip())
    if found is None:
        raise ValueError(header)
    start = int(found.group(1))
    end = int(found.group(2)) + 1 if found.group(2) else size
    if start >= size or end <= start:
        raise ValueError(header)
    return start, min(end, size)


def blob_response(registry: Registry, request: Request) -> Response:
    found = BLOB_PATH.match(request.path)
    if request.method not in ("GET", "HEAD"):
        return Response("405 method not allowed", 405, mimetype="text/plain")
    layer = None
    if found is not None:
        layer = registry.blob(found.group(2), found.group(3))
    if layer is None:
        return _docker_error(404, "BLOB_UNKNOWN", "blob unknown to registry")
    try:
        span = _span(request.headers.get("Range"), layer.size)
    except ValueError:
        response = Response(b"", 416)
        response.headers["Content-Range"] = f"bytes */{layer.size}"
        return response
    start, end = span or (0, layer.size)
    status = 206 if span else 200
    headers = {"Content-Length": str(end - start), "Accept-Ranges": "bytes"}
    if span:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{layer.size}"
    if request.method == "HEAD":
        response = Response(b"", status, content_type=OCTETS, headers=headers)
        response.headers["Content-Length"] = str(end - start)  # not the empty body's
        return response
    body = _served(registry, layer, start, end, request.environ)
    return Response(
        body, status, content_type=OCTETS, headers=headers, direct_passthrough=True
    )


def _served(
    registry: Registry, layer: Layer, start: int, end: int, environ: dict[str, Any]
) -> Iterator[bytes]:
    """The bytes, through the fault knobs, counted as they go out."""
    faults = registry.faults
    at, stuck = start, None
    _small_send_buffer(environ)
    try:
        for piece in _pieces(layer, start, end, faults.slow):
            while piece:
                faults.wait_while_stalled()
                count, drop, stop = faults.admit(len(piece))
                if count:
                    out = piece[:count]
                    yield _corrupted(out) if faults.corrupt else out
                    registry.served.add(layer.digest, count)
                    faults.served(layer.digest, at, at + count)
                    if not stop:  # a stuck connection stops from its last byte
                        faults.pace(count)
                    piece, at = piece[count:], at + count
                if drop:
                    drop_connection(environ)
                if stop and at < end:
                    stuck = faults.hold_stuck(layer.digest, at)
                elif stop:  # this response is complete: the next byte sent stalls
                    faults.update({"stall_after": 0})
    finally:
        if stuck is not None:
            stuck.closed = time.monotonic()


def _small_send_buffer(environ: dict[str, Any]) -> None:
    sock = environ.get("werkzeug.socket") or environ.get("sim.socket")
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)


def _pieces(layer: Layer, start: int, end: int, slow: float | None) -> Iterator[bytes]:
    # slowed down, small pieces: few bytes wait in socket buffers, unread
    size = max(1024, min(CHUNK, int(slow * 0.02))) if slow else CHUNK
    for chunk in layer.chunks(start, end):
        for offset in range(0, len(chunk), size):
            yield chunk[offset : offset + size]


def _corrupted(data: bytes) -> bytes:
    return bytes([data[0] ^ 0xFF]) + data[1:]


def control(registry: Registry, request: Request) -> Response | None:
    """``/_sim/registry/...``: the blob fault knobs and the served-bytes counter.

    ``GET|POST faults`` (POST: some knobs as JSON), ``POST release`` (end a
    stall), ``GET served``, ``DELETE served`` (back to zero). None: not one of them.
    """
    action = request.path.removeprefix("/_sim/registry/")
    method = request.method
    if action == "faults" and method in ("GET", "POST"):
        if method == "POST":
            try:
                changes = json.loads(request.get_data() or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("a JSON object is expected")
                registry.faults.update(changes)
            except ValueError as error:
                return _json({"error": str(error)}, 400)
        return _json(registry.faults.as_json())
    if action == "release" and method == "POST":
        registry.faults.release()
        return _json(registry.faults.as_json())
    if action == "served" and method in ("GET", "DELETE"):
        if method == "DELETE":
            registry.served.reset()
        return _json(registry.served.as_json())
    return None


def _json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")
