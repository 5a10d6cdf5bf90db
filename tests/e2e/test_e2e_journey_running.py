"""Journeys around memory and job ends: the « En cours » page, eject, forced
eject (confirmed), and the notifications a person gets when a pull, an update
check or an eject ends or fails, also with the tab in the background. Walked at
390 px and at 1280 px."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_support import wait_for_service_worker
from journey_support import (
    Person,
    Site,
    serve_site,
)
from playwright.sync_api import BrowserContext, Page, expect

pytestmark = pytest.mark.e2e

INSTALLED = ("smollm2:135m", "qwen2.5:0.5b", "tinyllama:latest", "gemma3:1b")


@pytest.fixture(scope="module")
def site(
    chromium_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    with serve_site(tmp_path_factory.mktemp("running"), [INSTALLED]) as running:
        yield running


def running_entry(person: Person, model: str) -> Any:
    """The card (phone) or the table row (desktop) of a loaded model."""
    return person.page.locator(f"#running [data-model='{model}']:visible")


def test_running_page_lists_loaded_models_and_ejects_one(
    person: Person, site: Site
) -> None:
    site.load(0, "smollm2:135m")
    page = person.page
    page.goto("/")
    page.get_by_role("link", name="En cours", exact=True).click()
    expect(
        page.get_by_role("heading", name="Modèles en cours d’exécution")
    ).to_be_visible()
    entry = running_entry(person, "smollm2:135m")
    expect(entry).to_contain_text(re.compile(r"expire dans \d+ min"))
    expect(entry).to_contain_text(re.compile(r"\d+\s(ko|Mo|Go)"))
    expect(entry).to_contain_text(re.compile(r"\d{1,3}\s\d{3}"))  # context, grouped
    person.shot("running")
    entry.get_by_role("button", name="Éjecter").click()
    expect(person.toasts()).to_contain_text(f"smollm2:135m éjecté de {site.nodes[0]}.")
    expect(running_entry(person, "smollm2:135m")).to_have_count(0)
    expect(page.get_by_text("Aucun modèle chargé en mémoire.")).to_be_visible()
    assert site.loaded(0) == []
    person.no_problem()


def test_forced_eject_asks_first_then_unloads(person: Person, site: Site) -> None:
    site.load(0, "qwen2.5:0.5b")
    page = person.page
    page.goto("/running")
    entry = running_entry(person, "qwen2.5:0.5b")
    entry.get_by_role("button", name="Forcer").click()
    dialog = page.get_by_role("dialog", name="Confirmation")
    expect(dialog).to_contain_text(
        f"Forcer le déchargement de qwen2.5:0.5b sur {site.nodes[0]}"
    )
    dialog.get_by_role("button", name="Annuler").click()
    expect(dialog).to_be_hidden()
    assert site.loaded(0) == ["qwen2.5:0.5b"]  # nothing was done

    entry.get_by_role("button", name="Forcer").click()
    person.confirm("Une génération en cours avec ce modèle sera interrompue.")
    expect(person.toasts()).to_contain_text(
        f"Modèle éjecté : qwen2.5:0.5b sur {site.nodes[0]}"
    )
    expect(running_entry(person, "qwen2.5:0.5b")).to_have_count(0, timeout=10_000)
    assert site.loaded(0) == []
    person.shot("forced-eject")
    person.no_problem()


# -- notifications ---------------------------------------------------------------


def notified(page: Page, title: str, body: str) -> None:
    page.wait_for_function(
        """async ([title, body]) => {
          const registration = await navigator.serviceWorker.ready;
          const list = await registration.getNotifications();
          return list.some((n) => n.title === title && n.body.includes(body));
        }""",
        arg=[title, body],
        timeout=30_000,
    )


def go_to_background(page: Page) -> None:
    """What the browser reports when another tab is shown (headless Chromium keeps
    every tab « visible », so the page is told the way the browser would tell it)."""
    page.evaluate(
        """() => {
          Object.defineProperty(document, "visibilityState",
                                { value: "hidden", configurable: true });
          document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )


def allow_notifications(context: BrowserContext, site: Site, person: Person) -> None:
    """The person said yes to notifications; the app's worker is installed."""
    context.grant_permissions(["notifications"], origin=site.url)
    person.page.goto(f"/models?server={site.nodes[0]}")
    wait_for_service_worker(person.page)
    expect(
        person.page.get_by_role("button", name="Activer les notifications")
    ).to_be_hidden()


def pull(person: Person, name: str) -> None:
    page = person.page
    page.get_by_role("button", name="Télécharger un modèle").click()
    sheet = page.get_by_role("dialog", name="Télécharger un modèle")
    sheet.get_by_label("Nom du modèle").fill(name)
    sheet.get_by_role("button", name="Télécharger", exact=True).click()


def test_a_finished_pull_is_notified_also_in_a_background_tab(
    device_context: BrowserContext, person: Person, site: Site
) -> None:
    model = {"phone": "deepseek-r1:1.5b", "desktop": "qwen2.5:1.5b"}[person.device]
    for node in site.fleet.nodes:
        # a few seconds: time to switch tabs (sizes are scaled: so is the rate)
        node.state.bandwidth = 150e6 * node.state.registry.scale
    allow_notifications(device_context, site, person)
    page = person.page
    pull(person, model)
    expect(page.locator(".job-card").filter(has_text=model)).to_be_visible()
    go_to_background(page)
    notified(page, "Téléchargement terminé", f"{model} sur {site.nodes[0]}")
    # Nobody looks at a background tab: no toast there, the notification is enough.
    expect(person.toasts()).not_to_contain_text("Téléchargement terminé")
    person.no_problem()


def test_a_failed_pull_and_a_forced_eject_are_notified(
    device_context: BrowserContext, person: Person, site: Site
) -> None:
    allow_notifications(device_context, site, person)
    page = person.page
    pull(person, f"absent-{person.device}:1b")
    notified(page, "Échec du téléchargement", "n’existe pas dans la bibliothèque")
    expect(person.toasts()).to_contain_text("Échec du téléchargement")

    site.load(0, "tinyllama:latest")
    page.goto("/running")
    running_entry(person, "tinyllama:latest").get_by_role(
        "button", name="Forcer"
    ).click()
    person.confirm("Forcer le déchargement de tinyllama:latest")
    notified(page, "Modèle éjecté", f"tinyllama:latest sur {site.nodes[0]}")
    person.no_problem()


def test_an_update_check_is_notified(
    device_context: BrowserContext, person: Person, site: Site
) -> None:
    allow_notifications(device_context, site, person)
    page = person.page
    page.get_by_role("button", name="Vérifier les mises à jour").click()
    notified(
        page,
        "Vérification des mises à jour terminée",
        f"tous les modèles sur {site.nodes[0]}",
    )
    person.no_problem()


def test_a_pull_ending_while_on_another_page_is_announced_there(
    device_context: BrowserContext, person: Person, site: Site
) -> None:
    model = {"phone": "smollm2:360m", "desktop": "llama3.2:1b"}[person.device]
    for node in site.fleet.nodes:
        node.state.bandwidth = 150e6 * node.state.registry.scale
    allow_notifications(device_context, site, person)
    page = person.page
    pull(person, model)
    expect(page.locator(".job-card").filter(has_text=model)).to_be_visible()
    page.get_by_role("link", name="Serveurs", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Serveurs")
    expect(person.toasts()).to_contain_text(
        f"Téléchargement terminé : {model} sur {site.nodes[0]}", timeout=30_000
    )
    notified(page, "Téléchargement terminé", model)
    person.no_problem()
