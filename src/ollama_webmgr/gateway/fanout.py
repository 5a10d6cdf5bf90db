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
    headers: Mapping[str, str],
    timeouts: Timeouts,
    cancel: threading.Event,
    merger: ProgressMerger,
) -> Iterator[Line]:
    """POST ``path`` (pull or create) to every server at once and yield the
    merged lines; ``merger.final()`` is the last line, once this is exhausted."""
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
