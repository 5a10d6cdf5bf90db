"""Fleet-wide answers: the union of ``/api/tags`` and ``/api/ps``, the lowest
``/api/version``, the union of ``/v1/models``. Pure merges plus one concurrent
fetch helper.

>>> merge_tags({
...     "a": [{"name": "x:latest", "modified_at": "2026-01-01T10:00:00+01:00"}],
...     "b": [{"name": "X:latest", "modified_at": "2026-01-02T10:00:00Z"},
...           {"name": "y:1b", "modified_at": "2025-12-01T10:00:00.123456789Z"}],
... })
[{'name': 'X:latest', 'modified_at': '2026-01-02T10:00:00Z'}, {'name': 'y:1b', 'modified_at': '2025-12-01T10:00:00.123456789Z'}]
>>> lowest_version(["0.33.0", "0.33.0-rc2", "0.9.1"])
'0.9.1'
>>> lowest_version(["0.33.0", "0.33.0-rc2"])
'0.33.0-rc2'
>>> merge_tags({"a": None, "b": ["junk", {"name": "x:1"}]})
[{'name': 'x:1'}]
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from ollama_webmgr.cluster.models import name_key
from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.gateway.upstream import Timeouts, Upstream

Entry = dict[str, Any]
_FRACTION = re.compile(r"(\.\d{6})\d+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def fetch_all(
    upstream: Callable[[str], Upstream],
    servers: Iterable[Server],
    path: str,
    timeouts: Timeouts,
) -> dict[str, Any]:
    """GET ``path`` on every server at once; servers that fail are left out."""
    results: dict[str, Any] = {}

    def fetch(server: Server) -> None:
        try:
            client = upstream(server.url)
            got = client.get_json(path, connect=timeouts.connect, read=timeouts.read)
        except (OSError, ValueError):
            return  # the health monitor notices failing servers
        results[server.name] = got

    threads = [threading.Thread(target=fetch, args=(s,)) for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def parse_time(text: Any) -> datetime:
    """RFC 3339 with up to nanoseconds; anything unreadable sorts last."""
    if not isinstance(text, str):
        return _EPOCH
    try:
        moment = datetime.fromisoformat(_FRACTION.sub(r"\1", text))
    except ValueError:
        return _EPOCH
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _union(
    per_server: Mapping[str, list[Entry]], field: str, key: Callable[[Entry], Any]
) -> list[Entry]:
    best: dict[Any, Entry] = {}
    for entries in per_server.values():
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue  # a server answering nonsense must not break the union
            ident = key(entry)
            kept = best.get(ident)
            if kept is None or parse_time(entry.get(field)) > parse_time(
                kept.get(field)
            ):
                best[ident] = entry
    return sorted(best.values(), key=lambda e: parse_time(e.get(field)), reverse=True)


def _model_key(entry: Entry) -> Any:
    raw = str(entry.get("model") or entry.get("name") or "")
    return name_key(raw) or raw.casefold()


def merge_tags(per_server: Mapping[str, list[Entry]]) -> list[Entry]:
    """One entry per model (the most recently modified copy), newest first."""
    return _union(per_server, "modified_at", _model_key)


def merge_running(per_server: Mapping[str, list[Entry]]) -> list[Entry]:
    """One entry per loaded model (the one expiring last), as Ollama sorts them."""
    return _union(per_server, "expires_at", _model_key)


def merge_openai_models(per_server: Mapping[str, list[Entry]]) -> list[Entry] | None:
    """Union of ``/v1/models`` data by id; ``None`` when empty, as Ollama answers."""
    best: dict[str, Entry] = {}
    for entries in per_server.values():
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            ident = str(entry.get("id", ""))
            if ident not in best or entry.get("created", 0) > best[ident].get(
                "created", 0
            ):
                best[ident] = entry
    merged = sorted(best.values(), key=lambda e: e.get("created", 0), reverse=True)
    return merged or None


def _version_key(version: str) -> tuple[tuple[int, ...], int, str]:
    release, _, pre = version.lstrip("v").partition("-")
    numbers = tuple(int(p) if p.isdigit() else 0 for p in release.split("."))
    return numbers, 0 if pre else 1, pre


def lowest_version(versions: Iterable[str]) -> str | None:
    """The oldest version (a pre-release is older than its release)."""
    present = [v for v in versions if v]
    return min(present, key=_version_key) if present else None
