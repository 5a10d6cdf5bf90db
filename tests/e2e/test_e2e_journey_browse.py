"""Journeys that look without changing anything: the dashboard, the list of one
server and of all of them, a model's page, the search and a model's variants.
Each is walked at 390 px and at 1280 px."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from journey_support import Person, Site, serve_site
from playwright.sync_api import Locator, expect

pytestmark = pytest.mark.e2e

FRENCH_SIZE = re.compile(r"^\d+(,\d)?\s(o|ko|Mo|Go)$")


@pytest.fixture(scope="module")
def site(
    chromium_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    models = [
        (
            "smollm2:135m",
            "all-minilm:latest",
            "qwen2.5:0.5b",
            "nomic-embed-text:latest",
        ),
        ("smollm2:135m", "gemma3:1b"),
    ]
    with serve_site(tmp_path_factory.mktemp("browse"), models) as running:
        running.load(0, "smollm2:135m")
        yield running


def one_line(locator: Locator) -> bool:
    """Does no text inside the element wrap (each text sits on one line)?"""
    wrapped: bool = locator.evaluate(
        """(el) => {
          const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
          for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            if (!node.textContent.trim()) continue;
            const range = document.createRange();
            range.selectNodeContents(node);
            const tops = [...range.getClientRects()].map((r) => r.top);
            if (tops.some((top) => Math.abs(top - tops[0]) > 4)) return true;
          }
          return false;
        }"""
    )
    return not wrapped


def test_dashboard_summarises_the_fleet_in_french(person: Person, site: Site) -> None:
    page = person.page
    page.goto("/")
    expect(page.get_by_role("heading", name="Tableau de bord", level=1)).to_be_visible()
    summary = page.locator("[data-summary]")
    expect(
        summary.locator("li").filter(has_text="Serveurs joignables")
    ).to_contain_text("2 / 2")
    expect(summary.locator("li").filter(has_text="Modèles installés")).to_contain_text(
        "6"
    )
    disk = page.locator("[data-summary-disk]").inner_text()
    assert FRENCH_SIZE.match(disk), disk
    loaded = summary.locator("li").filter(has_text="Modèles chargés")
    expect(loaded).to_contain_text("1")
    expect(loaded).to_contain_text("en VRAM")
    primary = page.locator(f"#servers [data-server='{site.nodes[0]}']")
    expect(primary).to_contain_text("4 modèles")
    expect(primary).to_contain_text("1 chargé")
    expect(page.locator("#servers [data-server]").nth(1)).to_contain_text("0 chargé")
    running = page.locator("[data-dashboard-running]")
    expect(running).to_contain_text("smollm2:135m")
    expect(page.get_by_text("Aucune tâche en cours.")).to_be_visible()
    person.shot("dashboard")
    page.get_by_role("link", name="Modèles installés").click()
    expect(page.get_by_role("heading", name="Modèles", level=1)).to_be_visible()
    person.no_problem()


def test_models_of_one_server_then_of_all_servers(person: Person, site: Site) -> None:
    page = person.page
    page.goto("/models")
    chooser = page.get_by_label("Serveur affiché")
    expect(chooser).to_have_value(site.nodes[0])
    expect(
        page.get_by_role("heading", name=f"Modèles de {site.nodes[0]}")
    ).to_contain_text("4 modèles")
    row = person.model_row("smollm2:135m")
    expect(row).to_contain_text("135 M param. · F16")
    expect(row).to_contain_text("en mémoire")
    expect(row).to_contain_text(re.compile(r"Taille\s*\d+\s(ko|Mo|Go)"))
    laid_out = row.evaluate("(tr) => getComputedStyle(tr).display")
    assert laid_out == ("block" if person.phone else "table-row")
    person.shot("models-one-server")

    chooser.select_option(label="Tous les serveurs")
    expect(
        page.get_by_role("heading", name="Modèles de tous les serveurs")
    ).to_be_visible()
    expect(page).to_have_url(re.compile(r"server=all"))
    shared = person.model_row("smollm2:135m")
    expect(shared.locator("td").filter(has_text="Serveurs")).to_contain_text(
        re.compile(f"{site.nodes[0]}\\s*{site.nodes[1]}")
    )
    expect(person.model_row("gemma3:1b")).to_contain_text(site.nodes[1])
    if not person.phone:
        # At 1280 px nothing in a row wraps: names, sizes, dates stay whole.
        for name in ("smollm2:135m", "nomic-embed-text:latest", "gemma3:1b"):
            cells = person.model_row(name).locator("th span:first-child, td")
            for index in range(cells.count() - 1):  # the actions cell aside
                cell = cells.nth(index)
                if cell.inner_text().strip():
                    assert one_line(cell), (name, cell.inner_text())
    person.shot("models-all-servers")

    # The choice is kept: the « Modèles » tab shows all servers again.
    page.get_by_role("link", name="Tableau de bord").click()
    page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Modèles"
    ).click()
    expect(page.get_by_label("Serveur affiché")).to_have_value("all")
    page.get_by_label("Serveur affiché").select_option(site.nodes[0])
    expect(
        page.get_by_role("heading", name=f"Modèles de {site.nodes[0]}")
    ).to_be_visible()
    person.no_problem()


def test_a_model_page_shows_its_details_in_french(person: Person, site: Site) -> None:
    page = person.page
    page.goto(f"/models?server={site.nodes[0]}")
    sheet = person.open_actions("smollm2:135m")
    sheet.get_by_role("link", name="Détails").click()
    expect(page.get_by_role("heading", name="smollm2:135m", level=1)).to_be_visible()
    expect(page.get_by_text(f"Sur {site.nodes[0]}")).to_be_visible()
    expect(page.get_by_text("en mémoire", exact=True)).to_be_visible()
    capabilities = page.get_by_role("list", name="Capacités")
    expect(capabilities).to_have_text(re.compile("génération.*outils", re.S))
    details = page.locator("section[aria-labelledby=details-title]")
    expect(details).to_contain_text("135 M")
    expect(details).to_contain_text(re.compile(r"Contexte\s*\d{1,3}(\s\d{3})+ jetons"))
    holders = page.locator("[data-holder]")
    expect(holders).to_have_count(2)
    expect(holders.nth(0)).to_contain_text("(affiché ici)")
    holders.nth(1).get_by_role("link").click()
    expect(page.get_by_text(f"Sur {site.nodes[1]}")).to_be_visible()
    expect(page.get_by_text("en mémoire", exact=True)).to_have_count(0)
    person.shot("model-detail")
    page.get_by_role("link", name="← Modèles").click()
    expect(page.get_by_label("Serveur affiché")).to_have_value(site.nodes[1])
    person.no_problem()


def test_search_then_variants_in_french(person: Person, site: Site) -> None:
    page = person.page
    page.goto("/search")
    page.get_by_label("Nom ou description du modèle").fill("qwen")
    card = page.locator("[data-remote-model='qwen2.5']")
    expect(card).to_be_visible()
    expect(card.get_by_role("list", name="Capacités")).to_contain_text("outils")
    expect(card).to_contain_text(re.compile(r"Téléchargements\s*\d+(,\d)?\s(k|M)"))
    expect(card).to_contain_text(re.compile(r"Mis à jour\s*il y a \d+ mois"))
    expect(card).to_contain_text("7 Md")
    page.get_by_label("Images").check()  # the vision filter
    expect(page.locator("[data-remote-model='qwen2.5']")).to_have_count(0)
    page.get_by_label("Tous").check()
    expect(card).to_be_visible()
    page.wait_for_load_state("networkidle")  # the results are swapped in once
    card.get_by_role("button", name="Voir les variantes").click()
    variant = card.locator("[data-variant='qwen2.5:0.5b']")
    expect(variant).to_contain_text("installé")
    expect(variant).to_contain_text(
        re.compile(r"\d+\s(ko|Mo)\s*·\s*contexte\s*\d+\s\d{3} jetons")
    )
    expect(variant).to_contain_text("entrée texte")
    expect(
        variant.get_by_role("button", name=f"Télécharger sur {site.nodes[0]}")
    ).to_be_visible()
    expect(variant.get_by_role("button", name="Télécharger sur tous")).to_be_visible()
    person.shot("search-variants")
    person.no_problem()
