"""The fake ollama.com + registry app, checked through HTTP like a browser would."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from bs4 import BeautifulSoup

from ollama_webmgr.sim.catalog import MANIFEST_MEDIA_TYPE, Registry
from ollama_webmgr.sim.library import LibraryFaults, create_library_app


@pytest.fixture
def registry() -> Registry:
    return Registry()


@pytest.fixture
def faults() -> LibraryFaults:
    return LibraryFaults()


@pytest.fixture
def site(registry: Registry, faults: LibraryFaults) -> Iterator[httpx.Client]:
    app = create_library_app(registry, faults, page_size=4)
    transport = httpx.WSGITransport(app=app)
    with httpx.Client(transport=transport, base_url="http://ollama.test") as client:
        yield client


def soup_of(response: httpx.Response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def test_manifest_is_served_byte_for_byte(
    site: httpx.Client, registry: Registry
) -> None:
    model = registry.lookup("qwen2.5:0.5b")
    assert model is not None
    response = site.get("/v2/library/qwen2.5/manifests/0.5b")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == MANIFEST_MEDIA_TYPE
    assert response.content == model.manifest_bytes()


def test_manifest_head_has_headers_and_no_body(
    site: httpx.Client, registry: Registry
) -> None:
    model = registry.lookup("llama3.2")
    assert model is not None
    response = site.head("/v2/library/llama3.2/manifests/latest")
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["Content-Length"]) == len(model.manifest_bytes())


@pytest.mark.parametrize(
    "path",
    [
        "/v2/library/no-such-model/manifests/latest",
        "/v2/library/llama3.2/manifests/70b",
        "/v2/someone/llama3.2/manifests/latest",
    ],
)
def test_unknown_manifest_is_a_docker_style_404(site: httpx.Client, path: str) -> None:
    response = site.get(path)
    assert response.status_code == 404
    assert json.loads(response.text)["errors"][0]["code"] == "MANIFEST_UNKNOWN"


@pytest.mark.parametrize(
    ("user_agent", "status"),
    [
        ("ollama/0.5.7 (amd64 linux) Go/go1.24", 412),
        ("Mozilla/5.0", 412),
        ("ollama/0.9.0 (arm64 darwin) Go/go1.24", 200),
        ("ollama/0.12.1 (amd64 linux) Go/go1.24", 200),
    ],
)
def test_registry_refuses_clients_older_than_the_minimum(
    site: httpx.Client, faults: LibraryFaults, user_agent: str, status: int
) -> None:
    faults.require_min_version = "0.9.0"
    response = site.get(
        "/v2/library/llama3.2/manifests/latest", headers={"User-Agent": user_agent}
    )
    assert response.status_code == status
    if status == 412:
        assert "requires a newer version of Ollama" in response.text


def test_forced_status_applies_to_every_route(
    site: httpx.Client, faults: LibraryFaults
) -> None:
    faults.status = 503
    for path in ("/search", "/library/llama3.2/tags", "/v2/library/x/manifests/y"):
        assert site.get(path).status_code == 503


def test_search_page_carries_the_scraper_markers(site: httpx.Client) -> None:
    doc = soup_of(site.get("/search", params={"q": "qwen"}))
    (item,) = doc.select("li[x-test-model]")
    assert item.select_one("a[href='/library/qwen2.5']") is not None
    title = item.select_one("[x-test-search-response-title]")
    assert title is not None
    assert title.get_text() == "qwen2.5"
    assert item.select_one("p.max-w-lg.break-words") is not None
    assert [s.get_text() for s in item.select("span[x-test-capability]")] == ["tools"]
    sizes = [s.get_text() for s in item.select("span[x-test-size]")]
    assert sizes == ["7b", "0.5b", "1.5b", "14b"]
    for marker in ("x-test-pull-count", "x-test-tag-count", "x-test-updated"):
        assert item.select_one(f"span[{marker}]") is not None


def test_search_paginates_with_an_hx_get_trigger(site: httpx.Client) -> None:
    first = soup_of(site.get("/search", params={"q": ""}))
    assert len(first.select("li[x-test-model]")) == 4
    trigger = first.select_one("li[hx-get]")
    assert trigger is not None
    assert "page=2" in str(trigger["hx-get"])
    last = soup_of(site.get("/search", params={"q": "", "page": "3"}))
    assert last.select_one("li[hx-get]") is None


def test_capability_filter_accepts_the_tool_alias(site: httpx.Client) -> None:
    def names(capability: str) -> list[str]:
        doc = soup_of(site.get("/search", params={"c": capability, "q": "ll"}))
        return [t.get_text() for t in doc.select("[x-test-search-response-title]")]

    assert names("tool") == names("tools") == ["llama3.2", "smollm2"]
    assert names("embedding") == ["all-minilm"]


def test_empty_search_says_no_models_found(site: httpx.Client) -> None:
    response = site.get("/search", params={"q": "zzzz"})
    assert response.status_code == 200
    assert "No models found" in response.text


def test_htmx_request_gets_only_the_fragment(site: httpx.Client) -> None:
    response = site.get("/search", params={"q": "phi"}, headers={"HX-Request": "true"})
    assert "<html" not in response.text
    assert "x-test-model" in response.text


def test_search_query_is_escaped_in_the_page(site: httpx.Client) -> None:
    response = site.get("/search", params={"q": '"><script>alert(1)</script>'})
    assert "<script>" not in response.text


def test_library_listing_and_model_page(site: httpx.Client) -> None:
    listing = soup_of(site.get("/library"))
    assert listing.select("li[x-test-model]")
    model = soup_of(site.get("/library/gemma3"))
    summary = model.select_one("#summary-content")
    assert summary is not None
    assert "Gemma 3" in summary.get_text()
    assert [s.get_text() for s in model.select("span[x-test-capability]")] == ["vision"]


def test_tags_page_rows_include_the_mobile_duplicate(
    site: httpx.Client, registry: Registry
) -> None:
    doc = soup_of(site.get("/library/llama3.2/tags"))
    rows = doc.select("div.group")
    assert len(rows) == 3
    assert len(doc.select("a[href='/library/llama3.2:1b']")) == 2
    assert len(doc.select(r"a.md\:hidden")) == 3
    one = registry.lookup("llama3.2:1b")
    assert one is not None
    ids = [s.get_text() for s in doc.select("span.font-mono")]
    assert one.digest[:12] in ids


def test_unknown_model_page_is_a_404_page(site: httpx.Client) -> None:
    for path in ("/library/nope", "/library/nope/tags", "/elsewhere"):
        response = site.get(path)
        assert response.status_code == 404
        assert "could not be found" in response.text


def test_changed_markup_drops_the_markers(
    site: httpx.Client, faults: LibraryFaults
) -> None:
    faults.markup_changed = True
    search = site.get("/search", params={"q": ""}).text
    tags = site.get("/library/llama3.2/tags").text
    assert "x-test-" not in search
    assert "/library/llama3.2" in search
    assert 'class="group' not in tags
    assert "font-mono" not in tags


def test_posting_to_a_page_is_not_allowed(site: httpx.Client) -> None:
    assert site.post("/search").status_code == 405
