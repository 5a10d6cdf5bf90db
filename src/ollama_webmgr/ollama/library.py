"""Search ollama.com's public library and list a model's variants (tags).

There is no JSON API for this (contract §10): ``LibraryClient`` fetches the HTML
pages with a browser-like User-Agent and parses them (``library_parse``). Pages
are cached per URL for ``cache_ttl`` seconds: the site changes slowly and the web
app may ask for the same page on every keystroke. Any failure to get a usable
page is a ``RemoteUnavailable``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import TypeVar, cast
from urllib.parse import urlencode

import httpx

from ollama_webmgr.closeable import Closeable
from ollama_webmgr.errors import (
    InvalidModelName,
    InvalidSearchQuery,
    RemoteModelNotFound,
    RemoteUnavailable,
)
from ollama_webmgr.ollama.library_parse import (
    RemoteModel,
    RemoteVariant,
    SearchPage,
    parse_search,
    parse_tags,
)
from ollama_webmgr.ollama.names import DEFAULT_HOST, DEFAULT_NAMESPACE, ModelName

__all__ = ["LibraryClient", "RemoteModel", "RemoteVariant", "SearchPage"]

DEFAULT_LIBRARY_URL = "https://ollama.com"
BROWSER_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
MAX_QUERY_LENGTH = 100
MAX_PAGE = 100
_CAPABILITY = re.compile(r"^[a-z]{1,20}$")

T = TypeVar("T")


class LibraryClient(Closeable):
    """Typed access to ollama.com search and tags pages, with a TTL cache.

    One pooled ``httpx.Client`` per instance; thread-safe. Close it (or use it as
    a context manager) when done.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_LIBRARY_URL,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 8.0,
        cache_ttl: float = 300.0,
        cache_size: int = 512,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.cache_ttl = cache_ttl
        self.cache_size = max(1, cache_size)
        self._clock = clock
        self._cache: dict[str, tuple[float, object]] = {}
        self._lock = threading.Lock()
        self._http = httpx.Client(
            transport=transport,
            timeout=timeout,
            follow_redirects=True,
            headers={"User-Agent": BROWSER_USER_AGENT, "Accept": "text/html"},
        )

    def search(
        self, query: str, *, capability: str | None = None, page: int = 1
    ) -> SearchPage:
        """One page of results for ``query`` (empty: the whole library)."""
        query = " ".join(query.split())
        if len(query) > MAX_QUERY_LENGTH:
            raise InvalidSearchQuery(
                f"search query longer than {MAX_QUERY_LENGTH} characters"
            )
        capability = (capability or "").strip().lower() or None
        if capability is not None and not _CAPABILITY.match(capability):
            raise InvalidSearchQuery(f"unknown capability filter {capability!r}")
        if not 1 <= page <= MAX_PAGE:
            raise InvalidSearchQuery(f"page must be between 1 and {MAX_PAGE}")
        params = {"q": query}
        if capability:
            params["c"] = capability
        if page > 1:
            params["page"] = str(page)
        url = f"{self.base_url}/search?{urlencode(params)}"
        return self._cached(
            url,
            lambda html: parse_search(
                html, query=query, capability=capability, page=page
            ),
        )

    def variants(self, model: str) -> list[RemoteVariant]:
        """The tags of an ollama.com model (a tag given in ``model`` is ignored)."""
        name = ModelName.parse(model.strip())
        if name.host.casefold() != DEFAULT_HOST:
            raise InvalidModelName(
                f"{model!r} is not an ollama.com model (host {name.host})"
            )
        path = (
            f"/library/{name.model}"
            if name.namespace.casefold() == DEFAULT_NAMESPACE
            else f"/{name.namespace}/{name.model}"
        )
        short = name.display.rsplit(":", 1)[0]
        url = f"{self.base_url}{path}/tags"
        missing = f"no model {short!r} on ollama.com"
        return list(
            self._cached(
                url,
                lambda html: parse_tags(html, model=short, path=path),
                missing=missing,
            )
        )

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def _cached(
        self, url: str, parse: Callable[[str], T], *, missing: str | None = None
    ) -> T:
        """``parse`` of the page at ``url``, fetched at most once per TTL.

        ``missing``: message of the RemoteModelNotFound raised on a 404.
        """
        now = self._clock()
        with self._lock:
            hit = self._cache.get(url)
        if hit is not None and hit[0] > now:
            return cast(T, hit[1])  # stored by this same call site for this URL
        result = parse(self._fetch(url, missing))
        with self._lock:
            if len(self._cache) >= self.cache_size:
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            while len(self._cache) >= self.cache_size:  # still full: oldest out
                del self._cache[min(self._cache, key=lambda k: self._cache[k][0])]
            self._cache[url] = (now + self.cache_ttl, result)
        return result

    def _fetch(self, url: str, missing: str | None) -> str:
        try:
            response = self._http.get(url)
        except httpx.TimeoutException as exc:
            raise RemoteUnavailable(
                f"ollama.com did not answer in time ({url})"
            ) from exc
        except httpx.HTTPError as exc:
            raise RemoteUnavailable(f"cannot reach ollama.com ({url}): {exc}") from exc
        if response.status_code == 404 and missing is not None:
            raise RemoteModelNotFound(missing)
        if response.status_code != 200:
            raise RemoteUnavailable(
                f"ollama.com answered HTTP {response.status_code} ({url})"
            )
        return response.text

    def close(self) -> None:
        self._http.close()
