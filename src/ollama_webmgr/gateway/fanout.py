"""Pull, delete and copy on several servers at once.

Policy (see docs): an ``X-Ollama-Servers`` request header (``name,name`` or
``all``) chooses the servers; without it a pull goes to every healthy server,
a delete or copy to every healthy server that has the model. The servers'
pull progress is merged into one stream in Ollama's format: per blob, ``total``
and ``completed`` are summed over the servers; other statuses appear once;
``success`` only when every server succeeded; otherwise the stream ends with
one ``{"error": ...}`` line.

>>> merger = PullMerger(["a", "b"])
>>> merger.feed("a", {"status": "pulling manifest"})
[{'status': 'pulling manifest'}]
>>> merger.feed("b", {"status": "pulling manifest"})
[]
>>> merger.feed("a", {"status": "pulling 0123456789ab", "digest": "sha256:0123456789ab", "total": 10, "completed": 4})
[{'status': 'pulling 0123456789ab', 'digest': 'sha256:0123456789ab', 'total': 20, 'completed': 4}]
>>> merger.feed("a", {"status": "success"})
[]
>>> merger.finish("b", None)
[]
>>> merger.final()
{'status': 'success'}
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import urllib3

from ollama_webmgr.cluster.servers import Server

Line = dict[str, Any]


class PullMerger:
    """Turns the progress lines of N servers into one Ollama-shaped stream."""

    def __init__(self, servers: Sequence[str]) -> None:
        self._servers = list(servers)
        self._seen: set[str] = set()
        self._sizes: dict[str, int] = {}
        self._done: dict[tuple[str, str], int] = {}  # (server, digest) -> bytes
        self._current: dict[str, str] = {}  # server -> digest being pulled
        self._errors: dict[str, str] = {}

    def feed(self, server: str, line: Line) -> list[Line]:
        if line.get("error"):
            self._errors[server] = str(line["error"])
            return []
        digest = line.get("digest")
        self._complete_previous(server, digest)
        if isinstance(digest, str) and isinstance(line.get("total"), int):
            self._sizes[digest] = line["total"]
            self._done[server, digest] = int(line.get("completed") or 0)
            self._current[server] = digest
            return [self._progress(str(line.get("status", "")), digest)]
        status = str(line.get("status", ""))
        if status == "success" or status in self._seen:
            return []
        self._seen.add(status)
        return [dict(line)]

    def finish(self, server: str, error: str | None) -> list[Line]:
        """A server's stream ended (``error``: why it failed, if it did)."""
        if error:
            self._errors.setdefault(server, error)
        self._complete_previous(server, None)
        return []

    def final(self) -> Line:
        """The last line: ``success`` or one error naming the failed servers."""
        if not self._errors:
            return {"status": "success"}
        messages = set(self._errors.values())
        if len(messages) == 1 and len(self._errors) == len(self._servers):
            return {"error": messages.pop()}  # same answer everywhere: keep it as is
        return {
            "error": "; ".join(f"{name}: {msg}" for name, msg in self._errors.items())
        }

    def _complete_previous(self, server: str, digest: Any) -> None:
        # Ollama may never send a 100 % line: moving on means the blob is done.
        previous = self._current.get(server)
        if previous is not None and previous != digest:
            self._done[server, previous] = self._sizes[previous]
            del self._current[server]

    def _progress(self, status: str, digest: str) -> Line:
        completed = sum(self._done.get((s, digest), 0) for s in self._servers)
        total = self._sizes[digest] * len(self._servers)
        return {
            "status": status,
            "digest": digest,
            "total": total,
            "completed": completed,
        }


def _pull_one(
    pool: urllib3.PoolManager,
    server: Server,
    body: bytes,
    headers: dict[str, str],
    timeout: urllib3.Timeout,
    out: queue.SimpleQueue[tuple[str, Line | None, str | None]],
    cancel: threading.Event,
) -> None:
    """Run one server's pull, posting ``(server, line, None)`` then ``(server, None, error)``."""
    error: str | None = None
    response = None
    try:
        response = pool.urlopen(
            "POST",
            server.url + "/api/pull",
            body=body,
            headers=headers,
            timeout=timeout,
            retries=False,
            preload_content=False,
        )
        pending = b""
        for chunk in response.stream(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                if raw.strip():
                    out.put((server.name, json.loads(raw), None))
            if cancel.is_set():
                return
        if pending.strip():
            line = json.loads(pending)
            if response.status >= 400:
                error = str(line.get("error") or f"HTTP {response.status}")
            else:
                out.put((server.name, line, None))
    except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
        error = f"pull failed: {exc}"
    finally:
        if response is not None:
            response.close()
        out.put((server.name, None, error))


def merged_pull(
    pool: urllib3.PoolManager,
    servers: Sequence[Server],
    body: bytes,
    headers: dict[str, str],
    timeout: urllib3.Timeout,
    cancel: threading.Event,
) -> Iterator[Line]:
    """Pull on every server at once and yield the merged lines, the final one last."""
    out: queue.SimpleQueue[tuple[str, Line | None, str | None]] = queue.SimpleQueue()
    for server in servers:
        threading.Thread(
            target=_pull_one,
            args=(pool, server, body, headers, timeout, out, cancel),
            daemon=True,
        ).start()
    merger = PullMerger([s.name for s in servers])
    running = len(servers)
    while running:
        name, line, error = out.get()
        if line is None:
            running -= 1
            yield from merger.finish(name, error)
        else:
            yield from merger.feed(name, line)
    yield merger.final()
