"""``LeanWSGIServer`` over real loopback sockets, served by a monkey-patched child.

The apps are in ``tests/lean_server_app.py``. Most tests send exact bytes and
read the exact answer; a few use http.client and httpx as clients.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from waiting import wait_until

HELPER = Path(__file__).with_name("lean_server_app.py")


@dataclass
class Served:
    port: int
    process: subprocess.Popen[str]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text()

    def sleeping(self) -> int:
        """How many ``/sleep`` requests the app has started."""
        return self.log_text().count("lean_server_app sleeping")


def _serve(tmp: Path, *args: str) -> Iterator[Served]:
    log = tmp / "server.log"
    with log.open("w") as errors:
        process = subprocess.Popen(
            [sys.executable, str(HELPER), *args],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env={**os.environ, "PYTHONWARNINGS": ""},
        )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield Served(port, process, log)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from _serve(tmp_path_factory.mktemp("lean"))


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Served]:
    """A server of its own, with a 0.5 s timeout."""
    yield from _serve(tmp_path, "0.5")


# --- raw HTTP helpers ------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_response(reader: Any, *, head: bool = False) -> Response:
    """One response, framed by Content-Length, chunks or the closing."""
    status_line = reader.readline()
    assert status_line, "connection closed before a response"
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, value = line.decode("latin-1").split(":", 1)
        assert name.lower() not in headers, f"repeated header {name}"
        headers[name.lower()] = value.strip()
    if head or status in (204, 304) or status < 200:
        return Response(status, headers, b"")
    if "content-length" in headers:
        body = reader.read(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        body = _read_chunks(reader)
    else:
        body = reader.read()
    return Response(status, headers, body)


def _read_chunks(reader: Any) -> bytes:
    parts = []
    while size := int(reader.readline().strip(), 16):
        parts.append(reader.read(size))
        assert reader.read(2) == b"\r\n"
    assert reader.readline() == b"\r\n"
    return b"".join(parts)


def exchange(port: int, data: bytes, count: int = 1) -> tuple[list[Response], bool]:
    """Send ``data``, read ``count`` responses; True when the server then closed."""
    with connect(port) as sock:
        sock.sendall(data)
        reader = sock.makefile("rb")
        responses = [read_response(reader) for _ in range(count)]
        sock.settimeout(0.3)  # long enough for a closing to show
        try:
            closed = reader.read(1) == b""
        except TimeoutError:
            closed = False
        return responses, closed


def one(port: int, data: bytes) -> tuple[Response, bool]:
    responses, closed = exchange(port, data)
    return responses[0], closed


def get(path: str, *headers: str, version: str = "1.1") -> bytes:
    lines = [f"GET {path} HTTP/{version}", "Host: test", *headers, "", ""]
    return "\r\n".join(lines).encode()


def post(path: str, body: bytes, *headers: str) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: test", f"Content-Length: {len(body)}"]
    return "\r\n".join([*head, *headers, "", ""]).encode() + body


def chunked_post(path: str, chunks: list[bytes], *, trailer: bytes = b"") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
    body = b"".join(b"%x;ext=1\r\n%b\r\n" % (len(c), c) for c in chunks)
    return head.encode() + body + b"0\r\n" + trailer + b"\r\n"


def app_get(port: int, path: str) -> Any:
    response, _ = one(port, get(path, "Connection: close"))
    return response.json()


# --- connections -----------------------------------------------------------------


def test_keep_alive_is_the_http11_default(server: Served) -> None:
    responses, closed = exchange(
        server.port, get("/peer?tag=ka") + get("/peer?tag=ka") + get("/peer?tag=ka"), 3
    )
    assert [r.json() for r in responses] == [1, 1, 1]  # one connection
    assert all("connection" not in r.headers for r in responses)
    assert not closed


def test_pipelined_requests_are_answered_in_order(server: Served) -> None:
    data = post("/echo?n=1", b"first") + get("/echo?n=2") + post("/echo?n=3", b"3rd")
    responses, _ = exchange(server.port, data, 3)
    bodies = [(r.json()["QUERY_STRING"], r.json()["body"]) for r in responses]
    assert bodies == [("n=1", "first"), ("n=2", ""), ("n=3", "3rd")]


def test_connection_close_from_the_client(server: Served) -> None:
    response, closed = one(server.port, get("/echo", "Connection: close"))
    assert response.status == 200
    assert response.headers["connection"] == "close"
    assert closed


def test_http10_closes_unless_asked_to_keep_alive(server: Served) -> None:
    response, closed = one(server.port, get("/echo", version="1.0"))
    assert (response.status, response.headers["connection"], closed) == (
        200,
        "close",
        True,
    )
    data = get("/echo", "Connection: keep-alive", version="1.0")
    responses, closed = exchange(server.port, data + data, 2)
    assert [r.headers["connection"] for r in responses] == ["keep-alive"] * 2
    assert responses[0].body.startswith(b'{"SCRIPT_NAME"')
    assert not closed


def test_app_asking_to_close_closes(server: Served) -> None:
    response, closed = one(server.port, get("/close-me"))
    assert (response.body, response.headers["connection"], closed) == (
        b"ok",
        "close",
        True,
    )


# --- environ -----------------------------------------------------------------------


def test_environ_follows_pep_3333(server: Served) -> None:
    data = post(
        "/caf%C3%A9/a%2Fb?q=a%20b&x=1",
        b'{"model":"m"}',
        "Content-Type: application/json",
        "X-Many: one",
        "X-Many: two",
        "X_Forwarded_For: 6.6.6.6",
        "X-Forwarded-For: 10.0.0.1",
        "Authorization:   Bearer k  ",
    )
    env = one(server.port, data)[0].json()
    assert env["REQUEST_METHOD"] == "POST"
    assert env["SCRIPT_NAME"] == ""
    assert env["PATH_INFO"] == "/café/a/b".encode().decode("latin-1")
    assert env["RAW_URI"] == "/caf%C3%A9/a%2Fb?q=a%20b&x=1"
    assert env["QUERY_STRING"] == "q=a%20b&x=1"
    assert (env["CONTENT_TYPE"], env["CONTENT_LENGTH"]) == ("application/json", "13")
    assert "HTTP_CONTENT_TYPE" not in env
    assert "HTTP_CONTENT_LENGTH" not in env
    assert env["SERVER_NAME"] == "127.0.0.1"
    assert env["SERVER_PORT"] == str(server.port)
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert int(env["REMOTE_PORT"]) > 0
    assert env["HTTP_X_MANY"] == "one, two"
    # the underscore spelling is dropped, never merged into X-Forwarded-For
    assert env["HTTP_X_FORWARDED_FOR"] == "10.0.0.1"
    assert env["HTTP_AUTHORIZATION"] == "Bearer k"
    assert env["body"] == '{"model":"m"}'
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi.version"] == [1, 0]
    assert env["types"]["wsgi.multithread"] == "bool"
    assert env["types"]["wsgi.input_terminated"] == "bool"


def test_absolute_form_target(server: Served) -> None:
    env = one(server.port, get("http://gw:11434/api/tags?x=1"))[0].json()
    assert (env["PATH_INFO"], env["QUERY_STRING"]) == ("/api/tags", "x=1")


def test_wsgiref_validator_accepts_server_and_app(server: Served) -> None:
    for data in (
        get("/validated/api/tags?x=1"),
        post("/validated/api/show", b'{"model":"m"}', "Content-Type: application/json"),
        b"HEAD /validated/ HTTP/1.1\r\nHost: t\r\n\r\n",
        b"OPTIONS /validated/api/chat HTTP/1.1\r\nHost: t\r\nOrigin: http://x\r\n"
        b"Access-Control-Request-Method: POST\r\n\r\n",
    ):
        with connect(server.port) as sock:
            sock.sendall(data)
            response = read_response(sock.makefile("rb"), head=data.startswith(b"HEAD"))
        assert response.status == 200, response.body


# --- request bodies ------------------------------------------------------------------


def test_chunked_body_is_decoded(server: Served) -> None:
    data = chunked_post("/echo", [b'{"mo', b'del":', b'"m"}'], trailer=b"X-T: 1\r\n")
    responses, closed = exchange(server.port, data + get("/echo?after"), 2)
    env = responses[0].json()
    assert env["body"] == '{"model":"m"}'
    assert "CONTENT_LENGTH" not in env
    assert env["HTTP_TRANSFER_ENCODING"] == "chunked"
    assert responses[1].json()["QUERY_STRING"] == "after"
    assert not closed


@pytest.mark.parametrize(
    ("way", "pieces"),
    [
        ("readline", ["line one\n", "line", " two\n", "end"]),
        ("read3", ["lin", "e o", "ne\nline two\nend", ""]),
        ("readlines", ["line one\n", "line two\n", "end", ""]),
        ("iter", ["line one\n", "line two\n", "end", ""]),
    ],
)
def test_input_reads_never_pass_the_body(
    server: Served, way: str, pieces: list[str]
) -> None:
    body = b"line one\nline two\nend"
    for data in (
        post(f"/read?way={way}", body),
        chunked_post(f"/read?way={way}", [body[:5], body[5:12], body[12:]]),
    ):
        responses, _ = exchange(server.port, data + get("/echo?next"), 2)
        assert responses[0].json() == pieces
        assert responses[1].json()["QUERY_STRING"] == "next"


def test_expect_100_continue_sent_on_first_read_only(server: Served) -> None:
    head = (
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
        b"Expect: 100-continue\r\n\r\n"
    )
    with connect(server.port) as sock:
        sock.sendall(head)
        reader = sock.makefile("rb")
        assert reader.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert reader.readline() == b"\r\n"
        sock.sendall(b"hello")
        assert read_response(reader).json()["body"] == "hello"
    # never read: no 100, and the connection cannot be reused
    data = head.replace(b"/echo", b"/noread")
    with connect(server.port) as sock:
        sock.sendall(data)
        reader = sock.makefile("rb")
        response = read_response(reader)
        assert (response.status, response.headers["connection"]) == (200, "close")
        assert reader.read() == b""


def test_unread_body_is_drained_or_the_connection_closed(server: Served) -> None:
    small = post("/noread", b"x" * 1000)
    responses, closed = exchange(server.port, small + get("/echo?next"), 2)
    assert responses[1].json()["QUERY_STRING"] == "next"
    assert not closed
    big = post("/noread", b"x" * 200_000)
    response, closed = one(server.port, big)
    assert (response.json(), response.headers["connection"], closed) == (
        "not read",
        "close",
        True,
    )


# --- limits and bad input --------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\n" + b"X-Big: " + b"b" * 70_000 + b"\r\n\r\n", 431),
        (
            b"GET / HTTP/1.1\r\n"
            + b"".join(b"X-%d: v\r\n" % i for i in range(101))
            + b"\r\n",
            431,
        ),
        (b"GET /\r\n\r\n", 400),
        (b"GET  / HTTP/1.1\r\n\r\n", 400),
        (b"G(T / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET / HTTP/1.1\r\nNo colon\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nName : v\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        (b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    ],
)
def test_bad_requests_get_a_short_answer_and_a_close(
    server: Served, data: bytes, status: int
) -> None:
    response, closed = one(server.port, data)
    assert response.status == status
    assert response.headers["connection"] == "close"
    assert response.headers["content-type"].startswith("text/plain")
    assert 0 < len(response.body) < 100
    assert b"Traceback" not in response.body
    assert closed


def test_idle_connection_times_out(fresh: Served) -> None:
    with connect(fresh.port) as sock:
        sock.sendall(get("/echo"))
        reader = sock.makefile("rb")
        assert read_response(reader).status == 200
        started = time.monotonic()
        assert reader.read(1) == b""  # the server closed it
        assert 0.3 < time.monotonic() - started < 5


def test_slow_headers_time_out(fresh: Served) -> None:
    with connect(fresh.port) as sock:
        started = time.monotonic()
        closed = False
        for byte in b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"s" * 40:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            sock.settimeout(0.1)
            with contextlib.suppress(TimeoutError):
                try:
                    closed = sock.recv(1) == b""
                except ConnectionResetError:
                    closed = True
            if closed:
                break
        assert closed
        assert time.monotonic() - started < 3


# --- responses ------------------------------------------------------------------------


def test_content_length_given_by_the_app_is_exact(server: Served) -> None:
    response, closed = one(server.port, get("/length?n=6&give=6"))
    assert (response.body, closed) == (b"xxxyyy", False)
    # longer than announced: cut to the length, the connection stays usable
    responses, _ = exchange(server.port, get("/length?n=4&give=8") + get("/echo"), 2)
    assert responses[0].body == b"xxxx"
    assert responses[1].status == 200
    # shorter: the client must not wait for bytes that never come
    with connect(server.port) as sock:
        sock.sendall(get("/length?n=10&give=4"))
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"HTTP/1.1 200")
        assert reader.read().endswith(b"\r\n\r\nxxyy")


def test_unknown_length_is_chunked_in_http11_and_closed_in_http10(
    server: Served,
) -> None:
    response, closed = one(server.port, get("/chunks"))
    assert response.headers["transfer-encoding"] == "chunked"
    assert (response.body, closed) == (b"one,two", False)
    response, closed = one(server.port, get("/chunks", version="1.0"))
    assert "transfer-encoding" not in response.headers
    assert (response.body, closed) == (b"one,two", True)


def test_write_callable_and_one_item_lists(server: Served) -> None:
    response, _ = one(server.port, get("/write"))
    assert response.body == b"written,returned"
    response, _ = one(server.port, get("/echo"))
    assert "transfer-encoding" not in response.headers
    assert int(response.headers["content-length"]) == len(response.body)
    assert response.headers["date"].endswith(" GMT")


def test_head_204_and_304_have_no_body(server: Served) -> None:
    data = b"HEAD /echo HTTP/1.1\r\nHost: t\r\n\r\n" + get("/status/204")
    data += get("/status/304") + get("/echo?after")
    with connect(server.port) as sock:
        sock.sendall(data)
        reader = sock.makefile("rb")
        head = read_response(reader, head=True)
        assert int(head.headers["content-length"]) > 0  # as for GET
        assert read_response(reader).status == 204
        assert read_response(reader).status == 304
        # had a body been sent, this would not parse
        assert read_response(reader).json()["QUERY_STRING"] == "after"


def test_app_errors_before_the_headers_give_500(server: Served) -> None:
    for path in ("/fail-before", "/bad-header"):
        response, closed = one(server.port, get(path))
        assert response.status == 500
        assert response.body == b"internal server error\n"
        assert b"Set-Cookie" not in response.body
        assert closed
    assert "error in the WSGI application: GET /fail-before" in server.log_text()


def test_exc_info_replaces_unsent_headers(server: Served) -> None:
    response, _ = one(server.port, get("/exc-info"))
    assert (response.status, response.headers["x-why"], response.body) == (
        503,
        "late",
        b"unavailable",
    )


def test_app_error_after_the_headers_closes_and_closes_the_iterable(
    server: Served,
) -> None:
    with connect(server.port) as sock:
        sock.sendall(get("/fail-after?id=fa1"))
        data = sock.makefile("rb").read()  # until the server closes
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.endswith(b"\r\n\r\n6\r\nfirst\n\r\n")  # no final chunk: incomplete
    assert app_get(server.port, "/closed?id=fa1") is True


def test_streamed_chunks_leave_as_soon_as_yielded(server: Served) -> None:
    with connect(server.port) as sock:
        sock.sendall(get("/stream?id=s1"))
        # the headers and the first line come in one packet
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 OK\r\n")
        assert first.endswith(b'\r\n\r\n8\r\n{"n":1}\n\r\n')
        # the app now waits for a release: what came was sent before the rest
        arrivals = [time.monotonic()]
        # the gaps are the point: each chunk must leave when yielded, not with the next
        time.sleep(0.05)
        app_get(server.port, "/release?name=s1-2")
        assert sock.recv(65536) == b'8\r\n{"n":2}\n\r\n'
        arrivals.append(time.monotonic())
        time.sleep(0.05)
        app_get(server.port, "/release?name=s1-3")
        rest = sock.recv(65536)
        arrivals.append(time.monotonic())
        while not rest.endswith(b"0\r\n\r\n"):  # the last chunk may come apart
            rest += sock.recv(65536)
        assert rest == b'8\r\n{"n":3}\n\r\n0\r\n\r\n'
    assert arrivals[1] - arrivals[0] >= 0.05
    assert arrivals[2] - arrivals[1] >= 0.05
    assert app_get(server.port, "/closed?id=s1") is True


def test_client_gone_mid_stream_closes_the_iterable_quietly(server: Served) -> None:
    before = len(server.log_text())
    with connect(server.port) as sock:
        sock.sendall(get("/endless?id=gone1"))
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    deadline = time.monotonic() + 5
    while not app_get(server.port, "/closed?id=gone1"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    new = server.log_text()[before:]
    assert "ERROR" not in new
    assert "Traceback" not in new


# --- real clients -----------------------------------------------------------------------


def test_http_client_reuses_its_connection(server: Served) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    counts = []
    for _ in range(5):
        conn.request("POST", "/peer?tag=httpclient", b"{}", {"X-A": "1"})
        counts.append(json.loads(conn.getresponse().read()))
    conn.request("GET", "/chunks")
    assert conn.getresponse().read() == b"one,two"
    conn.close()
    assert counts == [1, 1, 1, 1, 1]


def test_httpx_streams_uploads_and_keeps_alive(server: Served) -> None:
    base = f"http://127.0.0.1:{server.port}"
    with httpx.Client(base_url=base, timeout=10) as client:
        counts = [client.get("/peer?tag=httpx").json() for _ in range(5)]

        def upload() -> Iterator[bytes]:
            yield b'{"a":'
            yield b"1}"

        echoed = client.post("/echo", content=upload()).json()
        with client.stream("GET", "/stream?id=hx") as response:
            lines = response.iter_lines()
            assert json.loads(next(lines)) == {"n": 1}
            client.get("/release?name=hx-2")
            assert json.loads(next(lines)) == {"n": 2}
            client.get("/release?name=hx-3")
            assert json.loads(next(lines)) == {"n": 3}
        after = client.get("/peer?tag=httpx").json()
    assert counts == [1, 1, 1, 1, 1]
    assert after <= 2  # plus the one opened while the stream held the first
    assert echoed["body"] == '{"a":1}'
    assert echoed["HTTP_TRANSFER_ENCODING"] == "chunked"


# --- stopping ---------------------------------------------------------------------------


def test_sigterm_lets_running_requests_finish(fresh: Served) -> None:
    idle = connect(fresh.port)
    idle.sendall(get("/echo"))
    assert read_response(idle.makefile("rb")).status == 200
    with connect(fresh.port) as busy:
        busy.sendall(get("/sleep?s=0.3"))
        wait_until(lambda: fresh.sleeping() == 1, what="the request running")
        fresh.process.send_signal(signal.SIGTERM)
        response = read_response(busy.makefile("rb"))
    assert (response.json(), response.headers["connection"]) == ("slept", "close")
    assert fresh.process.wait(timeout=5) == 0
    assert idle.recv(1) == b""
    idle.close()


# --- the connection cap -------------------------------------------------------------------


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[Served]:
    """A server of its own that takes two connections at most."""
    yield from _serve(tmp_path, "60", "2")


def test_past_the_cap_the_longest_idle_connection_makes_room(capped: Served) -> None:
    first, second = connect(capped.port), connect(capped.port)
    for sock in (first, second):
        sock.sendall(get("/echo"))
        assert read_response(sock.makefile("rb")).status == 200
        time.sleep(0.05)  # first is the longest idle
    response, _ = one(capped.port, get("/echo", "Connection: close"))
    assert response.status == 200
    first.settimeout(2)
    assert first.recv(1) == b""  # closed to make room
    second.sendall(get("/echo"))  # the other one still serves
    assert read_response(second.makefile("rb")).status == 200
    first.close()
    second.close()


def test_past_the_cap_with_every_connection_busy_a_503(capped: Served) -> None:
    busy = [connect(capped.port) for _ in range(2)]
    for sock in busy:
        sock.sendall(get("/sleep?s=1"))
    wait_until(lambda: capped.sleeping() == 2, what="both requests running")
    response, closed = one(capped.port, get("/echo"))
    assert (response.status, response.headers["retry-after"], closed) == (
        503,
        "1",
        True,
    )
    for sock in busy:  # the busy ones were left alone
        assert read_response(sock.makefile("rb")).json() == "slept"
        sock.close()


def test_send_whole_finishes_what_one_send_leaves() -> None:
    """An answer larger than the socket's buffer goes out whole."""
    import threading

    from ollama_webmgr.http_response import send_whole

    left, right = socket.socketpair()
    left.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    data = os.urandom(2_000_000)
    received = bytearray()

    def read() -> None:
        while len(received) < len(data):
            chunk = right.recv(65536)
            if not chunk:
                break
            received.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    with left, right:
        send_whole(left, data)
        reader.join(10)
    assert bytes(received) == data
