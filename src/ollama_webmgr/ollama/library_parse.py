"""Parsing ollama.com's search and tags pages into typed results.

The site has no JSON API, so this reads its HTML (contract §10). The main path
uses the markers scrapers have relied on (``x-test-*`` attributes, ``div.group``
tag rows); when they vanish, a fallback reads ``/library/...`` links and the text
around them. Pages with nothing recognisable raise ``RemoteUnavailable``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from ollama_webmgr.errors import RemoteUnavailable

if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag


@dataclass(frozen=True, slots=True)
class RemoteModel:
    """One search result. Fallback parsing leaves the badge fields empty."""

    name: str  # "llama3.2", or "user/model" for community models
    description: str
    capabilities: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()  # parameter sizes as shown: "1b", "3b"
    pull_count: str | None = None  # as shown: "68.3K"
    tag_count: int | None = None
    updated: str | None = None  # relative, as shown: "7 months ago"


@dataclass(frozen=True, slots=True)
class SearchPage:
    query: str
    capability: str | None
    page: int
    models: tuple[RemoteModel, ...]
    next_page: int | None
    degraded: bool = False  # the markers were missing: only names/descriptions


@dataclass(frozen=True, slots=True)
class RemoteVariant:
    """One row of a model's tags page."""

    name: str  # "llama3.2:3b"
    tag: str
    size_text: str | None  # "2.0GB"
    size_bytes: int | None
    context_text: str | None  # "128K"
    context_length: int | None
    inputs: tuple[str, ...]  # ("Text", "Image")
    short_digest: str | None  # 12 hex: first 12 of the manifest's sha256
    is_latest: bool  # tag ``latest`` itself, or the tag it points to
    updated: str | None


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s?([KMGT]?B)$")
_CONTEXT = re.compile(r"^(\d+(?:\.\d+)?)([KM]?)$")
_INPUT = re.compile(r"^(Text|Image|Audio|Video)(\s*,\s*(Text|Image|Audio|Video))*$")
_SHORT_DIGEST = re.compile(r"^[0-9a-f]{12}$")
_SEPARATOR = re.compile(r"[·•]")
_AGE = re.compile(r"\b(ago|yesterday|just now)\b", re.IGNORECASE)
_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}


def size_to_bytes(text: str) -> int | None:
    """Size text of the tags page (decimal units) to bytes; None if unreadable.

    >>> size_to_bytes("4.7GB"), size_to_bytes("815MB"), size_to_bytes("63 MB")
    (4700000000, 815000000, 63000000)
    >>> size_to_bytes("big") is None
    True
    """
    found = _SIZE.match(text.strip())
    if found is None:
        return None
    return round(float(found.group(1)) * _UNITS[found.group(2)])


def context_to_tokens(text: str) -> int | None:
    """Context text to tokens (``K`` = 1024); None if unreadable.

    >>> context_to_tokens("128K"), context_to_tokens("512"), context_to_tokens("1M")
    (131072, 512, 1048576)
    >>> context_to_tokens("Text") is None
    True
    """
    found = _CONTEXT.match(text.strip())
    if found is None:
        return None
    factor = {"": 1, "K": 1024, "M": 1024 * 1024}[found.group(2)]
    return round(float(found.group(1)) * factor)


def model_from_href(href: str) -> str | None:
    """Model name of a result link, None for links that are not model pages.

    >>> model_from_href("/library/llama3.2"), model_from_href("/jmorgan/nice-model")
    ('llama3.2', 'jmorgan/nice-model')
    >>> model_from_href("/library/llama3.2:1b"), model_from_href("/library/x/tags")
    (None, None)
    """
    path = urlsplit(href).path.strip("/")
    if path.startswith("library/"):
        path = path.removeprefix("library/")
    if not path or ":" in path or path.count("/") > 1 or path.endswith("/tags"):
        return None
    return path


def _attr(tag: Tag, name: str) -> str:
    value = tag.get(name)
    if value is None:
        return ""
    return value if isinstance(value, str) else " ".join(value)


def _text(tag: Tag | None) -> str:
    return " ".join(tag.get_text(" ", strip=True).split()) if tag else ""


def _texts(scope: Tag, css: str) -> tuple[str, ...]:
    return tuple(t for t in (_text(el) for el in scope.select(css)) if t)


def _soup(html: str) -> BeautifulSoup:
    # imported here: the gateway's process loads this module but never parses
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "html.parser")


def _next_page(soup: BeautifulSoup) -> int | None:
    for el in soup.select("[hx-get*='page='], a[href*='page=']"):
        target = _attr(el, "hx-get") or _attr(el, "href")
        if not urlsplit(target).path.endswith(("/search", "/library")):
            continue
        values = parse_qs(urlsplit(target).query).get("page", [])
        if values and values[0].isdigit():
            return int(values[0])
    return None


def _marked_model(item: Tag) -> RemoteModel | None:
    link = item.select_one("a[href]")
    # the link knows the namespace of community models ("user/model")
    name = model_from_href(_attr(link, "href")) if link else None
    name = name or _text(item.select_one("[x-test-search-response-title]"))
    if not name:
        return None
    tags = _text(item.select_one("[x-test-tag-count]")).replace(",", "")
    return RemoteModel(
        name=name,
        description=_text(item.select_one("p.break-words")),
        capabilities=_texts(item, "[x-test-capability]"),
        sizes=_texts(item, "[x-test-size]"),
        pull_count=_text(item.select_one("[x-test-pull-count]")) or None,
        tag_count=int(tags) if tags.isdigit() else None,
        updated=_text(item.select_one("[x-test-updated]")) or None,
    )


def _fallback_models(soup: BeautifulSoup) -> list[RemoteModel]:
    """Names from ``/library/<name>`` links, description from the nearest paragraph."""
    found: dict[str, RemoteModel] = {}
    for link in soup.select("a[href^='/library/']"):
        name = model_from_href(_attr(link, "href"))
        if name is None or name in found:
            continue
        paragraph = link.find_next("p")
        found[name] = RemoteModel(name=name, description=_text(paragraph))
    return list(found.values())


def parse_search(
    html: str, *, query: str, capability: str | None, page: int
) -> SearchPage:
    """Read a search (or library listing) page; raise RemoteUnavailable if unreadable."""
    soup = _soup(html)
    items = soup.select("li[x-test-model]")
    marked = [m for m in (_marked_model(item) for item in items) if m is not None]
    degraded = False
    models = marked
    if not items:
        if "No models" in soup.get_text(" "):  # "No models found" on /search
            models = []
        else:
            models, degraded = _fallback_models(soup), True
            if not models:
                raise RemoteUnavailable(
                    "ollama.com search page has no recognisable results "
                    "(its markup may have changed)"
                )
    return SearchPage(
        query=query,
        capability=capability,
        page=page,
        models=tuple(models),
        next_page=_next_page(soup),
        degraded=degraded,
    )


def _pieces(scope: Tag) -> list[str]:
    """Texts of a row split on the ``·``/``•`` separators, labels removed.

    The mobile variant writes ``15GB • 39K context window • Text input``.
    """
    pieces = []
    for raw in scope.stripped_strings:
        for part in _SEPARATOR.split(raw):
            text = " ".join(part.split())
            text = text.removesuffix(" context window").removesuffix(" input")
            if text:
                pieces.append(text)
    return pieces


def _row_variant(model: str, tag: str, scope: Tag, links: list[Tag]) -> RemoteVariant:
    """Classify the texts of one tag row by their shape; first match wins."""
    link_texts = {_text(link) for link in links}
    fields: dict[str, str] = {}
    latest = False
    for text in _pieces(scope):
        if text in link_texts or text.startswith(f"{model}:"):
            continue
        if text.lower() == "latest":
            latest = True
            continue
        for key, pattern in (
            ("size", _SIZE),
            ("digest", _SHORT_DIGEST),  # before context: a 12-hex id may be all digits
            ("input", _INPUT),
            ("context", _CONTEXT),
        ):
            if pattern.match(text):
                fields.setdefault(key, text)
                break
        else:
            if _AGE.search(text) and len(text) < 40:
                fields.setdefault("updated", text)
    mono = _text(scope.select_one("span.font-mono"))
    digest = mono if _SHORT_DIGEST.match(mono) else fields.get("digest")
    size, context = fields.get("size"), fields.get("context")
    inputs = fields.get("input", "")
    return RemoteVariant(
        name=f"{model}:{tag}",
        tag=tag,
        size_text=size,
        size_bytes=size_to_bytes(size) if size else None,
        context_text=context,
        context_length=context_to_tokens(context) if context else None,
        inputs=tuple(p.strip() for p in inputs.split(",") if p.strip()),
        short_digest=digest,
        is_latest=latest or tag == "latest",
        updated=fields.get("updated"),
    )


def parse_tags(html: str, *, model: str, path: str) -> list[RemoteVariant]:
    """Read ``/library/<model>/tags``: one variant per tag, duplicates dropped.

    ``path`` is the page's model path (``/library/llama3.2`` or ``/user/model``);
    tag links are ``<path>:<tag>``. Rows come from ``div.group``; without that
    class, each link's parent element is taken as its row.
    """
    soup = _soup(html)
    prefix = f"{path}:".casefold()
    links = [
        a
        for a in soup.select("a[href]")
        if _attr(a, "href").casefold().startswith(prefix)
    ]
    variants: dict[str, RemoteVariant] = {}
    for link in links:
        href = _attr(link, "href")
        # the page's own spelling wins over what the user typed
        full = href.removeprefix("/library/").lstrip("/")
        name, tag = full.rsplit(":", 1)
        if not tag or tag in variants:
            continue
        row = link.find_parent("div", class_="group") or link.parent
        if row is None:
            continue
        same = [a for a in links if _attr(a, "href") == href]
        variants[tag] = _row_variant(name, tag, row, same)
    if not variants:
        raise RemoteUnavailable(
            f"ollama.com tags page for {model!r} has no recognisable tags "
            "(its markup may have changed)"
        )
    return list(variants.values())
