"""Whose fault is a failed attempt: the request's, or the server's?

A 5xx is not a sick server by itself: Ollama answers 500 to a request whose
option has the wrong type (``option "num_ctx" must be of type integer``,
``api/types.go: Options.FromMap`` through ``handleScheduleError``), whose
``format`` is neither ``"json"`` nor a schema, whose ``template`` does not
parse; it answers 500 too when a model does not fit in memory, which a huge
``num_ctx`` causes on every server alike, and 503 when its queue is full
(``server busy``), which says the server is busy, not broken. Retrying a
deterministic fault elsewhere only repeats it, and blaming each server it
reached is how one client's bad batch used to take the whole fleet down.

So each failed attempt gets a ``Verdict`` (``classify``), and ``Judge`` keeps
the few facts of one request's attempts:

========  ==========================================  =========  ===============
verdict   what                                        retry      health
========  ==========================================  =========  ===============
REQUEST   a 5xx Ollama gives for the request itself   no         untouched
BUSY      503 ``server busy`` (queue full)            yes        untouched
SUSPECT   any other 5xx, or a timeout                 once more  blamed only if
                                                                 another server
                                                                 then answers 2xx
SERVER    the connection failed (refused, reset,      yes        blamed at once
          not HTTP): nothing about the request
========  ==========================================  =========  ===============

A second SUSPECT on another server ends the request: two servers failing the
same request is the request's doing, and its answer goes back unchanged with
no server blamed. 4xx answers are never retried and never touch health (they
are the request's by definition).

>>> classify("status", 500, b'{"error":"template: :1: unexpected EOF"}')
<Verdict.REQUEST: 'request'>
>>> classify("status", 503, b'{"error":"server busy, please try again.  maximum pending requests exceeded"}')
<Verdict.BUSY: 'busy'>
>>> classify("status", 500, b'{"error":"model runner has unexpectedly stopped"}')
<Verdict.SUSPECT: 'suspect'>
>>> classify("connect", None, b"")
<Verdict.SERVER: 'server'>
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass, field

#: 5xx texts Ollama gives for the request itself, whatever the server.
REQUEST_FAULTS = (
    # api/types.go Options.FromMap: integer, float32, boolean, string, array
    re.compile(r'option "[^"]*" must be of type '),
    # llm/llama_server.go: a ``format`` that is neither "json" nor a schema
    re.compile(r"invalid format: "),
    # text/template, parsing or running the request's ``template``
    re.compile(r"template: "),
)
#: sched.go ErrMaxQueue: "server busy, please try again.  maximum pending ..."
BUSY_PREFIX = "server busy"


class Verdict(enum.Enum):
    REQUEST = "request"
    BUSY = "busy"
    SUSPECT = "suspect"
    SERVER = "server"


def error_text(body: bytes) -> str | None:
    """The message of Ollama's ``{"error": "..."}`` or of the OpenAI shape.

    >>> error_text(b'{"error":{"message":"boom","type":"api_error"}}')
    'boom'
    >>> error_text(b"<html>bad gateway</html>") is None
    True
    """
    try:
        data = json.loads(body)
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        error = error.get("message")
    return error if isinstance(error, str) else None


def classify(kind: str, status: int | None, body: bytes) -> Verdict:
    """``kind``: the relay's failure kind (``status``, ``timeout``, ``connect``...)."""
    if kind == "timeout":
        return Verdict.SUSPECT  # a request can take too long on any server
    if kind != "status" or status is None:
        return Verdict.SERVER
    message = error_text(body) or ""
    if status == 503 and message.startswith(BUSY_PREFIX):
        return Verdict.BUSY
    if any(pattern.match(message) for pattern in REQUEST_FAULTS):
        return Verdict.REQUEST
    return Verdict.SUSPECT


Blame = tuple[tuple[str, str], ...]  # (server, why) to record as failures


@dataclass(frozen=True)
class Step:
    """What one failed attempt means: failures to record, and whether to stop."""

    blame: Blame = ()
    stop: bool = False


@dataclass
class Judge:
    """The attempts of one request, in order (see the module's table).

    >>> judge = Judge()
    >>> judge.failed("a", "status", 500, b'{"error":"boom"}')
    Step(blame=(), stop=False)
    >>> judge.answered(200)
    (('a', 'answered 500: boom'),)
    >>> judge = Judge()
    >>> judge.failed("a", "status", 500, b'{"error":"boom"}').stop
    False
    >>> judge.failed("b", "status", 500, b'{"error":"boom"}')
    Step(blame=(), stop=True)
    """

    _suspects: list[tuple[str, str]] = field(default_factory=list)

    def failed(
        self, server: str, kind: str, status: int | None, body: bytes, why: str = ""
    ) -> Step:
        verdict = classify(kind, status, body)
        reason = _reason(status, body) if kind == "status" else why
        if verdict is Verdict.REQUEST:
            self._suspects.clear()
            return Step(stop=True)
        if verdict is Verdict.BUSY:
            return Step()
        if verdict is Verdict.SERVER:
            return Step(blame=((server, reason),))
        if self._suspects:  # a second server failed it too: the request's doing
            self._suspects.clear()
            return Step(stop=True)
        self._suspects.append((server, reason))
        return Step()

    def answered(self, status: int) -> Blame:
        """Another server answered: a 2xx/3xx confirms the suspects' failures."""
        suspects, self._suspects = tuple(self._suspects), []
        return suspects if status < 400 else ()


def _reason(status: int | None, body: bytes) -> str:
    message = error_text(body)
    text = f"answered {status}"
    return f"{text}: {message[:200]}" if message else text
