"""Pull, create, delete and copy on several servers at once.

Policy (see docs): an ``X-Ollama-Servers`` request header (``name,name`` or
``all``) chooses the servers; without it a pull or a create goes to every
healthy server, a delete or copy to every healthy server that has the model.
The servers' progress is merged into one stream in Ollama's format: per blob,
``total`` and ``completed`` are summed over the servers; other statuses appear
once; ``success`` only when every server succeeded; otherwise the stream ends
with one ``{"error": ...}`` line (``failed_status``: the HTTP status to answer
when that error is all there is).

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
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.gateway.upstream import Timeouts, Upstream

Line = dict[str, Any]


class PullMerger:
    """Turns the progress lines of N servers into one Ollama-shaped stream."""

    def __init__(self, servers: Sequence[str], *, everyone_pulls: bool = True) -> None:
        self._servers = list(servers)
        # a pull fetches every blob everywhere; a create pulls only where the
        # source model is missing, so only the servers that report a blob count
        self._everyone_pulls = everyone_pulls
        self._statuses: dict[str, int] = {}  # server -> HTTP status of its failure
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

    def finish(self, server: str, error: str | None, status: int = 500) -> list[Line]:
        """A server's stream ended (``error``: why it failed, with its HTTP status)."""
        if error:
            self._errors.setdefault(server, error)
            self._statuses.setdefault(server, status)
        self._complete_previous(server, None)
        return []

    @property
    def failed_status(self) -> int:
        """The status for a failure: the servers' own when they all agree, else 500."""
        statuses = set(self._statuses.values())
        if len(statuses) == 1 and len(self._statuses) == len(self._servers):
            return statuses.pop()
        return 500

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
        servers = (
            self._servers
            if self._everyone_pulls
            else {s for s, d in self._done if d == digest}
        )
        completed = sum(self._done.get((s, digest), 0) for s in servers)
        total = self._sizes[digest] * len(servers)
        return {
            "status": status,
            "digest": digest,
            "total": total,
            "completed": completed,
        }


Posted = tuple[str, Line | None, str | None, int]


def _pull_one(
    upstream: Callable[[str], Upstream],
    server: Server,
    path: str,
    body: bytes,
    headers: dict[str, str],
    timeouts: Timeouts,
    out: queue.SimpleQueue[Posted],
    cancel: threading.Event,
) -> None:
    """Run one server's request, posting ``(server, line, None, 200)`` per line
    then ``(server, None, error, status)``."""
    error: str | None = None
    status = 500
    response = None
    try:
        response = upstream(server.url).request("POST", path, headers, body, timeouts)
        pending = b""
        for chunk in response.chunks():
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                if raw.strip():
                    out.put((server.name, json.loads(raw), None, 200))
            if cancel.is_set():
                return
        if response.status >= 400:
            status = response.status
            line = json.loads(pending) if pending.strip() else {}
            error = str(line.get("error") or f"HTTP {response.status}")
        elif pending.strip():
            out.put((server.name, json.loads(pending), None, 200))
    except (OSError, ValueError) as exc:
        error = f"{path.rsplit('/', 1)[-1]} failed: {exc}"
    finally:
        if response is not None:
            response.close()
        out.put((server.name, None, error, status))


def merged_progress(
    upstream: Callable[[str], Upstream],
    servers: Sequence[Server],
    path: str,
    body: bytes,
    headers: dict[str, str],
    timeouts: Timeouts,
    cancel: threading.Event,
    merger: PullMerger,
) -> Iterator[Line]:
    """POST ``path`` (pull or create) to every server at once and yield the
    merged lines, the final one last."""
    out: queue.SimpleQueue[Posted] = queue.SimpleQueue()
    for server in servers:
        threading.Thread(
            target=_pull_one,
            args=(upstream, server, path, body, headers, timeouts, out, cancel),
            daemon=True,
        ).start()
    running = len(servers)
    while running:
        name, line, error, status = out.get()
        if line is None:
            running -= 1
            yield from merger.finish(name, error, status)
        else:
            yield from merger.feed(name, line)
    yield merger.final()
