"""Agent addresses, checked without importing gRPC (the manager stores them)."""

from __future__ import annotations

import re

from ollama_webmgr.errors import AgentUnavailable

_ADDRESS = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$")


def check_address(address: str) -> str:
    """``host:port`` (``[v6]:port`` for IPv6), as gRPC wants it.

    >>> check_address(" gpu-a:50051 ")
    'gpu-a:50051'
    >>> check_address("http://gpu-a")
    Traceback (most recent call last):
    ...
    ollama_webmgr.errors.AgentUnavailable: invalid agent address 'http://gpu-a' (expected host:port)
    """
    text = address.strip()
    match = _ADDRESS.match(text)
    if not match or not 0 < int(match.group(2)) < 65536:
        raise AgentUnavailable(
            f"invalid agent address {address!r} (expected host:port)"
        )
    return text
