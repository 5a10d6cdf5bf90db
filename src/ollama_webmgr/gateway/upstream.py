"""The gateway's pooled upstream client: urllib3, with small read buffers.

``http.client`` reads every response through an 8 KiB buffer. Ollama's answers
are streamed lines or small JSON bodies, and larger reads go past the buffer;
with a thousand streams open, 2 KiB keeps ~4 MB less resident.
"""

from __future__ import annotations

import http.client
import socket
from typing import Any, cast

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

READ_BUFFER = 2048


class _SmallReads:
    """All ``http.client.HTTPResponse`` takes of its socket: ``makefile``."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def makefile(self, mode: str) -> Any:
        if mode != "rb":  # all http.client asks for
            raise ValueError(f"unexpected file mode {mode!r}")
        return self._sock.makefile("rb", READ_BUFFER)


class SmallBufferResponse(http.client.HTTPResponse):
    def __init__(
        self,
        sock: socket.socket,
        debuglevel: int = 0,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(
            cast(socket.socket, _SmallReads(sock)), debuglevel, method, url
        )


class _Connection(HTTPConnection):
    response_class = SmallBufferResponse


class _TLSConnection(HTTPSConnection):
    response_class = SmallBufferResponse


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _TLSConnection


def upstream_pool() -> urllib3.PoolManager:
    """Connections kept per server: up to 256 idle ones (more may be open)."""
    manager = urllib3.PoolManager(num_pools=64, maxsize=256)
    manager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}
    return manager
