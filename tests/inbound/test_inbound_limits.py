"""Limits of both ports of the real ``serve`` process: head size and count,
body size (before and while reading), head and idle timeouts, the connection
cap under slow heads, each port unaffected by the other."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from inbound_support import (
    LIMITS,
    BlobNode,
    Reader,
    Served,
    connect,
    exchange,
    serving,
)

from ollama_webmgr.sim.serve import serve_in_thread
from waiting import wait_until

HOST = b"Host: 127.0.0.1\r\n"
CAP = int(LIMITS["HTTP_MAX_CONNECTIONS"])
IDLE = float(LIMITS["HTTP_IDLE_TIMEOUT"])
HEAD = float(LIMITS["HTTP_HEAD_TIMEOUT"])


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + HOST + b"\r\n", 414),
        (b"GET / HTTP/1.1\r\n" + HOST + b"X-Big: " + b"b" * 70_000 + b"\r\n\r\n", 431),
        (
            b"GET / HTTP/1.1\r\n"
            + HOST
            + b"".join(b"X-%d: v\r\n" % i for i in range(100))
            + b"\r\n",
            431,
        ),
        (b"GET / HTTP/1.1\r\n" + b"X: " + b" " * 200_000, 431),  # blanks, no end
    ],
)
def test_oversized_heads_are_refused(port: int, data: bytes, status: int) -> None:
    answers, closed = exchange(port, data)
    assert [a.status for a in answers] == [status]
    assert closed


def test_a_body_over_the_limit_is_refused_before_it_is_sent(served: Served) -> None:
    for port, limit, path in (
        (served.gateway, int(LIMITS["MAX_BODY_SIZE"]), "/api/chat"),
        (served.web, 1024 * 1024, "/api/servers"),
    ):
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {limit + 1}\r\n\r\n"
        )
        # only the head is sent: the answer must come without the body
        with connect(port) as sock:
            sock.sendall(head.encode())
            answer = Reader(sock).answer()
        assert answer is not None
        assert answer.status == 413
        body = json.loads(answer.body)
        if port == served.gateway:
            assert body == {"error": "request body too large (MAX_BODY_SIZE)"}
        else:
            assert body["error"]["code"] == "payload_too_large"
            assert body["error"]["message"] == "Requête trop volumineuse."


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(
    served: Served,
) -> None:
    limit = int(LIMITS["MAX_BODY_SIZE"])
    head = (
        b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"%x\r\n%b\r\n" % (limit + 10, b"x" * (limit + 10))
    with connect(served.gateway) as sock:
        sock.sendall(head + chunk)  # no final chunk: the server must not wait
        answer = Reader(sock).answer()
    assert answer is not None
    assert answer.status == 413
    assert answer.headers["connection"] == "close"


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_blob_uploads_are_streamed_past_the_body_limit(tmp_path: Path) -> None:
    """48 MiB blobs (750 times the 64 KiB body limit), by length and chunked:
    hashed by the node as sent, while the gateway grows by a few MiB at most."""
    data = bytes(range(256)) * (48 * 4096)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(data), 1 << 20):
            yield data[start : start + (1 << 20)]

    with serve_in_thread(BlobNode()) as node, serving(tmp_path, node.url) as served:
        base = f"http://127.0.0.1:{served.gateway}"
        with httpx.Client(base_url=base, timeout=30) as client:
            before = _rss_kib(served.process.pid)
            by_length = client.post(f"/api/blobs/{digest}", content=data)
            chunked = client.post(f"/api/blobs/{digest}", content=pieces())
            grown = _rss_kib(served.process.pid) - before
            wrong = client.post("/api/blobs/sha256:" + "0" * 64, content=data[:100])
            head = client.head(f"/api/blobs/{digest}")
    assert by_length.status_code == 201, by_length.text
    assert chunked.status_code == 201, chunked.text
    assert (wrong.status_code, wrong.json()) == (400, {"error": "digest mismatch"})
    assert head.status_code == 200
    assert grown < 16 * 1024, f"the gateway grew by {grown} KiB"


def test_idle_time_counts_from_the_last_answer_only(port: int) -> None:
    """Six requests 0.4 s apart: 2.4 s of idle time in all, more than twice the
    1 s idle timeout, on one connection; then 1 s of silence closes it."""
    with connect(port) as sock:
        reader = Reader(sock)
        local = sock.getsockname()
        for _ in range(6):
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = reader.answer()
            assert answer is not None
            assert answer.status == 200
            assert not reader.closed
            time.sleep(IDLE * 0.4)  # idle time is what this test counts
        assert sock.getsockname() == local  # never reconnected
        started = time.monotonic()
        assert reader.is_closed(wait=IDLE * 3)
        assert IDLE * 0.5 < time.monotonic() - started < IDLE * 2.5


def test_a_slow_head_is_cut_at_the_head_timeout(port: int) -> None:
    with connect(port) as sock:
        reader = Reader(sock)
        started = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\n")
        for _ in range(int(HEAD * 10)):
            try:
                sock.sendall(b"X-A: b\r\n")
            except OSError:
                break
            if reader.is_closed(wait=0.2):
                break
        assert reader.is_closed(wait=HEAD * 2)
        assert time.monotonic() - started < HEAD * 2.5


def _slowloris(port: int, stop: threading.Event, sockets: list[socket.socket]) -> None:
    """Connections that send a head a byte at a time, reopened when closed."""
    while not stop.is_set():
        try:
            sock = connect(port, timeout=2)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        except OSError:
            time.sleep(0.05)
            continue
        sockets.append(sock)
        while not stop.is_set():
            try:
                sock.sendall(b"X")
            except OSError:
                break
            time.sleep(0.2)
        sock.close()


def test_slow_heads_on_both_ports_leave_both_serving(served: Served) -> None:
    """Twice the connection cap of slow heads on each port: another client is
    served normally on both, and the descriptors stay bounded."""
    stop = threading.Event()
    sockets: list[socket.socket] = []
    threads = [
        threading.Thread(target=_slowloris, args=(port, stop, sockets), daemon=True)
        for port in (served.web, served.gateway)
        for _ in range(CAP * 2)
    ]
    for thread in threads:
        thread.start()
    try:
        wait_until(
            lambda: len(sockets) >= len(threads), HEAD * 5, "every slow connection"
        )
        descriptors = served.descriptors()
        timings = []
        for _ in range(5):
            for port, path in ((served.web, "/health"), (served.gateway, "/api/tags")):
                started = time.monotonic()
                response = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5)
                timings.append(time.monotonic() - started)
                assert response.status_code == 200
            time.sleep(0.1)  # the probes spread over the slow connections' churn
        wait_until(lambda: len(sockets) > CAP * 4, HEAD * 5, "slow connections cut")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
    assert max(timings) < 1.0, timings
    # two ports of CAP connections (plus upstream sockets and the store)
    assert descriptors < 2 * CAP + 100, descriptors
    assert len(sockets) > CAP * 4  # the slow ones were cut and came back
