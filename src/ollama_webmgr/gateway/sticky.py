"""Conversation stickiness: the same conversation goes back to the same server.

A conversation is named by the ``X-Ollama-Session`` header, or else by the model
and the first message, which stay the same for every turn.

>>> table = StickyTable()
>>> key = conversation_key(None, "llama3.2", {"messages": [{"role": "user", "content": "hi"}]})
>>> table.remember(key, "gpu-1", size=10); table.get(key)
'gpu-1'
>>> conversation_key("abc", "m", None), conversation_key(None, "m", {"prompt": "x"})
('abc', None)
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any


def conversation_key(header: str | None, model: str | None, data: Any) -> str | None:
    if header:
        return header
    messages = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(messages, list) or not messages:
        return None
    seed = json.dumps([model, messages[0]], sort_keys=True, default=str)
    return hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()


class StickyTable:
    """Bounded, least-recently-used map conversation -> server name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._servers: OrderedDict[str, str] = OrderedDict()

    def get(self, key: str) -> str | None:
        return self._servers.get(key)

    def remember(self, key: str, server: str, *, size: int) -> None:
        with self._lock:
            self._servers[key] = server
            self._servers.move_to_end(key)
            while len(self._servers) > size:
                self._servers.popitem(last=False)
