"""The test server closes every response, even one whose client reset it."""

from __future__ import annotations

import gc
import socket
import struct
import threading
from collections.abc import Iterator

from ollama_webmgr.sim.serve import serve_in_thread
from waiting import wait_until

SIZE = 1000
ROUNDS = 20


class Body:
    """A response that says whether it was closed (like a file being sent)."""

    def __init__(self) -> None:
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        yield b"x" * SIZE

    def close(self) -> None:
        self.closed.set()


def test_a_response_reset_by_its_client_is_still_closed() -> None:
    bodies: list[Body] = []

    def app(environ, start_response):  # type: ignore[no-untyped-def]
        body = Body()
        bodies.append(body)
        start_response("200 OK", [("Content-Length", str(SIZE))])
        return body

    with serve_in_thread(app) as server:
        for _ in range(ROUNDS):
            client = socket.create_connection(("127.0.0.1", server.port))
            client.sendall(b"GET /file HTTP/1.1\r\nHost: localhost\r\n\r\n")
            received = b""
            while not received.endswith(b"x" * SIZE):
                received += client.recv(65536)
            # RST rather than FIN: the way a browser drops a download
            client.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            client.close()
        wait_until(lambda: len(bodies) == ROUNDS, what="every request")

        def all_closed() -> bool:
            gc.collect()  # a response the server let go of is closed when collected
            return all(b.closed.is_set() for b in bodies)

        wait_until(all_closed, what="every response closed")
