"""One upstream answer, parsed by llhttp (``httptools``), read as it arrives.

llhttp is Node's HTTP parser, fuzzed industry-wide: it refuses what our own
line parsing let through (chunk sizes ``0x5``, ``+5``, ``1_0``, Unicode digits
in ``Content-Length``, obs-folded or space-padded header lines, LF-only
lines). Around it this module keeps what llhttp leaves to its caller:

* the answer must be one the gateway can relay: HTTP/1.0 or 1.1, a status
  from 200 to 599 after any interim ``1xx`` (an unsolicited ``101`` is an
  error), and no transfer coding but ``chunked`` (RFC 9112 §6.1, §7.4: we
  send no ``TE``, so a server may not apply ``gzip`` or any other; an HTTP/1.0
  answer with ``Transfer-Encoding`` has faulty framing);
* ``Transfer-Encoding`` and ``Content-Length`` together: framed by the first
  (RFC 9112 §6.3), the second dropped so it is never forwarded, and the
  connection closed afterwards (§6.1);
* a connection is reused only when nothing followed the answer: bytes after
  its end (pipelined junk, a second answer) make it leave the pool. Bare
  CR/LF between messages are skipped by llhttp itself (RFC 9112 §2.2);
* the head is bounded (``MAX_HEAD`` bytes, ``MAX_HEADERS`` lines, a few
  interim answers), and the end of a read-until-close body is its EOF (llhttp
  cannot be told, through ``httptools``, that the input ended).

A chunked body comes out chunk by chunk (a chunk is yielded once whole, or
every ``BLOCK`` bytes of a large one), other bodies as they are received.
Every failure is an ``OSError``: ``UpstreamProtocolError`` for a malformed
answer, ``ConnectionResetError`` for one cut short, the socket's own errors.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import httptools

BLOCK = 65536
MAX_HEAD = 65536  # bytes of status line and headers, interim answers included
MAX_HEADERS = 200
MAX_INTERIM = 8


class UpstreamProtocolError(OSError):
    """The server's answer is not valid HTTP/1.x, or not one we can relay."""


class NoAnswer(ConnectionResetError):
    """The connection ended before the first byte of an answer."""


class _Stop(Exception):
    """Stops llhttp after a HEAD answer's head: its length is not a body's."""


class _After(Exception):
    """Stops llhttp at bytes that follow the answer: not ours to read."""


class _Answer:
    """llhttp's callbacks for one answer (and the interim ones before it)."""

    __slots__ = (
        "chunked",
        "connection",
        "done",
        "error",
        "head_done",
        "head_only",
        "head_size",
        "headers",
        "interim",
        "parser",
        "partial",
        "partial_size",
        "ready",
        "reason",
        "reusable",
        "until_close",
    )

    def __init__(self, head_only: bool) -> None:
        self.parser = httptools.HttpResponseParser(self)
        # Transfer-Encoding overrides Content-Length (RFC 9112 §6.3); the
        # connection is then closed and the length dropped (on_headers_complete)
        self.parser.set_dangerous_leniencies(lenient_chunked_length=True)
        self.head_only = head_only
        self.reason = b""
        self.headers: list[tuple[str, str]] = []
        self.head_done = self.done = self.chunked = self.until_close = False
        self.reusable = False
        self.connection: frozenset[str] = frozenset()
        self.ready: list[bytes] = []  # body pieces to hand out
        self.partial: list[bytes] = []  # the chunk being received
        self.partial_size = 0
        self.interim = 0
        self.head_size = 0  # bytes of header names and values, interim ones too
        self.error: OSError | None = None

    # --- llhttp callbacks ----------------------------------------------------
    def on_message_begin(self) -> None:
        if self.done:
            raise _After

    def on_status(self, data: bytes) -> None:
        self.reason += data

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.head_done:
            return  # a trailer: nothing the relay forwards
        if len(self.headers) >= MAX_HEADERS:
            raise UpstreamProtocolError("too many header lines")
        self.head_size += len(name) + len(value)
        if self.head_size > MAX_HEAD:
            raise UpstreamProtocolError("answer head too large")
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 100 or status > 599:
            raise UpstreamProtocolError(f"invalid status {status:03d}")
        if status < 200:
            if status == 101:
                raise UpstreamProtocolError("unsolicited 101 (protocol switch)")
            return  # interim (100, 102, 103): skipped at its message end
        self._framing(self.parser.get_http_version())
        self.head_done = True
        if self.head_only:
            self.done = True
            raise _Stop  # a HEAD answer has no body, whatever its length says

    def on_body(self, data: bytes) -> None:
        if not self.chunked:
            self.ready.append(data)
            return
        self.partial.append(data)
        self.partial_size += len(data)
        if self.partial_size >= BLOCK:
            self.on_chunk_complete()

    def on_chunk_complete(self) -> None:
        if self.partial:
            piece = (
                self.partial[0] if len(self.partial) == 1 else b"".join(self.partial)
            )
            self.ready.append(piece)
            self.partial = []
            self.partial_size = 0

    def on_message_complete(self) -> None:
        if not self.head_done:  # the end of an interim answer
            self.interim += 1
            if self.interim > MAX_INTERIM:
                raise UpstreamProtocolError("too many interim answers")
            self.headers, self.reason = [], b""
            return
        self.done = True

    # --- checks ----------------------------------------------------------------
    def _framing(self, version: str) -> None:
        """Read the framing headers once; refuse what cannot be relayed."""
        if version not in ("1.1", "1.0"):
            raise UpstreamProtocolError(f"unsupported HTTP version {version}")
        codings: list[str] = []
        tokens: list[str] = []
        has_length = False
        for name, value in self.headers:
            key = name.lower()
            if key == "transfer-encoding":
                codings += [c.strip().lower() for c in value.split(",")]
            elif key == "content-length":
                has_length = True
            elif key == "connection":
                tokens += [t.strip().lower() for t in value.split(",")]
        self.connection = frozenset(tokens)
        self.reusable = self.parser.should_keep_alive()
        if codings:
            if codings != ["chunked"]:
                raise UpstreamProtocolError(
                    f"unsupported transfer coding {', '.join(codings)!r}"
                )
            if version == "1.0":
                raise UpstreamProtocolError("Transfer-Encoding in an HTTP/1.0 answer")
            self.chunked = True
            if has_length:  # never forwarded, never trusted again
                self.reusable = False
                self.headers = [
                    (k, v) for k, v in self.headers if k.lower() != "content-length"
                ]
        else:
            status = self.parser.get_status_code()
            self.until_close = not (
                has_length or self.head_only or status in (204, 304)
            )

    # --- feeding -----------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        """Parse ``data``; a malformed answer is kept in ``error``."""
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            if self.done:
                if not isinstance(exc.__context__, _Stop):
                    self.reusable = False  # something followed the answer
                return
            cause = exc.__context__
            if isinstance(cause, UpstreamProtocolError):
                self.error = cause
            else:
                self.error = UpstreamProtocolError(str(exc))

    def end(self) -> None:
        """The server closed the connection: the end of a read-until-close body."""
        if not (self.head_done and self.until_close):
            raise ConnectionResetError("the answer ended before its end")
        self.done = True


def read_head(sock: socket.socket, method: str) -> _Answer:
    """Receive until the answer's head is parsed (the body may have begun)."""
    answer = _Answer(head_only=method == "HEAD")
    received = 0
    kept: list[bytes] = []  # a HEAD answer's bytes: see _ends_at_its_head
    while not answer.head_done:
        try:
            data = sock.recv(BLOCK)
        except ConnectionResetError:
            data = b""
        if not data:
            if received == 0:
                raise NoAnswer("the server closed the connection without answering")
            raise ConnectionResetError("the answer ended within its head")
        received += len(data)
        if answer.head_only:
            kept.append(data)
        answer.feed(data)
        if answer.head_done:
            break  # an error in the body is raised by Response.chunks
        if answer.error is not None:
            raise answer.error
        if received > MAX_HEAD:
            raise UpstreamProtocolError("answer head too large")
    if answer.head_only and answer.reusable:
        answer.reusable = _ends_at_its_head(b"".join(kept))
    return answer


def _ends_at_its_head(data: bytes) -> bool:
    """Whether a HEAD answer's head ends with the bytes received.

    llhttp is stopped at the head of a HEAD answer (its length describes a body
    that is not sent), so it cannot say whether bytes followed. The head ends
    on its last byte exactly when one byte less is not a whole head.
    """
    shorter = _Answer(head_only=True)
    shorter.feed(data[:-1])
    return not shorter.head_done


class Response:
    """One answer: status and headers read, the body read by ``chunks``/``read``.

    ``release`` hands the connection back once the body was read to its end
    and nothing followed it; ``close`` drops it (an answer read halfway, or
    broken, is never reused).
    """

    def __init__(
        self,
        sock: socket.socket,
        answer: _Answer,
        keep: Callable[[socket.socket], None],
    ) -> None:
        self.status = answer.parser.get_status_code()
        self.reason = answer.reason.decode("latin-1")
        self.headers = answer.headers
        self.connection = answer.connection  # tokens of its Connection header
        self.chunked = answer.chunked
        self._answer = answer
        self._sock: socket.socket | None = sock
        self._keep = keep

    @property
    def complete(self) -> bool:
        """The body was read to its end."""
        return self._answer.done and not self._answer.ready

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive)."""
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def chunks(self) -> Iterator[bytes]:
        """The body as it arrives: each chunk of a chunked answer, else blocks."""
        answer, sock = self._answer, self._sock
        if sock is None:
            return
        while True:
            if answer.ready:
                ready, answer.ready = answer.ready, []
                yield from ready
            if answer.error is not None:
                raise answer.error
            if answer.done:
                return
            data = sock.recv(BLOCK)
            if data:
                answer.feed(data)
            else:
                answer.end()

    def read(self) -> bytes:
        """The whole body; the connection goes back to the idle list."""
        try:
            data = b"".join(self.chunks())
        except BaseException:
            self.close()
            raise
        self.release()
        return data

    def release(self) -> None:
        sock, self._sock = self._sock, None
        if sock is None:
            return
        if self.complete and self._answer.reusable:
            self._keep(sock)
        else:
            sock.close()

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
