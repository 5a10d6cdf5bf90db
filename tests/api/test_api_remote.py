from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import SMALL, server_names, services
from flask.testing import FlaskClient

from fleet_support import fleet_settings
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import EmulatedFleet


@pytest.fixture
def offline(fleet: EmulatedFleet, tmp_path: Path) -> Iterator[FlaskClient]:
    """The app with ollama.com pointing at a closed port."""
    app = create_app(fleet_settings(fleet, tmp_path, library_url="http://127.0.0.1:9"))
    with app.test_client() as client:
        yield client
    services(app).close()


def test_search_returns_models_from_the_site(client: FlaskClient) -> None:
    body = client.get("/api/remote/search?q=smollm2").json
    assert [m["name"] for m in body["models"]] == ["smollm2"]
    assert body["page"] == 1
    assert body["query"] == "smollm2"
    assert body["models"][0]["description"]


def test_search_refuses_a_bad_page_or_capability(client: FlaskClient) -> None:
    page = client.get("/api/remote/search?q=x&page=abc")
    capability = client.get("/api/remote/search?q=x&c=%3Cscript%3E")
    too_long = client.get("/api/remote/search?q=" + "a" * 200)
    assert page.status_code == 400
    assert "page" in page.json["error"]["message"]
    assert capability.status_code == 400
    assert too_long.status_code == 400
    assert too_long.json["error"]["message"].startswith("Recherche invalide")


def test_variants_say_what_is_installed_and_up_to_date(
    fleet: EmulatedFleet, client: FlaskClient
) -> None:
    body = client.get("/api/remote/variants?model=smollm2").json
    rows = {v["name"]: v for v in body["variants"]}
    assert rows[SMALL]["installed"] is True
    assert rows[SMALL]["up_to_date"] is True
    assert len(rows[SMALL]["short_digest"]) == 12
    others = [v for name, v in rows.items() if name != SMALL]
    assert others
    assert all(v["installed"] is False for v in others)


def test_variants_see_an_update_published_on_the_registry(
    fleet: EmulatedFleet, client: FlaskClient
) -> None:
    fleet.registry.publish_update(SMALL)
    second = server_names(fleet)[1]
    rows = client.get(f"/api/remote/variants?model=smollm2&server={second}").json
    mine = next(v for v in rows["variants"] if v["name"] == SMALL)
    assert mine["installed"] is True
    assert mine["up_to_date"] is False


def test_variants_need_a_model_and_unknown_models_are_404(client: FlaskClient) -> None:
    missing = client.get("/api/remote/variants")
    unknown = client.get("/api/remote/variants?model=no-such-model-here")
    assert missing.status_code == 400
    assert missing.json["error"]["message"] == "Paramètre « model » manquant."
    assert unknown.status_code == 404
    assert unknown.json["error"]["message"] == "Modèle introuvable sur ollama.com."


def test_site_down_is_a_503_in_french(offline: FlaskClient) -> None:
    search = offline.get("/api/remote/search?q=qwen")
    variants = offline.get("/api/remote/variants?model=qwen2.5")
    for response in (search, variants):
        assert response.status_code == 503
        assert response.json["error"]["message"].startswith("Recherche indisponible")
