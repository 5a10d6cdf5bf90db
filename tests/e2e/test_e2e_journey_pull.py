"""Pull journeys: live progress, a reload in the middle, cancel (confirmed), retry
that resumes, a model the library does not have, and a pull started from the
variants of the search page. Each is walked at 390 px and at 1280 px, with a
model of its own (a model pulled once is then installed)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from journey_support import (
    Person,
    Site,
    job_card,
    serve_site,
)
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

#: English a pull's card must never show (Ollama's own status lines)
ENGLISH = re.compile(r"pulling|manifest|success|verifying|writing|ago\b", re.I)


@pytest.fixture(scope="module")
def site(
    chromium_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    models = [("smollm2:135m",), ("smollm2:135m",)]
    with serve_site(tmp_path_factory.mktemp("pull"), models) as running:
        yield running


def bandwidth(site: Site, bytes_per_second: float) -> None:
    """How fast the nodes download (set before a pull starts), in the library's
    bytes: the emulator's catalogue is scaled (sim/catalog.py), so is the rate."""
    for node in site.fleet.nodes:
        node.state.bandwidth = bytes_per_second * site.fleet.registry.scale


def start_pull(person: Person, name: str) -> None:
    page = person.page
    page.get_by_role("button", name="Télécharger un modèle").click()
    sheet = page.get_by_role("dialog", name="Télécharger un modèle")
    expect(sheet).to_be_visible()
    sheet.get_by_label("Nom du modèle").fill(name)
    sheet.get_by_role("button", name="Télécharger", exact=True).click()
    expect(sheet).to_be_hidden()


def percent(page: Page, title: str) -> int:
    text = job_card(page, title).locator("progress").evaluate("(bar) => bar.value")
    return int(text or 0)


def wait_percent_above(page: Page, title: str, floor: int) -> int:
    selector = ".job-card"
    page.wait_for_function(
        """([selector, title, floor]) => [...document.querySelectorAll(selector)]
             .some((card) => card.textContent.includes(title)
                   && (card.querySelector("progress")?.value ?? 0) > floor)""",
        arg=[selector, title, floor],
    )
    return percent(page, title)


MODELS = {
    "live": {"phone": "tinyllama:latest", "desktop": "smollm2:360m"},
    "reload": {"phone": "gemma3:1b", "desktop": "qwen2.5:1.5b"},
    "cancel": {"phone": "llama3.2:1b", "desktop": "deepseek-r1:1.5b"},
    "retry": {"phone": "qwen2.5:0.5b", "desktop": "nomic-embed-text:latest"},
    "variant": {"phone": "smollm2:1.7b", "desktop": "llama3.2:3b"},
}


def test_pull_shows_live_progress_in_french_then_the_model(
    person: Person, site: Site
) -> None:
    model = MODELS["live"][person.device]
    bandwidth(site, 150e6)
    page = person.page
    page.goto(f"/models?server={site.nodes[0]}")
    start_pull(person, model)
    expect(person.toasts()).to_contain_text("Téléchargement lancé.")
    card = job_card(page, f"Téléchargement de {model}")
    expect(card).to_contain_text(f"sur {site.nodes[0]}")
    wait_percent_above(page, model, 5)
    # The label follows the job: never « en attente » while the bar moves.
    expect(card.locator("label")).to_have_text("en cours")
    expect(card).to_contain_text(
        re.compile(r"téléchargement de la couche [0-9a-f]{12}")
    )
    expect(card).to_contain_text(
        re.compile(r"\d+(,\d)?\s(ko|Mo|Go) / \d+(,\d)?\s(ko|Mo|Go) · ")
    )
    expect(card).to_contain_text(re.compile(r"(ko|Mo)/s · reste \d+\ss"))
    assert not ENGLISH.search(card.inner_text())
    person.shot("pull-live")

    expect(person.toasts()).to_contain_text(
        f"Téléchargement terminé : {model} sur {site.nodes[0]}", timeout=30_000
    )
    expect(person.model_row(model)).to_be_visible()
    finished = person.finished_jobs()
    expect(finished).to_contain_text(f"Téléchargement de {model}")
    expect(finished.locator(f"[data-job-model='{model}']")).to_contain_text("terminé")
    expect(card).to_have_count(0)
    person.shot("pull-done")
    person.no_problem()


def test_a_reload_in_the_middle_follows_the_same_pull(
    person: Person, site: Site
) -> None:
    model = MODELS["reload"][person.device]
    bandwidth(site, 120e6)
    page = person.page
    page.goto(f"/models?server={site.nodes[0]}")
    start_pull(person, model)
    midway = wait_percent_above(page, model, 10)
    assert midway < 100
    page.reload()
    card = job_card(page, f"Téléchargement de {model}")
    expect(card.locator("label")).to_have_text("en cours")
    assert percent(page, model) >= midway  # where it was, not from zero
    wait_percent_above(page, model, midway)
    person.shot("pull-after-reload")
    expect(person.toasts()).to_contain_text("Téléchargement terminé", timeout=30_000)
    expect(person.model_row(model)).to_be_visible()
    person.no_problem()


def test_cancelling_a_pull_asks_first_then_stops_it(person: Person, site: Site) -> None:
    model = MODELS["cancel"][person.device]
    bandwidth(site, 40e6)
    page = person.page
    page.goto(f"/models?server={site.nodes[0]}")
    start_pull(person, model)
    wait_percent_above(page, model, 2)
    card = job_card(page, f"Téléchargement de {model}")
    card.get_by_role("button", name="Annuler").click()
    dialog = page.get_by_role("dialog", name="Confirmation")
    expect(dialog).to_contain_text(f"Annuler le téléchargement de {model}")
    dialog.get_by_role("button", name="Annuler").click()  # changed my mind
    expect(dialog).to_be_hidden()
    expect(card.locator("label")).to_have_text("en cours")
    card.get_by_role("button", name="Annuler").click()
    person.confirm("reprendra où il s’est arrêté")
    expect(person.toasts()).to_contain_text(f"Téléchargement annulé : {model}")
    row = person.finished_jobs().locator(f"[data-job-model='{model}']")
    expect(row).to_contain_text("annulé")
    expect(row).to_contain_text("Tâche annulée.")
    expect(person.model_row(model)).to_have_count(0)
    person.shot("pull-cancelled")
    person.no_problem()


def test_retry_resumes_a_cancelled_pull(person: Person, site: Site) -> None:
    model = MODELS["retry"][person.device]
    bandwidth(site, 30e6)
    page = person.page
    page.goto(f"/models?server={site.nodes[0]}")
    start_pull(person, model)
    stopped_at = wait_percent_above(page, model, 20)
    job_card(page, f"Téléchargement de {model}").get_by_role(
        "button", name="Annuler"
    ).click()
    person.confirm(f"Annuler le téléchargement de {model}")
    row = person.finished_jobs().locator(f"[data-job-model='{model}']")
    expect(row).to_contain_text("annulé")
    bandwidth(site, 200e6)
    row.get_by_role("button", name="Réessayer").click()
    expect(person.toasts()).to_contain_text("Tâche relancée.")
    # It goes on from what was already downloaded.
    expect(person.toasts()).to_contain_text("Téléchargement terminé", timeout=30_000)
    expect(person.model_row(model)).to_be_visible()
    assert stopped_at > 0
    person.shot("pull-retried")
    person.no_problem()


def test_a_model_missing_from_the_library_says_so_in_french(
    person: Person, site: Site
) -> None:
    page = person.page
    page.goto(f"/models?server={site.nodes[0]}")
    start_pull(person, f"nexistepas-{person.device}:7b")
    expect(person.toasts()).to_contain_text(
        "Ce modèle n’existe pas dans la bibliothèque Ollama"
    )
    finished = person.finished_jobs()
    expect(finished.locator("summary")).to_contain_text(re.compile(r"\d+ échecs?"))
    row = finished.locator(f"[data-job-model='nexistepas-{person.device}:7b']")
    expect(row).to_contain_text("échec")
    expect(row).to_contain_text("vérifiez son nom et son étiquette")
    assert "file does not exist" not in page.inner_text("body")
    person.shot("pull-unknown-model")
    # Finished tasks go away when the person dismisses them.
    row.get_by_role("button", name=re.compile("^Masquer")).click()
    expect(row).to_have_count(0)
    person.no_problem()


def test_a_pull_from_the_variants_shows_the_same_card_and_waits_for_its_end(
    person: Person, site: Site
) -> None:
    variant = MODELS["variant"][person.device]
    family = variant.split(":")[0]
    bandwidth(site, 250e6)
    page = person.page
    page.goto(f"/search?q={family}")
    card = page.locator(f"[data-remote-model='{family}']")
    card.get_by_role("button", name="Voir les variantes").click()
    row = card.locator(f"[data-variant='{variant}']")
    here = row.get_by_role("button", name=f"Télécharger sur {site.nodes[0]}")
    everywhere = row.get_by_role("button", name="Télécharger sur tous")
    here.click()
    expect(person.toasts()).to_contain_text("Téléchargement lancé.")
    job = job_card(page, f"Téléchargement de {variant}")
    expect(job).to_contain_text(f"sur {site.nodes[0]}")
    expect(job.locator("label")).to_have_text("en cours")
    expect(job).to_contain_text(re.compile(r"(ko|Mo)/s"))
    expect(everywhere).to_be_disabled()
    expect(here).to_be_disabled()
    person.shot("variant-pull")
    expect(person.toasts()).to_contain_text(
        f"Téléchargement terminé : {variant}", timeout=30_000
    )
    expect(job.locator("label")).to_have_text("terminé")
    expect(everywhere).to_be_enabled()
    person.no_problem()
