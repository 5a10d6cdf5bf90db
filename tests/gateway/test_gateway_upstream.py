"""The gateway's HTTP/1.1 client against scripted servers on real sockets.

Each ``Scripted`` server runs one function per accepted connection, which reads
the raw request bytes and writes exactly the answer under test: keep-alive,
chunked and read-until-close bodies, interim answers, servers that close idle
connections, broken answers, timeouts and TLS.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from scripted_upstream import Reader, Script, Scripted

from fleet_support import closed_port_url
from ollama_webmgr.gateway.upstream import (
    ConnectFailed,
    Timeouts,
    UnexpectedAnswer,
    Upstream,
    UpstreamProtocolError,
    Upstreams,
)

FAST = Timeouts(connect=2, read=2)


@pytest.fixture
def connect() -> Iterator[Callable[..., Upstream]]:
    """``Upstream`` objects closed after the test: no socket is left open."""
    made: list[Upstream] = []

    def make(url: str, tls: ssl.SSLContext | None = None) -> Upstream:
        made.append(Upstream(url, tls=tls))
        return made[-1]

    yield make
    for upstream in made:
        upstream.close()


@pytest.fixture
def scripted() -> Iterator[Callable[..., Scripted]]:
    servers: list[Scripted] = []

    def make(script: Script, tls: ssl.SSLContext | None = None) -> Scripted:
        servers.append(Scripted(script, tls))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def answering(*answers: bytes, keep_open: bool = True) -> Callable[..., Script]:
    """A script answering each request of a connection in turn (the last repeats)."""

    def bind(server_requests: list[bytes]) -> Script:
        def script(sock: socket.socket, reader: Reader) -> None:
            turn = 0
            while (request := reader.request()) is not None:
                server_requests.append(request)
                sock.sendall(answers[min(turn, len(answers) - 1)])
                turn += 1
                if not keep_open:
                    return

        return script

    return bind


def serve(make: Callable[..., Scripted], *answers: bytes, **kw: bool) -> Scripted:
    requests: list[bytes] = []
    server = make(answering(*answers, **kw)(requests))
    server.requests = requests
    return server


OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def test_one_packet_request_and_keep_alive_reuse(scripted, connect):
    server = serve(scripted, OK)
    upstream = connect(server.url)
    for _ in range(3):
        response = upstream.request(
            "POST", "/api/show?x=1", {"X-Test": "1"}, b'{"model":"m"}', FAST
        )
        assert (response.status, response.read()) == (200, b"{}")
    assert server.accepted == 1
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /api/show?x=1 HTTP/1.1"
    assert f"Host: 127.0.0.1:{server.port}".encode() in lines
    assert b"Content-Length: 13" in lines
    assert b"X-Test: 1" in lines
    assert b"Accept-Encoding: identity" in lines
    assert body == b'{"model":"m"}'


def test_chunked_answer_comes_chunk_by_chunk_and_trailers_are_read(scripted, connect):
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/x-ndjson\r\n\r\n"
        b'7;ext=1\r\n{"a":1}\r\n7\r\n{"b":2}\r\n0\r\nX-Trailer: t\r\n\r\n'
    )
    server = serve(scripted, answer, OK)
    upstream = connect(server.url)
    response = upstream.request("GET", "/", {}, None, FAST)
    assert response.chunked
    assert response.header("content-type") == "application/x-ndjson"
    assert list(response.chunks()) == [b'{"a":1}', b'{"b":2}']
    response.release()
    assert upstream.request("GET", "/", {}, None, FAST).read() == b"{}"
    assert server.accepted == 1  # the trailer was consumed: the connection is reused


def test_an_answer_without_length_is_read_until_close_and_not_reused(scripted, connect):
    answer = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it"
    server = serve(scripted, answer, keep_open=False)
    upstream = connect(server.url)
    assert upstream.request("GET", "/", {}, None, FAST).read() == b"all of it"
    assert upstream.request("GET", "/", {}, None, FAST).read() == b"all of it"
    assert server.accepted == 2


def test_connection_close_is_honoured(scripted, connect):
    answer = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
    server = serve(scripted, answer, keep_open=False)
    upstream = connect(server.url)
    for _ in range(2):
        assert upstream.request("GET", "/", {}, None, FAST).read() == b"{}"
    assert server.accepted == 2


def test_an_idle_connection_closed_by_the_server_is_replaced(scripted, connect):
    # answers once per connection, then closes without saying so
    server = serve(scripted, OK, keep_open=False)
    upstream = connect(server.url)
    for _ in range(3):
        assert upstream.request("POST", "/", {}, b"{}", FAST).read() == b"{}"
    assert server.accepted == 3


def test_a_connection_closed_as_it_is_reused_is_retried_once(scripted, connect):
    """The race the idle check cannot see: the server reads the next request
    and closes without answering."""
    requests: list[bytes] = []

    def script(sock: socket.socket, reader: Reader) -> None:
        first = reader.request()
        if first is None:
            return
        requests.append(first)
        sock.sendall(OK)
        if len(requests) == 1:
            reader.request()  # the reused connection: read, then drop it

    server = scripted(script)
    upstream = connect(server.url)
    assert upstream.request("POST", "/", {}, b"{}", FAST).read() == b"{}"
    assert upstream.request("POST", "/", {}, b"{}", FAST).read() == b"{}"
    assert server.accepted == 2
    assert len(requests) == 2


def test_a_streamed_upload_is_not_sent_twice(scripted, connect):
    def script(sock: socket.socket, reader: Reader) -> None:
        reader.request()
        sock.sendall(OK)
        reader.request()

    server = scripted(script)
    upstream = connect(server.url)
    upstream.request("POST", "/", {}, b"{}", FAST).read()
    with pytest.raises(ConnectionResetError):
        upstream.request("POST", "/api/blobs/x", {}, iter([b"ab", b"cd"]), FAST)


def test_a_streamed_upload_is_chunked_unless_its_length_is_given(scripted, connect):
    server = serve(scripted, OK)
    upstream = connect(server.url)
    upstream.request("POST", "/a", {}, iter([b"ab", b"", b"cd"]), FAST).read()
    headers = {"Content-Length": "4"}
    upstream.request("POST", "/b", headers, iter([b"ab", b"cd"]), FAST).read()
    chunked, fixed = server.requests
    assert b"Transfer-Encoding: chunked" in chunked
    assert chunked.endswith(b"\r\n\r\nabcd")  # as the server decoded it
    assert b"Content-Length: 4" in fixed
    assert fixed.endswith(b"\r\n\r\nabcd")
    assert b"Transfer-Encoding" not in fixed


def test_interim_answers_are_skipped(scripted, connect):
    server = serve(scripted, b"HTTP/1.1 100 Continue\r\n\r\n" + OK)
    response = connect(server.url).request("POST", "/", {}, b"{}", FAST)
    assert (response.status, response.read()) == (200, b"{}")


def test_head_and_204_have_no_body_and_keep_the_connection(scripted, connect):
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
    server = serve(scripted, head, b"HTTP/1.1 204 No Content\r\n\r\n", OK)
    upstream = connect(server.url)
    assert upstream.request("HEAD", "/", {}, None, FAST).read() == b""
    assert upstream.request("DELETE", "/", {}, b"{}", FAST).read() == b""
    assert upstream.request("GET", "/", {}, None, FAST).read() == b"{}"
    assert server.accepted == 1


def test_statuses_reasons_and_repeated_headers_come_through(scripted, connect):
    answer = (
        b"HTTP/1.1 404 Not Found\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
        b"Content-Length: 30\r\n\r\n" + b'{"error":"model \'x\' not found"}'[:30]
    )
    response = connect(serve(scripted, answer).url).request("GET", "/", {}, None, FAST)
    assert (response.status, response.reason) == (404, "Not Found")
    assert [v for k, v in response.headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    response.close()


def test_a_body_cut_short_of_its_length_raises(scripted, connect):
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345"
    server = serve(scripted, answer, keep_open=False)
    response = connect(server.url).request("GET", "/", {}, None, FAST)
    with pytest.raises(ConnectionResetError):
        response.read()


@pytest.mark.parametrize(
    "answer",
    [
        b"SSH-2.0-OpenSSH_9.2\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    ],
)
def test_an_answer_that_is_not_http_is_a_protocol_error(scripted, answer, connect):
    server = serve(scripted, answer, keep_open=False)
    with pytest.raises(UpstreamProtocolError):
        connect(server.url).request("GET", "/", {}, None, FAST)


def test_a_bad_chunk_is_a_protocol_error(scripted, connect):
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    server = serve(scripted, answer, keep_open=False)
    response = connect(server.url).request("GET", "/", {}, None, FAST)
    with pytest.raises(UpstreamProtocolError):
        response.read()


def test_a_refused_connection_is_connect_failed(connect):
    with pytest.raises(ConnectFailed, match="cannot connect"):
        connect(closed_port_url()).request("GET", "/", {}, None, FAST)


def test_a_silent_server_times_out(scripted, connect):
    server = scripted(
        lambda sock, reader: (reader.request(), threading.Event().wait(5))
    )
    with pytest.raises(TimeoutError):
        connect(server.url).request("GET", "/", {}, None, Timeouts(2, 0.3))


def test_server_behind_a_path_prefix_and_bad_urls(scripted, connect):
    server = serve(scripted, OK)
    connect(server.url + "/ollama/").request("GET", "/api/tags", {}, None, FAST).read()
    assert server.requests[0].startswith(b"GET /ollama/api/tags HTTP/1.1")
    for url in ("ftp://host", "http://", "127.0.0.1:11434"):
        with pytest.raises(ValueError, match="not an http"):
            Upstream(url)


def test_closing_drops_idle_connections_and_answers_in_flight_finish(scripted, connect):
    server = serve(scripted, OK)
    upstream = connect(server.url)
    upstream.request("GET", "/", {}, None, FAST).read()
    in_flight = upstream.request("GET", "/", {}, None, FAST)
    upstream.close()
    assert in_flight.read() == b"{}"
    for _ in range(2):
        assert upstream.request("GET", "/", {}, None, FAST).read() == b"{}"
    assert server.accepted == 3  # nothing is kept after close


def _json_answer(status: bytes, body: bytes) -> bytes:
    head = b"HTTP/1.1 %b\r\nContent-Type: application/json\r\n" % status
    return head + b"Content-Length: %d\r\n\r\n%b" % (len(body), body)


def test_get_json_reads_one_object_over_a_kept_connection(scripted, connect):
    version = _json_answer(b"200 OK", b'{"version":"0.33.0"}')
    server = serve(scripted, version)
    upstream = connect(server.url)
    for _ in range(2):
        got = upstream.get_json("/api/version", connect=2, read=2)
        assert got == {"version": "0.33.0"}
    assert server.accepted == 1
    assert server.requests[0].startswith(b"GET /api/version HTTP/1.1\r\n")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (_json_answer(b"500 Internal Server Error", b'{"error":"x"}'), "answered 500"),
        (_json_answer(b"200 OK", b"[1, 2]"), "answered a non-object"),
    ],
)
def test_get_json_refuses_another_status_or_a_non_object(
    scripted, connect, answer, message
):
    upstream = connect(serve(scripted, answer).url)
    with pytest.raises(UnexpectedAnswer, match=message):
        upstream.get_json("/api/tags", connect=2, read=2)


def test_get_json_of_a_body_that_is_not_json_is_a_value_error(scripted, connect):
    upstream = connect(serve(scripted, _json_answer(b"200 OK", b"{nope")).url)
    with pytest.raises(json.JSONDecodeError):  # a ValueError, as the callers expect
        upstream.get_json("/api/ps", connect=2, read=2)


def test_upstreams_keep_one_client_per_server_url(scripted):
    first, second = serve(scripted, OK), serve(scripted, OK)
    upstreams = Upstreams()
    try:
        assert upstreams(first.url) is upstreams(first.url)
        assert upstreams(first.url) is not upstreams(second.url)
        for server in (first, second, first):
            upstreams(server.url).request("GET", "/", {}, None, FAST).read()
        assert (first.accepted, second.accepted) == (1, 1)
    finally:
        upstreams.close()
    assert upstreams(first.url).closed  # closed ones are kept: nothing stays idle


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl missing (apt-get install openssl)")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_https_upstream_is_verified(scripted, certificate, connect):
    cert, key = certificate
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert, key)
    requests: list[bytes] = []
    server = scripted(answering(OK)(requests), tls=server_side)
    trusting = ssl.create_default_context(cafile=str(cert))
    upstream = connect(server.url, trusting)
    for _ in range(2):
        assert upstream.request("GET", "/api/tags", {}, None, FAST).read() == b"{}"
    assert server.accepted == 1
    assert requests[0].startswith(b"GET /api/tags")
    with pytest.raises(ssl.SSLError):  # the system's authorities do not know it
        connect(server.url).request("GET", "/", {}, None, FAST)
