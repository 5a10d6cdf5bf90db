"""The ollama.com scraper against the fake site, in process and over a socket."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from ollama_client_helpers import CountingTransport

from fleet_support import closed_port_url
from ollama_webmgr.errors import (
    InvalidModelName,
    InvalidSearchQuery,
    RemoteModelNotFound,
    RemoteUnavailable,
)
from ollama_webmgr.ollama.library import BROWSER_USER_AGENT, LibraryClient
from ollama_webmgr.sim.catalog import Registry
from ollama_webmgr.sim.library import LibraryFaults, create_library_app
from ollama_webmgr.sim.serve import serve_in_thread


@pytest.fixture(name="closed_port_url")
def closed_port_url_fixture() -> str:
    return closed_port_url()


@pytest.fixture
def registry() -> Registry:
    return Registry()


@pytest.fixture
def faults() -> LibraryFaults:
    return LibraryFaults()


@pytest.fixture
def transport(registry: Registry, faults: LibraryFaults) -> CountingTransport:
    app = create_library_app(registry, faults, page_size=5)
    return CountingTransport(httpx.WSGITransport(app=app))


@pytest.fixture
def library(transport: CountingTransport) -> Iterator[LibraryClient]:
    with LibraryClient("http://ollama.test", transport=transport) as client:
        yield client


def test_search_by_text_returns_matching_models_with_badges(
    library: LibraryClient,
) -> None:
    page = library.search("llama3")
    assert [m.name for m in page.models] == ["llama3.2"]
    model = page.models[0]
    assert model.description == "Meta's Llama 3.2 small models, 1B and 3B."
    assert model.capabilities == ("tools",)
    assert model.sizes == ("3b", "1b")
    assert model.tag_count == 3
    assert model.pull_count is not None
    assert model.pull_count[-1] in "KM"
    assert model.updated is not None
    assert model.updated.endswith("ago")
    assert page.next_page is None
    assert not page.degraded


def test_search_matches_descriptions_too(library: LibraryClient) -> None:
    names = [m.name for m in library.search("embedding").models]
    assert names == ["nomic-embed-text", "all-minilm"]


def test_search_filters_by_capability(library: LibraryClient) -> None:
    page = library.search("", capability="vision")
    assert [m.name for m in page.models] == ["gemma3", "llava"]
    assert all("vision" in m.capabilities for m in page.models)


def test_search_pages_follow_the_next_page_marker(library: LibraryClient) -> None:
    seen: list[str] = []
    page_number: int | None = 1
    while page_number is not None:
        page = library.search("", page=page_number)
        assert page.page == page_number
        seen.extend(m.name for m in page.models)
        page_number = page.next_page
    assert len(seen) == len(set(seen)) == len(Registry().models())
    assert library.search("", page=3).next_page is None


def test_search_without_results_is_an_empty_page(library: LibraryClient) -> None:
    page = library.search("no-such-model-anywhere")
    assert page.models == ()
    assert page.next_page is None


def test_variants_are_deduplicated_and_mark_latest(
    library: LibraryClient, registry: Registry
) -> None:
    variants = library.variants("llama3.2")
    assert [v.tag for v in variants] == ["latest", "3b", "1b"]
    latest, three, one = variants
    assert three.name == "llama3.2:3b"
    assert latest.is_latest
    assert three.is_latest
    assert not one.is_latest
    # the fake site shows the scaled catalogue's sizes ("2.0GB" on ollama.com)
    assert three.size_text == "2MB"
    assert three.size_bytes == 2_000_000
    assert three.context_text == "128K"
    assert three.context_length == 131072
    assert three.inputs == ("Text",)
    assert three.updated is not None
    assert three.updated.endswith("ago")
    for variant in variants:
        model = registry.lookup(variant.name)
        assert model is not None
        assert variant.short_digest == model.digest[:12]


def test_variants_of_a_vision_model_list_image_input(library: LibraryClient) -> None:
    one = {v.tag: v for v in library.variants("gemma3")}["1b"]
    assert one.inputs == ("Text", "Image")
    assert (
        one.size_text == "816KB"
    )  # "815MB" on ollama.com: scaled, plus the text layers
    assert one.size_bytes == 816_000


def test_variants_ids_change_after_an_upstream_update(
    library: LibraryClient, registry: Registry
) -> None:
    before = {v.tag: v.short_digest for v in library.variants("qwen2.5")}
    updated = registry.publish_update("qwen2.5:0.5b")
    library.clear_cache()
    after = {v.tag: v.short_digest for v in library.variants("qwen2.5")}
    assert after["0.5b"] == updated.digest[:12] != before["0.5b"]
    assert after["7b"] == before["7b"]


def test_variants_accept_any_case_and_a_tag_and_use_the_site_spelling(
    library: LibraryClient,
) -> None:
    variants = library.variants("Mistral:7b")
    assert [v.name for v in variants] == ["mistral:latest", "mistral:7b"]


def test_unknown_model_raises_remote_model_not_found(library: LibraryClient) -> None:
    with pytest.raises(RemoteModelNotFound):
        library.variants("no-such-model")


def test_invalid_or_foreign_model_names_are_rejected_before_any_request(
    library: LibraryClient, transport: CountingTransport
) -> None:
    with pytest.raises(InvalidModelName):
        library.variants("bad name")
    with pytest.raises(InvalidModelName, match=r"not an ollama\.com model"):
        library.variants("hf.co/bartowski/Qwen-GGUF:Q4_K_M")
    assert transport.requests == []


@pytest.mark.parametrize(
    ("query", "capability", "page"),
    [("x" * 101, None, 1), ("llama", "vision; DROP", 1), ("llama", None, 0)],
)
def test_bad_search_input_raises_invalid_search_query(
    library: LibraryClient,
    transport: CountingTransport,
    query: str,
    capability: str | None,
    page: int,
) -> None:
    with pytest.raises(InvalidSearchQuery):
        library.search(query, capability=capability, page=page)
    assert transport.requests == []


def test_changed_markup_falls_back_to_library_links(
    library: LibraryClient, faults: LibraryFaults
) -> None:
    faults.markup_changed = True
    page = library.search("qwen")
    assert page.degraded
    assert [m.name for m in page.models] == ["qwen2.5"]
    assert page.models[0].description.startswith("Qwen2.5 models")
    assert page.models[0].capabilities == ()


def test_changed_markup_still_yields_variants_with_ids(
    library: LibraryClient, faults: LibraryFaults, registry: Registry
) -> None:
    faults.markup_changed = True
    variants = library.variants("gemma3")
    assert [v.tag for v in variants] == ["latest", "4b", "1b", "12b"]
    model = registry.lookup("gemma3:12b")
    assert model is not None
    assert variants[3].short_digest == model.digest[:12]
    assert variants[1].is_latest
    assert not variants[2].is_latest


def test_page_without_anything_recognisable_is_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, html="<html><body><p>Maintenance</p></body></html>")

    with (
        LibraryClient("http://x", transport=httpx.MockTransport(handler)) as client,
        pytest.raises(RemoteUnavailable, match="markup may have changed"),
    ):
        client.search("llama")


def test_server_error_status_is_unavailable(
    library: LibraryClient, faults: LibraryFaults
) -> None:
    faults.status = 503
    with pytest.raises(RemoteUnavailable, match="HTTP 503"):
        library.search("llama")
    with pytest.raises(RemoteUnavailable, match="HTTP 503"):
        library.variants("llama3.2")


def test_second_identical_search_is_served_from_cache(
    library: LibraryClient, transport: CountingTransport
) -> None:
    first = library.search("qwen")
    second = library.search("qwen")
    assert first == second
    assert len(transport.requests) == 1
    library.search("qwen", capability="tools")
    assert len(transport.requests) == 2


def test_cache_entries_expire_after_the_ttl(transport: CountingTransport) -> None:
    now = [1000.0]
    with LibraryClient(
        "http://ollama.test", transport=transport, cache_ttl=60, clock=lambda: now[0]
    ) as client:
        client.variants("phi3")
        now[0] += 59
        client.variants("phi3")
        assert len(transport.requests) == 1
        now[0] += 2
        client.variants("phi3")
        assert len(transport.requests) == 2


def test_failures_are_not_cached(
    library: LibraryClient, faults: LibraryFaults, transport: CountingTransport
) -> None:
    faults.status = 503
    with pytest.raises(RemoteUnavailable):
        library.search("phi")
    faults.status = None
    assert [m.name for m in library.search("phi").models] == ["phi3"]
    assert len(transport.requests) == 2


def test_requests_carry_a_browser_user_agent(
    library: LibraryClient, transport: CountingTransport
) -> None:
    library.search("phi")
    assert transport.requests[0].headers["User-Agent"] == BROWSER_USER_AGENT


def test_scraper_works_over_a_real_socket(registry: Registry) -> None:
    app = create_library_app(registry, page_size=5)
    with serve_in_thread(app) as server, LibraryClient(server.url) as client:
        page = client.search("", page=2)
        assert len(page.models) == 5
        assert page.next_page == 3
        tags = [v.tag for v in client.variants("smollm2")]
        assert tags == ["latest", "1.7b", "360m", "135m"]


def test_slow_site_times_out_as_unavailable(registry: Registry) -> None:
    app = create_library_app(registry, LibraryFaults(delay=0.5))
    with (
        serve_in_thread(app) as server,
        LibraryClient(server.url, timeout=0.1) as client,
        pytest.raises(RemoteUnavailable, match="in time"),
    ):
        client.search("llama")


def test_unreachable_site_is_unavailable(closed_port_url: str) -> None:
    with (
        LibraryClient(closed_port_url) as client,
        pytest.raises(RemoteUnavailable, match="cannot reach"),
    ):
        client.search("llama")


def test_capability_filter_ignores_case(library: LibraryClient) -> None:
    assert library.search("", capability="Vision") == library.search(
        "", capability="vision"
    )


def test_cache_keeps_at_most_cache_size_pages(transport: CountingTransport) -> None:
    with LibraryClient(
        "http://ollama.test", transport=transport, cache_size=2
    ) as client:
        for query in ("a", "b", "c"):
            client.search(query)
        client.search("c")  # newest: still cached
        assert len(transport.requests) == 3
        client.search("a")  # oldest: evicted
        assert len(transport.requests) == 4


def test_concurrent_searches_share_one_client_safely(registry: Registry) -> None:
    queries = ["llama", "qwen", "gemma", "phi"] * 4
    with (
        serve_in_thread(create_library_app(registry)) as server,
        LibraryClient(server.url) as client,
        ThreadPoolExecutor(max_workers=8) as pool,
    ):
        pages = list(pool.map(client.search, queries))
    for query, page in zip(queries, pages, strict=True):
        assert page.models
        assert all(query in m.name for m in page.models)
