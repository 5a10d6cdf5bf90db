"""Scripted raw-socket servers: the upstream side of the gateway's HTTP tests.

A ``Scripted`` server runs one function per accepted connection; the function
reads raw request bytes with ``Reader`` and writes exactly the answer under
test, well-formed or not.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable

Script = Callable[[socket.socket, "Reader"], None]


class Reader:
    """The request side of one connection, read as a server would."""

    def __init__(self, sock: socket.socket) -> None:
        self.file = sock.makefile("rb")

    def request(self) -> bytes | None:
        """Head and body of the next request (``None`` once the client closed)."""
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = self.file.readline()
            if not line:
                return None
            head += line
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        if b"transfer-encoding: chunked" in head.lower():
            return head + self._chunked()
        return head + self.file.read(length)

    def _chunked(self) -> bytes:
        body = b""
        while size := int(self.file.readline().strip(), 16):
            body += self.file.read(size)
            self.file.readline()
        self.file.readline()
        return body


class Scripted:
    def __init__(self, script: Script, tls: ssl.SSLContext | None = None) -> None:
        self.script, self.tls = script, tls
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._run, args=(sock,), daemon=True).start()

    def _run(self, sock: socket.socket) -> None:
        try:
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_side=True)
            self.script(sock, Reader(sock))
        except OSError:
            pass
        finally:
            sock.close()

    def close(self) -> None:
        self.listener.close()
