"""Test apps served by ``LeanWSGIServer`` in a child process (tests/test_http_server.py).

``python tests/lean_server_app.py [TIMEOUT [MAX_CONNECTIONS]]`` monkey-patches, serves on a free
loopback port, prints the port, and stops on SIGTERM as the commands do
(``serving.wait_for_signal``). Importing this module has no side effect.
"""

from __future__ import annotations

import json
import logging
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs
from wsgiref.validate import WSGIWarning, validator

import gevent
from gevent.event import Event

Environ = dict[str, Any]
StartResponse = Callable[..., Any]

events: dict[str, Event] = {}
closed: set[str] = set()
peers: dict[str, set[str]] = {}


def _event(name: str) -> Event:
    return events.setdefault(name, Event())


def _json(
    start_response: StartResponse, data: Any, status: str = "200 OK"
) -> list[bytes]:
    body = json.dumps(data).encode()
    start_response(status, [("Content-Type", "application/json")])
    return [body]


def _query(environ: Environ) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(environ["QUERY_STRING"]).items()}


class Tracked:
    """A response iterable that records its ``close()`` under ``name``."""

    def __init__(self, name: str, items: Iterator[bytes]) -> None:
        self.name = name
        self.items = items

    def __iter__(self) -> Iterator[bytes]:
        return self.items

    def close(self) -> None:
        closed.add(self.name)


def echo(environ: Environ, start_response: StartResponse) -> list[bytes]:
    """The environ (str values) and the body read whole."""
    length = environ.get("CONTENT_LENGTH")
    # read(n): the validator refuses read() without a size
    body = environ["wsgi.input"].read(int(length) if length else -1)
    data = {k: v for k, v in environ.items() if isinstance(v, str)}
    data["body"] = body.decode("latin-1")
    data["types"] = {
        k: type(v).__name__ for k, v in environ.items() if k.startswith("wsgi.")
    }
    data["wsgi.version"] = list(environ["wsgi.version"])
    return _json(start_response, data)


def read_ways(environ: Environ, start_response: StartResponse) -> list[bytes]:
    """The body read the way ``?way=`` says, as a list of the pieces."""
    stream = environ["wsgi.input"]
    way = _query(environ).get("way", "read")
    if way == "readline":
        pieces = [stream.readline(), stream.readline(4), stream.readline()]
    elif way == "read3":
        pieces = [stream.read(3), stream.read(3), stream.read()]
    elif way == "readlines":
        pieces = stream.readlines()
    elif way == "iter":
        pieces = list(stream)
    else:
        pieces = [stream.read()]
    pieces.append(stream.read())  # past the end: empty
    return _json(start_response, [p.decode("latin-1") for p in pieces])


def no_read(environ: Environ, start_response: StartResponse) -> list[bytes]:
    return _json(start_response, "not read")


def stream(environ: Environ, start_response: StartResponse) -> Tracked:
    """Three lines; each of the last two waits for ``/release?name=<id>-<n>``."""
    name = _query(environ)["id"]

    def lines() -> Iterator[bytes]:
        yield b'{"n":1}\n'
        for n in (2, 3):
            _event(f"{name}-{n}").wait(30)
            yield b'{"n":%d}\n' % n

    start_response("200 OK", [("Content-Type", "application/x-ndjson")])
    return Tracked(name, lines())


def endless(environ: Environ, start_response: StartResponse) -> Tracked:
    """A line every 20 ms until the client goes."""
    name = _query(environ)["id"]

    def lines() -> Iterator[bytes]:
        for n in range(10_000):
            yield b"line %d\n" % n
            gevent.sleep(0.02)

    start_response("200 OK", [("Content-Type", "text/plain")])
    return Tracked(name, lines())


def release(environ: Environ, start_response: StartResponse) -> list[bytes]:
    _event(_query(environ)["name"]).set()
    return _json(start_response, "released")


def was_closed(environ: Environ, start_response: StartResponse) -> list[bytes]:
    return _json(start_response, _query(environ)["id"] in closed)


def peer(environ: Environ, start_response: StartResponse) -> list[bytes]:
    """Counts the connections (client ports) seen under ``?tag=``."""
    seen = peers.setdefault(_query(environ).get("tag", ""), set())
    seen.add(environ["REMOTE_PORT"])
    return _json(start_response, len(seen))


def fail_before(environ: Environ, start_response: StartResponse) -> list[bytes]:
    raise RuntimeError("boom before start_response")


def fail_after(environ: Environ, start_response: StartResponse) -> Tracked:
    name = _query(environ).get("id", "fail-after")

    def lines() -> Iterator[bytes]:
        yield b"first\n"
        raise RuntimeError("boom in the body")

    start_response("200 OK", [("Content-Type", "text/plain")])
    return Tracked(name, lines())


def bad_header(environ: Environ, start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", [("X-Evil", "a\r\nSet-Cookie: x=1")])
    return [b"never"]


def exc_info(environ: Environ, start_response: StartResponse) -> list[bytes]:
    """Changes its mind before any byte is sent, as PEP 3333 allows."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    try:
        raise ValueError("late failure")
    except ValueError:
        start_response("503 Service Unavailable", [("X-Why", "late")], sys.exc_info())
    return [b"unavailable"]


def length(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """``Content-Length: n`` and ``give`` bytes, in two items."""
    query = _query(environ)
    give = int(query["give"])
    start_response("200 OK", [("Content-Length", query["n"])])
    return iter([b"x" * (give // 2), b"y" * (give - give // 2)])


def chunks(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"one,"
    yield b""  # must not end the chunked body
    yield b"two"


def writer(environ: Environ, start_response: StartResponse) -> list[bytes]:
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written,")
    return [b"returned"]


def status(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
    code = environ["PATH_INFO"].rsplit("/", 1)[1]
    start_response(f"{code} Whatever", [])
    yield b"dropped"


def close_me(environ: Environ, start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", [("Connection", "close"), ("Content-Length", "2")])
    return [b"ok"]


def sleep(environ: Environ, start_response: StartResponse) -> list[bytes]:
    """Busy for ``?s=`` seconds; logs ``sleeping`` first (tests wait for it)."""
    logging.getLogger("lean_server_app").info("sleeping")
    gevent.sleep(float(_query(environ)["s"]))
    return _json(start_response, "slept")


def validated(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """wsgiref's checker around ``echo`` (warnings are errors: answered 500)."""
    environ["PATH_INFO"] = environ["PATH_INFO"][len("/validated") :] or "/"
    return validator(echo)(environ, start_response)  # type: ignore[no-any-return]


ROUTES: dict[str, Callable[[Environ, StartResponse], Iterable[bytes]]] = {
    "/echo": echo,
    "/read": read_ways,
    "/noread": no_read,
    "/stream": stream,
    "/endless": endless,
    "/release": release,
    "/closed": was_closed,
    "/peer": peer,
    "/fail-before": fail_before,
    "/fail-after": fail_after,
    "/bad-header": bad_header,
    "/exc-info": exc_info,
    "/length": length,
    "/chunks": chunks,
    "/write": writer,
    "/close-me": close_me,
    "/sleep": sleep,
}


def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path.startswith("/status/"):
        return status(environ, start_response)
    if path.startswith("/validated"):
        return validated(environ, start_response)
    return ROUTES.get(path, echo)(environ, start_response)


def main() -> None:
    from gevent import monkey

    monkey.patch_all()

    from ollama_webmgr.http_connection import ServerLimits
    from ollama_webmgr.http_server import LeanWSGIServer
    from ollama_webmgr.runtime.serving import wait_for_signal

    logging.basicConfig(
        level=logging.DEBUG, format="%(levelname)s %(name)s %(message)s"
    )
    warnings.simplefilter("error", WSGIWarning)
    # [TIMEOUT [MAX_CONNECTIONS]]: every time limit, the connection cap
    timeout = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    cap = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    limits = ServerLimits(timeout, timeout, timeout, cap)
    server = LeanWSGIServer(("127.0.0.1", 0), app, limits=limits)
    server.start()
    print(server.server_port, flush=True)
    wait_for_signal([server], lambda: print("stopped", flush=True))


if __name__ == "__main__":
    main()
