"""Offline, as a person meets it: the pages already seen still open, every
action that needs the network is disabled (and says why), and a request that
fails on the way reads in French, never as the browser's « Failed to fetch »."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2e_support import wait_for_service_worker
from journey_support import Person, Site, serve_site
from playwright.sync_api import BrowserContext, Locator, expect

pytestmark = pytest.mark.e2e

OFFLINE_TITLE = "Indisponible hors ligne"


@pytest.fixture(scope="module")
def site(
    chromium_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    models = [("smollm2:135m", "qwen2.5:0.5b")]
    with serve_site(tmp_path_factory.mktemp("offline"), models) as running:
        yield running


def disabled_offline(control: Locator) -> None:
    expect(control).to_be_disabled()
    expect(control).to_have_attribute("title", OFFLINE_TITLE)


def test_offline_every_network_action_is_disabled_then_back(
    device_context: BrowserContext, person: Person, site: Site
) -> None:
    site.load(0, "smollm2:135m")
    page = person.page
    page.goto("/models")
    wait_for_service_worker(page)
    page.goto("/running")  # seen once: kept for offline visits
    page.goto("/search")
    page.goto("/models")
    # the page asks for jobs started elsewhere once loaded; cut the network
    # after that answer, not under it (a request cut mid-way is the next test's)
    page.wait_for_load_state("networkidle")

    device_context.set_offline(True)
    page.reload()
    expect(page.locator("#offline-banner")).to_contain_text("Hors ligne")
    disabled_offline(page.get_by_role("button", name="Vérifier les mises à jour"))
    disabled_offline(page.get_by_role("button", name="Tout mettre à jour"))
    expect(page.get_by_role("link", name="Actualiser")).to_have_attribute(
        "aria-disabled", "true"
    )
    sheet = person.open_actions("qwen2.5:0.5b")
    for name in (
        "Vérifier la mise à jour",
        "Mettre à jour",
        "Copier / renommer",
        "Supprimer",
    ):
        disabled_offline(sheet.get_by_role("button", name=name))
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Télécharger un modèle").click()
    disabled_offline(
        page.get_by_role("dialog", name="Télécharger un modèle").get_by_role(
            "button", name="Télécharger", exact=True
        )
    )
    page.keyboard.press("Escape")
    person.shot("offline-models")

    page.get_by_role("link", name="En cours", exact=True).click()
    entry = page.locator("#running [data-model='smollm2:135m']:visible")
    disabled_offline(entry.get_by_role("button", name="Éjecter"))
    disabled_offline(entry.get_by_role("button", name="Forcer"))
    expect(page.get_by_text("toutes les 5 secondes")).to_be_hidden()
    expect(page.get_by_text("reprendra sa mise à jour")).to_be_visible()
    person.shot("offline-running")

    page.get_by_role("link", name="Recherche", exact=True).click()
    card = page.locator("[data-remote-model='qwen2.5']")
    disabled_offline(card.get_by_role("button", name="Voir les variantes"))

    device_context.set_offline(False)
    expect(page.locator("#offline-banner")).to_be_hidden()
    expect(card.get_by_role("button", name="Voir les variantes")).to_be_enabled()
    card.get_by_role("button", name="Voir les variantes").click()
    expect(card.locator("[data-variant='qwen2.5:0.5b']")).to_be_visible()
    person.no_problem()


def test_a_request_cut_on_the_way_fails_in_french(
    device_context: BrowserContext, person: Person, site: Site
) -> None:
    site.load(0, "qwen2.5:0.5b")
    page = person.page
    page.goto("/running")
    # The network drops while the browser still believes it is online.
    device_context.route(
        "**/api/eject/force", lambda route: route.abort("internetdisconnected")
    )
    device_context.route(
        "**/running/eject", lambda route: route.abort("internetdisconnected")
    )
    entry = page.locator("#running [data-model='qwen2.5:0.5b']:visible")
    entry.get_by_role("button", name="Forcer").click()
    person.confirm("Forcer le déchargement de qwen2.5:0.5b")
    message = "Application injoignable : vérifiez la connexion."
    expect(person.toasts()).to_contain_text(message)
    expect(entry.locator("[data-eject-status]")).to_have_text(message)
    entry.get_by_role("button", name="Éjecter").click()
    expect(person.toasts()).to_contain_text(message)
    body = page.inner_text("body")
    assert "Failed to fetch" not in body
    assert "NetworkError" not in body
    person.shot("network-cut")
    # Chromium and htmx log each cut request (htmx: « afterRequest » and
    # « sendError »); nothing else went wrong.
    cut = ("ERR_INTERNET_DISCONNECTED", "htmx:afterRequest,", "htmx:sendError,")
    errors = [e for e in person.watch.console_errors if not e.startswith(cut)]
    errors = [e for e in errors if "ERR_INTERNET_DISCONNECTED" not in e]
    assert errors == []
    assert person.watch.page_errors == []
