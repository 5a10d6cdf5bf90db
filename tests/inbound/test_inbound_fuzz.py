"""A small, bounded, seeded fuzz of request heads and bodies on both ports:
no input may get a 5xx, and each port still serves afterwards.

Mutations of valid requests (bytes flipped, inserted or dropped, control
bytes, duplicated or split headers, chunk lines rewritten): the shapes that
tripped hand-written parsers. Seeded, so a failure replays.
"""

from __future__ import annotations

import random

import pytest
from inbound_support import exchange

SEEDS = range(120)
BASES = [
    b"GET /api/tags?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n",
    b"POST /api/show HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    b'Content-Length: 17\r\n\r\n{"model":"qwen"}\n',
    b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
    b'Content-Type: application/json\r\n\r\n5\r\n{"a":\r\n2\r\n1}\r\n0\r\n\r\n',
    b"POST /api/servers HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: 2\r\n\r\n{}",
]
SPECIAL = [
    b"\r",
    b"\n",
    b"\r\n",
    b" ",
    b"\t",
    b"\x00",
    b"\x7f",
    b"\xff",
    b":",
    b";",
    b",",
    b"%",
    b"%00",
    b"0",
    b"F" * 17,
    b"-",
    b"+",
    b"\r\n ",
    b'"',
    b"{" * 50,
]


def mutate(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(out) + 1)
        kind = rng.randrange(5)
        if kind == 0 and out:
            out[min(at, len(out) - 1)] = rng.randrange(256)
        elif kind == 1:
            out[at:at] = rng.choice(SPECIAL)
        elif kind == 2 and out:
            del out[at : at + rng.randint(1, 8)]
        elif kind == 3:
            line = rng.choice(
                [
                    b"Content-Length: 5\r\n",
                    b"Transfer-Encoding: chunked\r\n",
                    b"Host: evil.example\r\n",
                    b"Host: 127.0.0.1\r\n",
                    b"Expect: 100-continue\r\n",
                    b"Connection: close\r\n",
                ]
            )
            head_end = out.find(b"\r\n") + 2
            out[head_end:head_end] = line
        else:
            out += rng.choice(BASES)  # pipelined after the broken one
    return bytes(out)


@pytest.mark.parametrize("side", ["web", "gateway"])
def test_fuzzed_requests_never_get_a_5xx(served: object, side: str) -> None:
    port = getattr(served, side)
    statuses: dict[int, int] = {}
    for seed in SEEDS:
        rng = random.Random(seed)
        data = mutate(rng, rng.choice(BASES)) + b"\r\n"
        answers, _ = exchange(port, data, timeout=0.5)
        for answer in answers:
            statuses[answer.status] = statuses.get(answer.status, 0) + 1
            assert answer.status < 500, (
                seed,
                data,
                answer.status,
                answer.body[:200],
            )
    assert sum(statuses.values()) >= len(SEEDS) // 2, statuses
    healthy, _ = exchange(
        port, b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    assert healthy[0].status == 200
