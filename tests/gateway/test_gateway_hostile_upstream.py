"""A hostile upstream behind the real gateway, over real sockets.

One scripted raw-socket server plays the Ollama server; the gateway in front
of it is the real one (``create_gateway_app`` served on a socket), with its
slots in the process or in Redis. Every case checks what a client sees
(Ollama's ``{"error": "..."}`` with a 502, or a stream that ends with an
error line), that the server's slot is given back (in flight back to 0), and
that the next request is answered right, on a new connection when the broken
one was left open: a bad answer never reaches another client.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import ollama
import openai
import pytest
from gateway_fakes import wait_until
from scripted_upstream import Reader, Scripted

from ollama_webmgr.cluster.health import HealthMonitor
from ollama_webmgr.cluster.models import ModelMap
from ollama_webmgr.cluster.servers import Server, ServerRegistry
from ollama_webmgr.gateway.app import Gateway, create_gateway_app
from ollama_webmgr.gateway.config import GatewayConfig
from ollama_webmgr.gateway.limiter import Slots, SlotTable
from ollama_webmgr.gateway.redis_slots import RedisSlots
from ollama_webmgr.gateway.upstream import Upstreams
from ollama_webmgr.sim.serve import RunningServer, start_in_thread

JSON_TYPE = b"Content-Type: application/json\r\n"
NDJSON_TYPE = b"Content-Type: application/x-ndjson\r\n"
LINE = b'{"model":"m","response":"w","done":false}\n'
LAST = b'{"model":"m","response":"","done":true}\n'


def ok(body: bytes = b'{"ok":true}', *extra: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\n" + JSON_TYPE + b"".join(extra)
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


def chunked(*pieces: bytes, head: bytes = b"") -> bytes:
    """A streamed NDJSON answer; ``pieces`` are raw bytes after the head."""
    start = b"HTTP/1.1 200 OK\r\n" + NDJSON_TYPE + head
    return start + b"Transfer-Encoding: chunked\r\n\r\n" + b"".join(pieces)


@dataclass
class Step:
    answer: bytes | Callable[[bytes], bytes]
    then: str = "close"  # close | keep (the connection stays open)
    late: bytes = b""  # sent once ``go`` is set, after the answer was relayed
    go: threading.Event = field(default_factory=threading.Event)
    sent: threading.Event = field(default_factory=threading.Event)


@dataclass
class Hostile:
    """The scripted upstream: each request takes the next planned step, else OK."""

    plan: deque[Step] = field(default_factory=deque)
    requests: list[bytes] = field(default_factory=list)
    server: Scripted | None = None

    def script(self, sock: Any, reader: Reader) -> None:
        while (request := reader.request()) is not None:
            self.requests.append(request)
            step = self.plan.popleft() if self.plan else Step(ok(), "keep")
            answer = step.answer
            sock.sendall(answer(request) if callable(answer) else answer)
            if step.late and step.go.wait(5):
                sock.sendall(step.late)
                step.sent.set()
            if step.then == "close":
                return

    @property
    def accepted(self) -> int:
        assert self.server is not None
        return self.server.accepted


@dataclass
class Front:
    gateway: Gateway
    url: str
    hostile: Hostile
    slots: SlotTable

    def in_flight(self) -> int:
        return self.slots.in_flight("s")

    def settled(self) -> bool:
        """Every slot given back (Redis counts are cached 50 ms: waited for)."""
        return wait_until(lambda: self.in_flight() == 0, timeout=3)


@pytest.fixture(params=["process", "redis"])
def front(request: pytest.FixtureRequest) -> Iterator[Front]:
    slots: SlotTable
    if request.param == "redis":
        conn = request.getfixturevalue("redis_conn")
        slots = RedisSlots(conn, request.getfixturevalue("redis_prefix"))
    else:
        slots = Slots()
    hostile = Hostile()
    hostile.server = Scripted(hostile.script)
    registry = ServerRegistry([Server("s", hostile.server.url)])
    config = GatewayConfig().update(
        read_timeout=1.0, connect_timeout=0.5, failures_to_down=1000
    )
    gateway = create_gateway_app(
        config,
        registry,
        HealthMonitor(registry, ModelMap(), config, clients=Upstreams()),
        slots=slots,
    )
    running: RunningServer = start_in_thread(gateway)
    try:
        yield Front(gateway, running.url, hostile, slots)
    finally:
        running.stop()
        gateway.close()
        hostile.server.close()


def post(front: Front, path: str = "/api/chat", **kw: Any) -> httpx.Response:
    body = {"model": "m", "messages": [], **kw}
    return httpx.post(front.url + path, json=body, timeout=10)


def assert_next_request_is_answered_right(front: Front, new_connection: bool) -> None:
    accepted = front.hostile.accepted
    marker = f"after-{time.monotonic_ns()}".encode()
    front.hostile.plan.append(Step(ok(b'{"marker":"%b"}' % marker), "keep"))
    response = post(front, "/api/show")
    assert response.status_code == 200
    assert response.json() == {"marker": marker.decode()}
    if new_connection:
        assert front.hostile.accepted == accepted + 1
    assert front.settled()


def assert_ollama_502(response: httpx.Response) -> None:
    assert response.status_code == 502, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()
    assert set(error) == {"error"}
    assert error["error"].startswith("Ollama server 's' ")


# --- every malformed answer is a clean 502 -------------------------------------
H = b"HTTP/1.1 200 OK\r\n" + JSON_TYPE
BAD_LENGTHS = ["²", "٢", "２", "+2", "-2", "0x2", "2 2", "2,3", "", "1e3", "9" * 25]
BAD_CHUNK_SIZES = [
    b"0x5",
    b"+5",
    b"-5",
    b"1_0",
    b" 5",
    b"5 ",
    b"zz",
    b"",
    b"5;a=\rb",
    b"10000000000000000",  # 17 hex digits: past 64 bits
    b"ffffffffffffffff",  # 16: a chunk that never ends before the close
]
MALFORMED: dict[str, bytes] = {
    **{
        f"content-length {v!r}": H + f"Content-Length: {v}\r\n\r\n{{}}".encode()
        for v in BAD_LENGTHS
    },
    # one byte each, as a latin-1 reader sees "²", "¹" and "½"
    **{
        f"content-length byte {b!r}": H + b"Content-Length: %b\r\n\r\n{}" % b
        for b in (b"\xb2", b"\xb9", b"\xbd")
    },
    "content-length twice": H + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    **{
        f"chunk size {size!r}": chunked(size + b"\r\n" + b"hello\r\n0\r\n\r\n")
        for size in BAD_CHUNK_SIZES
    },
    "chunk data not followed by CRLF": chunked(b"5\r\nhelloXX0\r\n\r\n"),
    "LF-only chunk lines": chunked(b"5\nhello\n0\n\n"),
    "status 000": b"HTTP/1.1 000 Nothing\r\nContent-Length: 0\r\n\r\n",
    "status 99": b"HTTP/1.1 99 Low\r\nContent-Length: 0\r\n\r\n",
    "status 600": b"HTTP/1.1 600 High\r\nContent-Length: 0\r\n\r\n",
    "status 1000": b"HTTP/1.1 1000 High\r\nContent-Length: 0\r\n\r\n",
    "status 2OO": b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n",
    "two spaces before the status": b"HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n",
    "HTTP/2.0": b"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
    "HTTP/0.9": b"HTTP/0.9 200 OK\r\nContent-Length: 0\r\n\r\n",
    "lower-case http": b"http/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    "not http": b"SSH-2.0-OpenSSH_9.2\r\n",
    "ICY": b"ICY 200 OK\r\nContent-Length: 0\r\n\r\n",
    "LF-only head": b"HTTP/1.1 200 OK\nContent-Length: 2\n\n{}",
    "unsolicited 101 with Upgrade": b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\nConnection: upgrade\r\n\r\nraw bytes",
    "unsolicited bare 101": b"HTTP/1.1 101 Switching Protocols\r\n\r\nraw bytes",
    "endless 100 Continue": b"HTTP/1.1 100 Continue\r\n\r\n" * 20 + ok(),
    "header without colon": H + b"no colon here\r\nContent-Length: 0\r\n\r\n",
    "space in a header name": H + b"X A: b\r\nContent-Length: 0\r\n\r\n",
    "space before the colon": H + b"Content-Length : 2\r\n\r\n{}",
    "empty header name": H + b": b\r\nContent-Length: 0\r\n\r\n",
    "NUL in a header value": H + b"X-A: b\x00c\r\nContent-Length: 0\r\n\r\n",
    "bare CR in a header value": H + b"X-A: b\rc\r\nContent-Length: 0\r\n\r\n",
    "obs-fold": H + b"X-A: a\r\n b\r\nContent-Length: 0\r\n\r\n",
    "obs-fold Transfer-Encoding": H + b"Transfer-Encoding:\r\n chunked\r\n\r\n"
    b"5\r\nhello\r\n0\r\n\r\n",
    "201 header lines": H + b"X-A: b\r\n" * 201 + b"Content-Length: 0\r\n\r\n",
    "a 70 KB head": H + b"X-A: " + b"b" * 70_000 + b"\r\nContent-Length: 0\r\n\r\n",
    "Transfer-Encoding gzip": H + b"Transfer-Encoding: gzip\r\n\r\nhello",
    "Transfer-Encoding gzip, chunked": H + b"Transfer-Encoding: gzip, chunked\r\n\r\n"
    b"5\r\nhello\r\n0\r\n\r\n",
    "Transfer-Encoding chunked, gzip": H + b"Transfer-Encoding: chunked, gzip\r\n\r\n"
    b"hello",
    "Transfer-Encoding identity": H + b"Transfer-Encoding: identity\r\n\r\nhello",
    "chunked twice": H + b"Transfer-Encoding: chunked\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "chunked in HTTP/1.0": b"HTTP/1.0 200 OK\r\n"
    + JSON_TYPE
    + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "head cut short": b"HTTP/1.1 200 OK\r\nContent-Le",
    "closed without answering": b"",
    "body cut short of its length": H + b"Content-Length: 10\r\n\r\n12345",
    "chunked body cut mid-chunk": chunked(b"10\r\nhello"),
}


@pytest.mark.parametrize("answer", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_answer_is_a_clean_502_and_frees_the_slot(front, answer):
    front.hostile.plan.append(Step(answer))
    assert_ollama_502(post(front))
    assert front.settled()
    assert_next_request_is_answered_right(front, new_connection=True)


@pytest.mark.parametrize(
    "answer",
    [
        H + b"Content-Length: \xc2\xb2\r\n\r\n{}",
        chunked(b"0x5\r\nhello\r\n0\r\n\r\n"),
        b"HTTP/1.1 000 Nothing\r\nContent-Length: 0\r\n\r\n",
    ],
    ids=["content-length ²", "chunk size 0x5", "status 000"],
)
def test_a_malformed_answer_on_a_connection_left_open_leaves_the_pool(front, answer):
    front.hostile.plan.append(Step(answer, "keep"))
    assert_ollama_502(post(front))
    assert front.settled()
    assert_next_request_is_answered_right(front, new_connection=True)


def test_openai_routes_get_the_openai_error_shape(front):
    front.hostile.plan.append(Step(H + b"Content-Length: +2\r\n\r\n{}"))
    response = post(front, "/v1/chat/completions")
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["type"] == "api_error"
    assert error["message"].startswith("Ollama server 's' sent a malformed answer")
    assert front.settled()


def test_a_silent_chunk_that_never_ends_times_out_as_a_504(front):
    # 16 hex digits is a valid size to llhttp: the chunk never ends, the read
    # timeout does, before anything reached the client
    front.hostile.plan.append(Step(chunked(b"ffffffffffffffff\r\nhello"), "keep"))
    response = post(front)
    assert response.status_code == 504
    assert response.json()["error"].startswith("Ollama server 's' timed out")
    assert front.settled()
    assert_next_request_is_answered_right(front, new_connection=True)


# --- odd but valid answers are relayed ---------------------------------------------
VALID: dict[str, bytes] = {
    "100 Continue first": b"HTTP/1.1 100 Continue\r\n\r\n" + ok(),
    "103 Early Hints first": b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + ok(),
    "empty lines before the status": b"\r\n\r\n" + ok(),
    "no reason phrase": ok().replace(b"200 OK", b"200"),
    "Connection: close": ok(b'{"ok":true}', b"Connection: close\r\n"),
    "HTTP/1.0 read until close": b"HTTP/1.0 200 OK\r\n" + JSON_TYPE + b"\r\n"
    b'{"ok":true}',
}


@pytest.mark.parametrize("answer", VALID.values(), ids=VALID.keys())
def test_odd_but_valid_answers_are_relayed(front, answer):
    front.hostile.plan.append(Step(answer))
    response = post(front)
    assert (response.status_code, response.json()) == (200, {"ok": True})
    assert front.settled()
    assert_next_request_is_answered_right(front, new_connection=True)


# --- after the status: the stream ends with an error line ---------------------------
MID_STREAM: dict[str, bytes] = {
    "bad chunk size": chunked(chunk(LINE), b"0x5\r\nhello\r\n"),
    "16-hex-digit chunk size": chunked(chunk(LINE), b"ffffffffffffffff\r\nhello"),
    "chunk cut short": chunked(chunk(LINE), b"40\r\n" + LINE[:10]),
    "closed before the last chunk": chunked(chunk(LINE), chunk(LINE)),
    "junk instead of a chunk": chunked(chunk(LINE), b"HTTP/1.1 200 OK\r\n\r\n"),
}


@pytest.mark.parametrize("answer", MID_STREAM.values(), ids=MID_STREAM.keys())
def test_a_stream_broken_after_its_status_ends_with_an_error_line(front, answer):
    front.hostile.plan.append(Step(answer))
    with httpx.stream(
        "POST", front.url + "/api/chat", json={"model": "m"}, timeout=10
    ) as response:
        lines = [json.loads(line) for line in response.iter_lines()]
    assert response.status_code == 200
    assert lines[0] == json.loads(LINE)
    assert set(lines[-1]) == {"error"}
    assert lines[-1]["error"].startswith("upstream stream failed")
    assert front.settled()
    assert_next_request_is_answered_right(front, new_connection=True)


def test_an_sse_stream_broken_after_its_status_ends_with_an_error_event(front):
    event = b'data: {"choices":[{"delta":{"content":"w"}}]}\n\n'
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    answer = head + b"Transfer-Encoding: chunked\r\n\r\n" + chunk(event) + b"+5\r\n"
    front.hostile.plan.append(Step(answer))
    with httpx.stream(
        "POST", front.url + "/v1/chat/completions", json={"model": "m"}, timeout=10
    ) as response:
        events = [line for line in response.iter_lines() if line]
    assert response.status_code == 200
    assert events[0] == event.decode().strip()
    error = json.loads(events[-1].removeprefix("data: "))["error"]
    assert error["message"].startswith("upstream stream failed")
    assert front.settled()


def test_a_large_body_cut_short_of_its_length_aborts_the_client_connection(front):
    # past 256 KiB a body is relayed as it comes: a Content-Length body cannot
    # take an error line, so the client must see the cut
    body = b"x" * 300_000
    answer = H + b"Content-Length: 1000000\r\n\r\n" + body
    front.hostile.plan.append(Step(answer))
    with pytest.raises(httpx.RemoteProtocolError):
        post(front)
    assert front.settled()
    assert_next_request_is_answered_right(front, new_connection=True)


# --- answers never cross between clients ------------------------------------------
def test_bytes_after_an_answer_never_reach_the_next_client(front):
    for leftover in (b"junk", ok(b'{"stale":true}'), b"HTTP/1.1 200 OK\r\n"):
        front.hostile.plan.append(Step(ok() + leftover, "keep"))
        assert post(front).json() == {"ok": True}
        assert_next_request_is_answered_right(front, new_connection=True)


def test_bytes_sent_after_an_answer_was_relayed_are_seen_before_reuse(front):
    step = Step(ok(), "keep", late=ok(b'{"stale":true}'))
    front.hostile.plan.append(step)
    assert post(front).json() == {"ok": True}
    step.go.set()
    assert step.sent.wait(5)
    assert_next_request_is_answered_right(front, new_connection=True)


def test_chunked_with_a_content_length_is_read_by_its_chunks_and_not_reused(front):
    body = b'{"model":"m","done":true}'
    answer = (
        b"HTTP/1.1 200 OK\r\n" + JSON_TYPE + b"Transfer-Encoding: chunked\r\n"
        b"Content-Length: 5\r\n\r\n" + chunk(body) + b"0\r\n\r\n"
    )
    front.hostile.plan.append(Step(answer, "keep"))
    response = post(front)
    assert response.status_code == 200
    assert response.content == body  # whole: not cut at the 5 bytes announced
    assert "content-length" not in response.headers or int(
        response.headers["content-length"]
    ) == len(body)
    assert front.settled()
    assert_next_request_is_answered_right(front, new_connection=True)


def test_back_to_back_clients_each_get_their_own_answer(front):
    """Every answer is followed by a stale copy of itself: none may be served."""

    def echo(request: bytes) -> bytes:
        marker = json.loads(request.split(b"\r\n\r\n", 1)[1])["marker"]
        own = ok(json.dumps({"marker": marker}).encode())
        return own + own.replace(b'"marker"', b'"stale"')

    total = 60
    front.hostile.plan.extend(Step(echo, "keep") for _ in range(total))
    got: dict[str, Any] = {}

    def client(index: int) -> None:
        with httpx.Client(timeout=10) as http:
            for turn in range(total // 6):
                marker = f"{index}-{turn}"
                response = http.post(
                    front.url + "/api/show", json={"model": "m", "marker": marker}
                )
                got[marker] = (response.status_code, response.json())

    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == total
    assert all(answer == (200, {"marker": m}) for m, answer in got.items())
    assert front.settled()


def test_the_official_clients_show_the_gateway_error(front):
    front.hostile.plan.append(Step(H + b"Content-Length: \xb2\r\n\r\n{}"))
    with pytest.raises(ollama.ResponseError) as raised:
        ollama.Client(host=front.url).chat(model="m", messages=[], stream=False)
    assert raised.value.status_code == 502
    assert raised.value.error.startswith("Ollama server 's' sent a malformed answer")
    front.hostile.plan.append(Step(chunked(chunk(LINE), b"+5\r\nhello\r\n")))
    with pytest.raises(ollama.ResponseError, match="upstream stream failed"):
        for _ in ollama.Client(host=front.url).generate(model="m", stream=True):
            pass
    front.hostile.plan.append(Step(H + b"Content-Length: -1\r\n\r\n{}"))
    client = openai.OpenAI(base_url=front.url + "/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.APIStatusError) as failed:
        client.chat.completions.create(model="m", messages=[])
    client.close()
    assert failed.value.status_code == 502
    assert front.settled()
