"""Request smuggling and framing, on both ports, with raw sockets.

Each case is sent followed, in the same write, by a request for ``/``: a
server that parses the case the way a front proxy might not would answer
more (or other) requests than were meant. The cases are the graded classes
of request smuggling (CL.TE, TE.CL, TE.TE obfuscations, duplicate and
malformed lengths, obs-fold, line ends, chunk lines: the "funky chunks"),
plus a few lawful spellings that must be served, never desynchronised.
"""

from __future__ import annotations

import pytest
from inbound_support import exchange

FOLLOW = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
HEAD = b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def post(*headers: bytes, body: bytes = b"") -> bytes:
    return HEAD + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body


CHUNKED = b"Transfer-Encoding: chunked"
# name -> (request, status of the refusal)
REFUSED: dict[str, tuple[bytes, int]] = {
    # Content-Length and Transfer-Encoding together (RFC 9112 §6.3)
    "01 CL.TE": (
        post(b"Content-Length: 6", CHUNKED, body=b"0\r\n\r\n" + SMUGGLED),
        400,
    ),
    "02 TE.CL": (post(CHUNKED, b"Content-Length: 4", body=b"5c\r\n" + SMUGGLED), 400),
    "03 CL.TE obfuscated TE": (
        post(b"Content-Length: 4", b"Transfer-Encoding: xchunked", body=SMUGGLED),
        400,
    ),
    # Transfer-Encoding obfuscations (TE.TE)
    "04 TE space before colon": (
        post(b"Transfer-Encoding : chunked", body=b"0\r\n\r\n" + SMUGGLED),
        400,
    ),
    "05 TE xchunked": (post(b"Transfer-Encoding: xchunked", body=SMUGGLED), 400),
    "06 TE identity": (post(b"Transfer-Encoding: identity", body=SMUGGLED), 400),
    "07 TE chunked then gzip": (
        post(b"Transfer-Encoding: chunked, gzip", body=SMUGGLED),
        400,
    ),
    "08 TE gzip then chunked": (
        post(b"Transfer-Encoding: gzip, chunked", body=b"0\r\n\r\n" + SMUGGLED),
        501,
    ),
    "09 TE twice": (post(CHUNKED, CHUNKED, body=b"0\r\n\r\n" + SMUGGLED), 400),
    "10 TE obs-fold": (
        post(b"Transfer-Encoding:", b" chunked", body=b"0\r\n\r\n" + SMUGGLED),
        400,
    ),
    "11 TE vertical tab": (
        post(b"Transfer-Encoding:\x0bchunked", body=b"0\r\n\r\n" + SMUGGLED),
        400,
    ),
    "12 TE in HTTP/1.0": (
        b"POST / HTTP/1.0\r\nHost: 127.0.0.1\r\n"
        + CHUNKED
        + b"\r\n\r\n0\r\n\r\n"
        + SMUGGLED,
        400,
    ),
    "13 TE quoted": (
        post(b'Transfer-Encoding: "chunked"', body=b"0\r\n\r\n" + SMUGGLED),
        400,
    ),
    # Content-Length
    "14 CL twice, same": (
        post(b"Content-Length: 3", b"Content-Length: 3", body=b"abc" + SMUGGLED),
        400,
    ),
    "15 CL twice, different": (
        post(b"Content-Length: 3", b"Content-Length: 40", body=b"abc" + SMUGGLED),
        400,
    ),
    "16 CL list": (post(b"Content-Length: 3, 3", body=b"abc" + SMUGGLED), 400),
    "17 CL plus sign": (post(b"Content-Length: +3", body=b"abc" + SMUGGLED), 400),
    "18 CL negative": (post(b"Content-Length: -1", body=SMUGGLED), 400),
    "19 CL hex": (post(b"Content-Length: 0x3", body=b"abc" + SMUGGLED), 400),
    "20 CL inner space": (post(b"Content-Length: 1 0", body=b"abc" + SMUGGLED), 400),
    "21 CL overflow": (
        post(b"Content-Length: 99999999999999999999999", body=SMUGGLED),
        400,
    ),
    "22 CL space before colon": (
        post(b"Content-Length : 3", body=b"abc" + SMUGGLED),
        400,
    ),
    # line folding and line ends
    "23 obs-fold": (
        post(b"X-A: 1", b" folded", b"Content-Length: 0", body=SMUGGLED),
        400,
    ),
    "24 LF-only head": (b"GET / HTTP/1.1\nHost: 127.0.0.1\n\n" + SMUGGLED, 400),
    "25 bare CR in a value": (
        post(b"X-A: a\rb", b"Content-Length: 0", body=SMUGGLED),
        400,
    ),
    "26 NUL in a value": (
        post(b"X-A: a\x00b", b"Content-Length: 0", body=SMUGGLED),
        400,
    ),
    # chunk lines ("funky chunks")
    "27 chunk size, leading space": (
        post(CHUNKED, body=b" 2\r\nab\r\n0\r\n\r\n" + SMUGGLED),
        400,
    ),
    "28 chunk size, trailing space": (
        post(CHUNKED, body=b"2 \r\nab\r\n0\r\n\r\n" + SMUGGLED),
        400,
    ),
    "29 chunk extension, bare CR": (
        post(CHUNKED, body=b"2;a\rb\r\nab\r\n0\r\n\r\n" + SMUGGLED),
        400,
    ),
    "30 chunk lines, LF only": (post(CHUNKED, body=b"2\nab\n0\n\n" + SMUGGLED), 400),
    "31 chunk size 0x prefix": (
        post(CHUNKED, body=b"0x2\r\nab\r\n0\r\n\r\n" + SMUGGLED),
        400,
    ),
    "32 chunk size, 17 hex digits": (
        post(CHUNKED, body=b"1" + b"0" * 16 + b"\r\nab\r\n" + SMUGGLED),
        400,
    ),
    "33 chunk size negative": (post(CHUNKED, body=b"-1\r\nab\r\n" + SMUGGLED), 400),
    "34 chunk data past its size": (
        post(CHUNKED, body=b"2\r\nabcd\r\n0\r\n\r\n" + SMUGGLED),
        400,
    ),
    "35 chunk size, 16 hex digits": (
        post(CHUNKED, body=b"FFFFFFFFFFFFFFFF\r\n" + b"x" * 1_100_000 + SMUGGLED),
        413,
    ),
    # request line
    "36 NUL in the target": (
        b"GET /a\x00b HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + SMUGGLED,
        400,
    ),
    "40 space before the first header": (
        b"GET / HTTP/1.1\r\n Host: 127.0.0.1\r\n\r\n" + SMUGGLED,
        400,
    ),
    "37 HTTP/2.0 line": (b"GET / HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n" + SMUGGLED, 505),
    "38 CONNECT": (
        b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n" + SMUGGLED,
        400,
    ),
    "39 Upgrade smuggles bytes": (
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"
        + SMUGGLED,
        200,
    ),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_smuggling_shapes_are_refused_and_nothing_more_is_served(
    port: int, name: str
) -> None:
    data, status = REFUSED[name]
    answers, closed = exchange(port, data + FOLLOW)
    assert [a.status for a in answers] == [status], name
    assert closed  # the rest of the stream is never read as requests
    assert answers[0].headers["connection"] == "close"
    assert b"Traceback" not in answers[0].body


# lawful spellings: served, and the next request is read exactly where it starts
SERVED: dict[str, bytes] = {
    "chunked, with extensions and a trailer": post(
        CHUNKED,
        b"Content-Type: application/json",
        body=b"2;a=b\r\n{}\r\n0\r\nX-Trailer: 1\r\n\r\n",
    ),
    "TE with a tab": post(b"Transfer-Encoding:\tchunked", body=b"0\r\n\r\n"),
    "TE upper case": post(b"Transfer-Encoding: CHUNKED", body=b"0\r\n\r\n"),
    "GET with a body that looks like a request": (
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n"
        % len(SMUGGLED)
        + SMUGGLED
    ),
    "leading empty lines": b"\r\n\r\n" + b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "HTTP/1.0 keep-alive": b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "expect 100-continue": post(
        b"Content-Length: 2",
        b"Expect: 100-continue",
        b"Content-Type: application/json",
        body=b"{}",
    ),
}


@pytest.mark.parametrize("name", sorted(SERVED))
def test_lawful_framing_is_served_without_desynchronising(port: int, name: str) -> None:
    answers, closed = exchange(port, SERVED[name] + FOLLOW)
    statuses = [a.status for a in answers if a.status != 100]
    assert len(statuses) == 2, (name, statuses)
    assert all(s < 500 for s in statuses)
    assert statuses[1] == 200  # the follow-up, read where it starts
    assert closed
