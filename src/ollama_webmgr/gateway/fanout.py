"""Pull and create on several servers at once, their progress merged.

Policy (see docs): an ``X-Ollama-Servers`` request header (``name,name`` or
``all``) chooses the servers; without it a pull or a create goes to every
healthy server. Each server's request runs in a thread; ``merged_progress``
hands their lines to a ``ProgressMerger`` (``gateway/progress.py``), which
makes one Ollama-shaped stream of them.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence

from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.gateway.progress import Line, ProgressMerger
from ollama_webmgr.gateway.upstream import Timeouts, Upstream

Posted = tuple[str, Line | None, str | None, int]


class NodeFailed(Exception):
    """A server's request failed: its error message and HTTP status."""

    def __init__(self, error: str, status: int = 500) -> None:
        super().__init__(error)
        self.error = error
        self.status = status


def node_lines(
    upstream: Callable[[str], Upstream],
    server: Server,
    path: str,
    body: bytes,
    headers: Mapping[str, str],
    timeouts: Timeouts,
    cancel: threading.Event,
) -> Iterator[Line]:
    """One server's streamed answer, line by line, until it ends or ``cancel``
    is set; ``NodeFailed`` when it fails."""
    response = None
    try:
        response = upstream(server.url).request("POST", path, headers, body, timeouts)
        pending = b""
        for chunk in response.chunks():
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                if raw.strip():
                    yield json.loads(raw)
            if cancel.is_set():
                return
        if response.status >= 400:
            line = json.loads(pending) if pending.strip() else {}
            error = str(line.get("error") or f"HTTP {response.status}")
            raise NodeFailed(error, response.status)
        if pending.strip():
            yield json.loads(pending)
    except (OSError, ValueError) as exc:
        raise NodeFailed(f"{path.rsplit('/', 1)[-1]} failed: {exc}") from None
    finally:
        if response is not None:
            response.close()


def _pull_one(
    upstream: Callable[[str], Upstream],
    server: Server,
    path: str,
    body: bytes,
    headers: Mapping[str, str],
    timeouts: Timeouts,
    out: queue.SimpleQueue[Posted],
    cancel: threading.Event,
) -> None:
    """Run one server's request, posting ``(server, line, None, 200)`` per line
    then ``(server, None, error, status)``."""
    error: str | None = None
    status = 500
    try:
        for line in node_lines(upstream, server, path, body, headers, timeouts, cancel):
            out.put((server.name, line, None, 200))
    except NodeFailed as failed:
        error, status = failed.error, failed.status
    finally:
        out.put((server.name, None, error, status))


def merged_progress(
    upstream: Callable[[str], Upstream],
    servers: Sequence[Server],
    path: str,
    body: bytes,
    headers: Mapping[str, str],
    timeouts: Timeouts,
    cancel: threading.Event,
    merger: ProgressMerger,
) -> Iterator[Line]:
    """POST ``path`` (pull or create) to every server at once and yield the
    merged lines; ``merger.final()`` is the last line, once this is exhausted."""

    def work(server: Server, out: queue.SimpleQueue[Posted]) -> None:
        _pull_one(upstream, server, path, body, headers, timeouts, out, cancel)

    return run_merged(servers, work, merger)


def run_merged(
    servers: Sequence[Server],
    work: Callable[[Server, queue.SimpleQueue[Posted]], None],
    merger: ProgressMerger,
) -> Iterator[Line]:
    """Run ``work`` for every server in its own thread and yield the merged
    lines; ``work`` posts its lines, then ends with ``(server, None, error, status)``."""
    out: queue.SimpleQueue[Posted] = queue.SimpleQueue()
    for server in servers:
        threading.Thread(target=work, args=(server, out), daemon=True).start()
    running = len(servers)
    while running:
        name, line, error, status = out.get()
        if line is None:
            running -= 1
            yield from merger.finish(name, error, status)
        else:
            yield from merger.feed(name, line)
