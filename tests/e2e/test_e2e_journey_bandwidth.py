"""The bandwidth budget in the browser: the « Téléchargements » form (a bad
cap refused in French, then a cap kept) and, while a pull runs under it, the
line's use on the jobs panel and the pull's part on its card.

Walked at 390 px. The web app is served on the port the nodes are given as
``SEED_CACHE_URL``: under a cap, even a pull to one server goes through the
seed cache, whose download from the fake registry is paced.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from journey_support import Person, Site, job_card
from playwright.sync_api import expect

from fleet_support import closed_port_url, fleet_settings
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import running_fleet
from ollama_webmgr.sim.serve import serve_in_thread

pytestmark = pytest.mark.e2e

MODEL = "gemma3:1b"  # 0.8 MB in the scaled catalogue: 4 s at 0,2 Mo/s
CAP_FIELD = "Débit maximal depuis Internet (Mo/s)"


@pytest.fixture(scope="module")
def site(
    chromium_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    url = closed_port_url()
    data_dir = Path(tmp_path_factory.mktemp("bandwidth"))
    with running_fleet([("smollm2:135m",)], token_delay=0.0) as fleet:
        settings = fleet_settings(
            fleet, data_dir, models_cache_ttl=0.5, seed_cache_url=url
        )
        port = int(urlsplit(url).port or 0)
        with serve_in_thread(create_app(settings), port=port) as server:
            yield Site(fleet, server.url)


@pytest.mark.parametrize("device", ["phone"])
def test_a_cap_is_set_in_the_form_and_a_pull_shows_its_part(
    person: Person, site: Site
) -> None:
    page = person.page
    page.goto("/telechargements")
    page.get_by_label(CAP_FIELD).fill("vite")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.locator("#downloads-error")).to_contain_text(
        "un débit positif en Mo/s, ou vide (illimité), attendu"
    )
    person.refused(400)
    person.shot("downloads-refused")
    page.get_by_label(CAP_FIELD).fill("0,2")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.locator("#downloads-message")).to_contain_text("Réglages enregistrés")
    expect(page.locator("[data-role='bandwidth-use']")).to_contain_text(
        "sur 200\xa0ko/s"
    )

    page.goto(f"/models?server={site.nodes[0]}")
    page.get_by_role("button", name="Télécharger un modèle").click()
    sheet = page.get_by_role("dialog", name="Télécharger un modèle")
    sheet.get_by_label("Nom du modèle").fill(MODEL)
    sheet.get_by_role("button", name="Télécharger", exact=True).click()
    card = job_card(page, f"Téléchargement de {MODEL}")
    expect(card.locator("[data-role='share']")).to_contain_text(
        re.compile(r"part : [1-9]\d*\xa0ko/s")
    )
    use = page.locator("#jobs [data-role='bandwidth-use']")
    expect(use).to_contain_text(re.compile(r"^[1-9]\d*\xa0ko/s sur 200\xa0ko/s$"))
    person.shot("pull-under-cap")
    expect(person.toasts()).to_contain_text(
        f"Téléchargement terminé : {MODEL}", timeout=30_000
    )
    assert MODEL in site.installed(0)
    person.no_problem()
