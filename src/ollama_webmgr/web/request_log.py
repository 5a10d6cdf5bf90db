"""Request correlation: an id per request, echoed back and put on every log line.

The id comes from the client's ``X-Request-ID`` when it looks sane (a reverse
proxy may set it) or is generated. One JSON access line is logged per request.
Only the path is logged, never the query string, headers or body.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from ollama_webmgr.logging_setup import request_id_var

HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")

log = logging.getLogger("ollama_webmgr.web.access")


def init_request_log(app: Flask) -> None:
    # First before_request hook, so every later hook logs with the id.
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)
    app.teardown_request(_reset)


def _start() -> None:
    sent = request.headers.get(HEADER, "")
    request_id = sent if _VALID_ID.match(sent) else uuid.uuid4().hex
    g.request_started = time.perf_counter()
    g.request_id_token = request_id_var.set(request_id)


def _finish(response: Response) -> Response:
    request_id = request_id_var.get()
    if request_id:
        response.headers[HEADER] = request_id
    started = g.get("request_started")
    duration = (time.perf_counter() - started) * 1000 if started else None
    log.info(
        "%s %s %s",
        request.method,
        request.path,
        response.status_code,
        extra={
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round(duration, 2) if duration is not None else None,
        },
    )
    return response


def _reset(_exc: BaseException | None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        request_id_var.reset(token)
