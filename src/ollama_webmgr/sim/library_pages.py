"""HTML of the fake ollama.com: search results, model page and tags page.

The markup mimics what scrapers of the real site rely on (``x-test-*`` markers,
``div.group`` tag rows, the duplicated mobile row). ``plain=True`` renders the
same data without those markers, as after a redesign of the real site, so the
scraper's fallback path can be tested. Stats (pulls, dates) are deterministic.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from html import escape
from urllib.parse import urlencode

from ollama_webmgr.sim.catalog import CatalogModel, Family, Registry, Variant

#: capabilities shown as badges (ollama.com does not badge plain completion)
BADGE_CAPABILITIES = ("tools", "vision", "thinking", "embedding")


@dataclass(frozen=True, slots=True)
class TagRow:
    tag: str
    model: CatalogModel
    is_latest_target: bool  # the tag ``latest`` points to carries the badge


@dataclass(frozen=True, slots=True)
class Entry:
    """One library model as the site lists it."""

    family: Family
    rows: tuple[TagRow, ...]

    @property
    def name(self) -> str:
        return self.family.model

    @property
    def capabilities(self) -> tuple[str, ...]:
        return tuple(c for c in self.family.capabilities if c in BADGE_CAPABILITIES)

    @property
    def sizes(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for row in self.rows:
            seen.setdefault(size_badge(row.model.variant), None)
        return tuple(seen)

    @property
    def updated(self) -> str:
        if any(row.model.revision for row in self.rows):
            return "2 minutes ago"
        return _stable_age(self.name)


def build_entry(
    registry: Registry, family: Family, variants: tuple[Variant, ...]
) -> Entry:
    rows: list[TagRow] = []
    for variant in variants:
        for alias in variant.aliases:
            current = registry.lookup(f"{family.model}:{alias}")
            assert current is not None  # catalogue aliases always resolve
            rows.insert(0, TagRow(alias, current, False))
        current = registry.lookup(f"{family.model}:{variant.tag}")
        assert current is not None
        rows.append(TagRow(variant.tag, current, "latest" in variant.aliases))
    return Entry(family, tuple(rows))


def size_badge(variant: Variant) -> str:
    """Parameter-size badge: the tag when it is a size (``3b``), else the count.

    >>> from ollama_webmgr.sim.catalog import find_variant
    >>> size_badge(find_variant("llama3.2", "1b")[1]), size_badge(find_variant("phi3", "mini")[1])
    ('1b', '3.8b')
    """
    tag = variant.tag.lower()
    if tag[-1:] in ("b", "m") and tag[:-1].replace(".", "", 1).isdigit():
        return tag
    return variant.parameter_size.lower()


def human_size(size: int) -> str:
    """Size text as the tags page prints it (decimal units).

    >>> human_size(4_683_073_184), human_size(815_319_791), human_size(45_949)
    ('4.7GB', '815MB', '46KB')
    """
    for unit, factor in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if size >= factor:
            value = size / factor
            return f"{value:.1f}{unit}" if unit == "GB" else f"{round(value)}{unit}"
    return f"{size}B"


def context_text(tokens: int) -> str:
    """Context window text: ``131072`` → ``128K``, ``512`` → ``512``.

    >>> context_text(131072), context_text(2048), context_text(512)
    ('128K', '2K', '512')
    """
    return (
        f"{tokens // 1024}K" if tokens >= 1024 and tokens % 1024 == 0 else str(tokens)
    )


def input_text(family: Family) -> str:
    return "Text, Image" if "vision" in family.capabilities else "Text"


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def _stable_age(name: str) -> str:
    months = 1 + _stable_hash(name) % 11
    return f"{months} month{'s' if months > 1 else ''} ago"


def pull_count(name: str) -> str:
    """Deterministic pull count text such as ``68.3K`` or ``1.2M``."""
    pulls = 10_000 + _stable_hash("pulls:" + name) % 5_000_000
    if pulls >= 1_000_000:
        return f"{pulls / 1_000_000:.1f}M"
    return f"{pulls / 1000:.1f}K"


def page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head><body>"
        '<header><a href="/">Ollama</a> <a href="/search">Models</a></header>'
        f"<main>{body}</main></body></html>"
    )


def search_item(entry: Entry, *, plain: bool) -> str:
    name, desc = escape(entry.name), escape(entry.family.description)
    if plain:
        badges = " · ".join(entry.capabilities + entry.sizes)
        return (
            f'<div class="card"><h3><a href="/library/{name}">{name}</a></h3>'
            f"<p>{desc}</p><div>{escape(badges)}</div>"
            f'<a href="/library/{name}/tags">{len(entry.rows)} tags</a></div>'
        )
    caps = "".join(
        f'<span x-test-capability class="rounded-md bg-indigo-50 px-2">{escape(c)}</span>'
        for c in entry.capabilities
    )
    sizes = "".join(
        f'<span x-test-size class="rounded-md bg-[#ddf4ff] px-2">{escape(s)}</span>'
        for s in entry.sizes
    )
    return (
        '<li x-test-model class="flex items-baseline border-b py-6">'
        f'<a href="/library/{name}" class="group w-full">'
        f'<div class="flex flex-col mb-1" title="{name}">'
        f'<h2 class="truncate text-xl font-medium"><span x-test-search-response-title>{name}</span></h2>'
        f'<p class="max-w-lg break-words text-neutral-800 text-md">{desc}</p></div>'
        f'<div class="flex flex-col"><div class="flex flex-wrap space-x-2">{caps}{sizes}</div>'
        '<p class="my-1 flex space-x-5 text-[13px] font-medium text-neutral-500">'
        f"<span><span x-test-pull-count>{pull_count(entry.name)}</span>&nbsp;<span>Pulls</span></span>"
        f"<span><span x-test-tag-count>{len(entry.rows)}</span>&nbsp;<span>Tags</span></span>"
        f"<span><span>Updated</span>&nbsp;<span x-test-updated>{escape(entry.updated)}</span></span>"
        "</p></div></a></li>"
    )


def search_results(
    entries: list[Entry], next_params: dict[str, str] | None, *, plain: bool
) -> str:
    """The result list (the htmx fragment) with its "load more" trigger."""
    if not entries:
        return '<p class="text-neutral-500">No models found</p>'
    items = "".join(search_item(e, plain=plain) for e in entries)
    more = ""
    if next_params is not None:
        url = escape("/search?" + urlencode(next_params))
        more = (
            f'<div class="more"><a href="{url}">More</a></div>'
            if plain
            else f'<li hx-get="{url}" hx-trigger="revealed" hx-swap="outerHTML">Loading…</li>'
        )
    if plain:
        return f'<div id="searchresults">{items}{more}</div>'
    return f'<ul role="list" id="searchresults">{items}{more}</ul>'


def model_page(entry: Entry, *, plain: bool) -> str:
    name = escape(entry.name)
    marker = "" if plain else " x-test-model-name"
    badges = "".join(
        f"<span{'' if plain else ' x-test-capability'}>{escape(c)}</span>"
        for c in entry.capabilities
    ) + "".join(
        f"<span{'' if plain else ' x-test-size'}>{escape(s)}</span>"
        for s in entry.sizes
    )
    stats = (
        f"<span{'' if plain else ' x-test-pull-count'}>{pull_count(entry.name)}</span> Downloads "
        f'<span title="Updated"><span{"" if plain else " x-test-updated"}>'
        f"{escape(entry.updated)}</span></span>"
    )
    return page(
        f"{entry.name}",
        f'<h1><a href="/library/{name}"{marker}>{name}</a></h1>'
        f'<div id="summary-content">{escape(entry.family.description)}</div>'
        f"<div>{badges}</div><p>{stats}</p>"
        f'<a href="/library/{name}/tags">View all</a>',
    )


def tag_row(entry: Entry, row: TagRow, *, plain: bool) -> str:
    model = row.model
    full = escape(f"{entry.name}:{row.tag}")
    href = f"/library/{full}"
    size = human_size(model.size)
    ctx = context_text(entry.family.context_length)
    inp = input_text(entry.family)
    short = model.digest[:12]
    age = (
        "2 minutes ago"
        if model.revision
        else _stable_age(f"{entry.name}:{model.variant.tag}")
    )
    badge = "latest" if row.is_latest_target else ""
    if plain:
        return (
            f'<section class="tag"><a href="{href}">{full}</a>'
            f"{f'<em>{badge}</em>' if badge else ''}"
            f"<span>{size}</span><span>{ctx}</span><span>{inp}</span>"
            f"<code>{short}</code><small>{age}</small></section>"
        )
    badge_html = (
        '<span class="rounded-full border px-2 text-xs text-blue-600">latest</span>'
        if badge
        else ""
    )
    # as on the real site: the mobile row comes first, then the desktop grid
    mobile = (
        f'<a href="{href}" class="md:hidden flex flex-col group">'
        f'<div class="flex items-center font-medium"><span>{full}</span>{badge_html}</div>'
        '<div class="flex flex-col text-neutral-500 text-[13px]">'
        f'<span><span class="font-mono">{short}</span> • {size} • '
        f"{ctx} context window • {inp} input • {age}</span></div></a>"
    )
    desktop = (
        '<div class="hidden md:flex flex-col"><div class="grid grid-cols-12 items-center">'
        f'<span class="col-span-6"><a href="{href}" class="hover:underline">{full}</a>'
        f"{badge_html}</span>"
        f'<p class="col-span-2 text-neutral-500">{size}</p>'
        f'<p class="col-span-2 text-neutral-500">{ctx}</p>'
        f'<div class="col-span-2 text-neutral-500">{inp}</div></div>'
        '<div class="flex text-neutral-500 text-xs">'
        f'<span class="font-mono">{short}</span>&nbsp;·&nbsp;{age}</div></div>'
    )
    return f'<div class="group px-4 py-3">{mobile}{desktop}</div>'


def tags_page(entry: Entry, *, plain: bool) -> str:
    rows = "".join(tag_row(entry, row, plain=plain) for row in entry.rows)
    header = (
        ""
        if plain
        else '<div class="hidden md:grid grid-cols-12"><p class="col-span-6">Name</p>'
        '<p class="col-span-2">Size</p><p class="col-span-2">Context</p>'
        '<p class="col-span-2">Input</p></div>'
    )
    return page(
        f"Tags · {entry.name}",
        f'<h1><a href="/library/{escape(entry.name)}">{escape(entry.name)}</a></h1>'
        f'<div class="divide-y">{header}{rows}</div>',
    )


def not_found_page() -> str:
    return page("Not found", "<h1>404</h1><p>Sorry, this page could not be found.</p>")
