from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient
from web_support import SERVERS, inline_code_problems, parse

import ollama_webmgr.web

NAV = {
    "/": "Tableau de bord",
    "/models": "Modèles",
    "/running": "En cours",
    "/search": "Recherche",
    "/servers": "Serveurs",
}


def test_dashboard_lists_every_configured_server_with_its_address(
    client: FlaskClient,
) -> None:
    doc = parse(client.get("/").data)
    items = doc.select("#servers li")
    addresses = [item.select("p")[1].get_text(strip=True) for item in items]
    assert addresses == ["http://localhost:11434", *SERVERS]
    name = items[1].select_one("[data-server-name]")
    assert name is not None
    assert name.get_text(strip=True) == "gpu-a:11434"
    assert "principal" in items[0].get_text()


def test_pages_are_french_with_landmarks_and_main_navigation(
    client: FlaskClient,
) -> None:
    doc = parse(client.get("/").data)
    assert doc.html is not None
    assert doc.html["lang"] == "fr"
    assert doc.find("main", id="contenu") is not None
    nav = doc.find("nav", attrs={"aria-label": "Navigation principale"})
    assert nav is not None
    links = {a["href"]: a.get_text(strip=True) for a in nav.find_all("a")}
    assert links == NAV
    assert nav.find("a", attrs={"aria-current": "page"})["href"] == "/"
    status = doc.find(id="toasts")
    assert status["role"] == "status"
    assert status["aria-live"] == "polite"


def test_the_header_offers_no_server_selector_that_pages_would_ignore(
    client: FlaskClient,
) -> None:
    # Each page that works on one server has its own selector (models, search).
    doc = parse(client.get("/").data)
    assert doc.find("header").find("select") is None


def test_page_carries_a_csrf_token_for_scripts(client: FlaskClient) -> None:
    meta = parse(client.get("/").data).find("meta", attrs={"name": "csrf-token"})
    assert meta is not None
    assert len(meta["content"]) > 20


def test_page_loads_hashed_assets_as_external_deferred_scripts(
    client: FlaskClient,
) -> None:
    doc = parse(client.get("/").data)
    scripts = [tag["src"] for tag in doc.find_all("script")]
    # The shell's scripts first; a page may add its own after them.
    assert [src.split("/")[-1].split(".")[0] for src in scripts][:5] == [
        "htmx",
        "app",
        "pwa",
        "jobs",
        "alpine",
    ]
    assert all(tag.has_attr("defer") for tag in doc.find_all("script"))
    stylesheet = doc.find("link", rel="stylesheet")["href"]
    assert stylesheet.startswith("/static/dist/app.")
    with client.get(stylesheet) as response:
        assert response.status_code == 200


def test_htmx_request_gets_only_the_content_block(client: FlaskClient) -> None:
    response = client.get("/", headers={"HX-Request": "true"})
    doc = parse(response.data)
    assert doc.find("html") is None
    assert doc.find("nav") is None
    assert doc.select("#servers li")
    assert "HX-Request" in response.headers["Vary"]
    full = client.get("/")
    assert "HX-Request" in full.headers["Vary"]


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/", {}),
        ("/", {"HX-Request": "true"}),
        ("/no-such-page", {}),
        ("/no-such-page", {"HX-Request": "true"}),
    ],
)
def test_rendered_html_has_no_inline_script_style_or_event_handler(
    client: FlaskClient, path: str, headers: dict[str, str]
) -> None:
    doc = parse(client.get(path, headers=headers).data)
    assert inline_code_problems(doc) == []


def test_inline_code_scanner_catches_what_the_csp_would_block() -> None:
    doc = parse(
        '<script>alert(1)</script><p style="x" onclick="y">a</p>'
        '<a href="javascript:z">b</a><style>p{}</style>'
    )
    assert len(inline_code_problems(doc)) == 5


def test_no_template_source_contains_inline_code() -> None:
    templates = Path(ollama_webmgr.web.__file__).parent / "templates"
    problems = {
        path.name: found
        for path in sorted(templates.rglob("*.html"))
        if (found := inline_code_problems(parse(path.read_text(encoding="utf-8"))))
    }
    assert problems == {}
