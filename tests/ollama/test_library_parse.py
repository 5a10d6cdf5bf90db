"""The HTML parsers on small hand-written pages shaped like ollama.com's."""

from __future__ import annotations

import pytest

from ollama_webmgr.errors import RemoteUnavailable
from ollama_webmgr.ollama.library_parse import parse_search, parse_tags

# A tags row as the real site lays it out: the mobile link first, with a
# "•"-separated summary, then the desktop grid whose age is a bare text node.
REAL_SHAPED_ROW = """
<div class="group px-4 py-3">
  <a href="/library/granite-embedding:30m" class="md:hidden flex flex-col group">
    <div><span class="group-hover:underline">granite-embedding:30m</span>
      <span class="rounded-full border">latest</span></div>
    <div class="text-neutral-500"><span>
      <span class="font-mono">eb4c533ba6f7</span> • 63MB •
      512 context window  •
      <span class="hidden sm:inline">Text input • 7 months ago</span>
    </span></div>
  </a>
  <div class="hidden md:flex flex-col">
    <div class="grid grid-cols-12 items-center">
      <span class="col-span-6">
        <a href="/library/granite-embedding:30m">granite-embedding:30m</a>
        <span class="rounded-full border">latest</span>
      </span>
      <p class="col-span-2">63MB</p><p class="col-span-2">512</p>
      <div class="col-span-2"> Text </div>
    </div>
    <div class="flex text-xs"><span class="font-mono">eb4c533ba6f7</span>&nbsp;·&nbsp;7 months ago</div>
  </div>
</div>
"""

MOBILE_ONLY_ROW = """
<div class="group">
  <a href="/library/m:7b" class="md:hidden">
    <span>m:7b</span>
    <span><span class="font-mono">0123456789ab</span> • 4.1GB • 32K context window
    • Text, Image input • 1 year ago</span>
  </a>
</div>
"""


def test_real_shaped_row_is_read_once_with_all_fields() -> None:
    (variant,) = parse_tags(
        f"<main>{REAL_SHAPED_ROW}</main>",
        model="granite-embedding",
        path="/library/granite-embedding",
    )
    assert variant.name == "granite-embedding:30m"
    assert variant.short_digest == "eb4c533ba6f7"
    assert variant.size_bytes == 63_000_000
    assert variant.context_length == 512
    assert variant.inputs == ("Text",)
    assert variant.updated == "7 months ago"
    assert variant.is_latest


def test_mobile_summary_alone_is_enough() -> None:
    (variant,) = parse_tags(MOBILE_ONLY_ROW, model="m", path="/library/m")
    assert variant.size_text == "4.1GB"
    assert variant.context_length == 32768
    assert variant.inputs == ("Text", "Image")
    assert variant.short_digest == "0123456789ab"
    assert variant.updated == "1 year ago"
    assert not variant.is_latest


def test_all_digit_short_id_is_not_taken_for_a_context_length() -> None:
    row = MOBILE_ONLY_ROW.replace("0123456789ab", "012345678901").replace(
        'class="font-mono"', ""
    )
    (variant,) = parse_tags(row, model="m", path="/library/m")
    assert variant.short_digest == "012345678901"
    assert variant.context_length == 32768


def test_community_model_tags_use_the_user_path() -> None:
    html = '<div class="group"><a href="/jdoe/tiny:q4">jdoe/tiny:q4</a> 12MB</div>'
    (variant,) = parse_tags(html, model="jdoe/tiny", path="/jdoe/tiny")
    assert variant.name == "jdoe/tiny:q4"
    assert variant.size_bytes == 12_000_000


def test_tags_page_without_tag_links_is_unavailable() -> None:
    with pytest.raises(RemoteUnavailable, match="no recognisable tags"):
        parse_tags("<main><p>Moved</p></main>", model="m", path="/library/m")


def test_search_result_of_a_community_model_keeps_its_namespace() -> None:
    html = (
        '<ul><li x-test-model><a href="/jdoe/tiny" class="group w-full">'
        "<span x-test-search-response-title>tiny</span>"
        '<p class="max-w-lg break-words">Small.</p></a></li></ul>'
    )
    page = parse_search(html, query="tiny", capability=None, page=1)
    assert [m.name for m in page.models] == ["jdoe/tiny"]
    assert page.models[0].description == "Small."


def test_library_listing_wording_for_no_results_is_an_empty_page() -> None:
    html = '<div id="repo"><ul role="list"><p>No models</p></ul></div>'
    page = parse_search(html, query="zz", capability=None, page=1)
    assert page.models == ()
    assert not page.degraded


def test_next_page_is_read_from_the_htmx_trigger() -> None:
    html = (
        "<ul><li x-test-model><a href='/library/a'>a</a></li>"
        "<li hx-get='/search?q=a&amp;c=tools&amp;page=3' hx-trigger='revealed'></li></ul>"
    )
    assert parse_search(html, query="a", capability="tools", page=2).next_page == 3
