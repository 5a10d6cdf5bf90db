"""What every seeding shares, whoever drives it (a pull job, the gateway).

The name a node pulls from the cache, whether the cache is served where the
nodes are told to find it, and how a node's failure to reach it is told
from another failure. ``jobs/seeding.py`` (one job per node) and
``gateway/seeding.py`` (``POST /api/pull`` fanned out) both decide with
these, so they fall back to a direct pull in the same cases.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from ollama_webmgr.ollama.names import DEFAULT_HOST, ModelName
from ollama_webmgr.ollama.seed_cache import Seeding, node_namespace


def seedable(name: ModelName, servers: int, *, capped: bool = False) -> bool:
    """A registry model going to several servers is seeded, and to one under a
    fleet cap (so the cap applies); otherwise, or for a model of another host
    (``hf.co/…``), each server pulls directly.

    >>> seedable(ModelName.parse("qwen3:0.6b"), 3), seedable(ModelName.parse("qwen3"), 1)
    (True, False)
    >>> seedable(ModelName.parse("qwen3"), 1, capped=True)
    True
    >>> seedable(ModelName.parse("hf.co/a/b:q4"), 3, capped=True)
    False
    """
    return (servers > 1 or capped) and name.host.casefold() == DEFAULT_HOST


def cache_name(cache_url: str, name: ModelName, node_url: str) -> str:
    """The name a node pulls from the cache: ``host:port/ns--node-<token>/model:tag``
    (the token tells the cache which node asks: ``seed_cache.node_namespace``).

    >>> cache_name("http://10.0.0.5:8000", ModelName.parse("qwen3:0.6b"), "http://n1")
    '10.0.0.5:8000/library--node-68dd3c14/qwen3:0.6b'
    """
    namespace = node_namespace(name.namespace, node_url)
    return f"{urlsplit(cache_url).netloc}/{namespace}/{name.model}:{name.tag}"


def cache_answers(cache_url: str) -> bool:
    """A registry answers at ``cache_url`` (``GET /v2/``): checked before the
    registry is asked anything, so a cache not served costs nothing."""
    try:
        answer = httpx.get(f"{cache_url}/v2/", timeout=5.0)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200


def serves(cache_url: str, seeding: Seeding) -> bool:
    """Whether ``cache_url`` is this cache: it answers the seeding's manifest
    (a web app not served there, or another one, does not)."""
    name = seeding.name
    url = f"{cache_url}/v2/{name.repository}/manifests/{name.tag}"
    try:
        answer = httpx.get(url, timeout=5.0)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200 and answer.content == seeding.manifest


def node_cannot_reach(cache_url: str, error: str) -> bool:
    """A node's pull of the cache's name failed because the node cannot reach
    the cache: Ollama's message names the address it could not get.

    >>> node_cannot_reach("http://10.0.0.5:8000", 'Get "http://10.0.0.5:8000/v2/": refused')
    True
    >>> node_cannot_reach("http://10.0.0.5:8000", "disk full")
    False
    """
    return urlsplit(cache_url).netloc in error
