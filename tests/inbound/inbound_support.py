"""Raw-socket helpers for the request battery against ``ollama-webmgr serve``.

Only ever 127.0.0.1; every read has a deadline.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.wsgi import get_input_stream

from process_env import clean_env

# Short limits so that the battery sees them act within seconds.
NODE_MODELS = ("smollm2:135m",)
PULLED = "all-minilm:latest"  # "46 MB": a few seconds at "12 MB/s" (both scaled)
LIMITS = {
    "HTTP_HEAD_TIMEOUT": "1.0",
    "HTTP_IDLE_TIMEOUT": "1.0",
    "HTTP_MAX_CONNECTIONS": "40",
    "MAX_BODY_SIZE": "65536",
    "ALLOWED_HOSTS": "webmgr.test",
}


@dataclass
class Served:
    """The real ``serve`` process: web and gateway ports, one process."""

    web: int
    gateway: int
    process: subprocess.Popen[str]

    def descriptors(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))


@contextlib.contextmanager
def serving(tmp: Path, node_url: str, **env: str) -> Iterator[Served]:
    environ = clean_env() | {
        "HOME": str(tmp),
        "SECRET_KEY": "battery",
        "OLLAMA_BASE_URL": node_url,
        "WEBMGR_DATA_DIR": str(tmp / "data"),
        "LOG_LEVEL": "WARNING",
        **LIMITS,
        **env,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ollama_webmgr",
            "serve",
            "--port",
            "0",
            "--gateway-port",
            "0",
        ],
        cwd=tmp,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        web = process.stdout.readline().rsplit(":", 1)[1].strip(" /\n")
        gateway = process.stdout.readline().rsplit(":", 1)[1].strip(" /\n")
        yield Served(int(web), int(gateway), process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Reader:
    """Responses read off one socket, framed as HTTP/1.1 frames them."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.closed = False

    def _more(self) -> None:
        try:
            data = self.sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            data = b""
        if not data:
            self.closed = True
        self.buffer += data

    def _line(self) -> bytes | None:
        while b"\r\n" not in self.buffer:
            if self.closed:
                return None
            self._more()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _exactly(self, size: int) -> bytes:
        while len(self.buffer) < size and not self.closed:
            self._more()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def answer(self, *, head: bool = False) -> Answer | None:
        """The next response, None when the server closed first."""
        line = self._line()
        while line == b"":  # nothing: the connection's end
            line = self._line()
        if line is None:
            return None
        status = int(line.split(b" ", 2)[1])
        headers: dict[str, str] = {}
        while (field := self._line()) not in (b"", None):
            name, _, value = field.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if head or status in (204, 304) or status < 200:
            return Answer(status, headers, b"")
        if "content-length" in headers:
            body = self._exactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            body = b""
            while size := int((self._line() or b"0").split(b";")[0], 16):
                body += self._exactly(size)
                self._line()
            self._line()
        else:
            while not self.closed:
                self._more()
            body, self.buffer = self.buffer, b""
        return Answer(status, headers, body)

    def answers(self) -> list[Answer]:
        """Every response until the server closes (or stays silent 2 s)."""
        found = []
        while (answer := self.answer()) is not None:
            found.append(answer)
        return found

    def is_closed(self, wait: float = 2.0) -> bool:
        if self.closed:
            return True
        self.sock.settimeout(wait)
        self._more()
        return self.closed


def exchange(port: int, data: bytes, timeout: float = 5.0) -> tuple[list[Answer], bool]:
    """Send ``data`` at once; every answer until the close, and whether it came."""
    with connect(port, timeout) as sock:
        sock.sendall(data)
        reader = Reader(sock)
        found = reader.answers()
        return found, reader.closed


class BlobNode:
    """An Ollama node that only takes blobs: it hashes each upload as it comes
    (201, or 400 on a digest mismatch, as Ollama answers)."""

    def __init__(self) -> None:
        self.blobs: set[str] = set()
        self.targets: list[str] = []  # as received, percent-encoding kept

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
        self.targets.append(environ["REQUEST_URI"])
        status, body = "404 Not Found", b"404 page not found"
        if path == "/api/version":
            status, body = "200 OK", b'{"version":"0.12.0"}'
        elif path in ("/api/tags", "/api/ps"):
            status, body = "200 OK", b'{"models":[]}'
        elif path.startswith("/api/blobs/") and method == "POST":
            digest = hashlib.sha256()
            stream = get_input_stream(environ)  # bounded by its length
            while block := stream.read(65536):
                digest.update(block)
            name = path.rsplit("/", 1)[1]
            if name == "sha256:" + digest.hexdigest():
                self.blobs.add(name)
                status, body = "201 Created", b""
            else:
                status, body = "400 Bad Request", b'{"error":"digest mismatch"}'
        elif method == "HEAD" and path.rsplit("/", 1)[1] in self.blobs:
            status, body = "200 OK", b""
        start_response(status, [("Content-Length", str(len(body)))])
        return [body]
