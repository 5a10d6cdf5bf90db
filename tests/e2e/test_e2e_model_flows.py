"""The model pages in Chromium: pull with live progress (and a reload in the
middle), delete through the confirmation dialog, eject, and an update check that
finds the newer manifest the fake registry publishes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from e2e_support import PageWatch
from playwright.sync_api import Browser, BrowserContext, Page, expect

from fleet_support import fleet_settings
from ollama_webmgr.sim.fleet import EmulatedFleet, running_fleet
from ollama_webmgr.sim.serve import serve_in_thread
from ollama_webmgr.web.app import create_app

pytestmark = pytest.mark.e2e

INSTALLED = ("smollm2:135m", "all-minilm:latest")
PULLED = "smollm2:360m"  # 726 MB: about 5 s at the node's bandwidth below


@pytest.fixture(scope="module")
def flows_fleet() -> Iterator[EmulatedFleet]:
    with running_fleet([INSTALLED], bandwidth=150e6, token_delay=0.0) as fleet:
        yield fleet


@pytest.fixture(scope="module")
def flows_url(
    chromium_path: str,
    flows_fleet: EmulatedFleet,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    data = tmp_path_factory.mktemp("e2e-flows")
    settings = fleet_settings(flows_fleet, data, models_cache_ttl=0.5)
    with serve_in_thread(create_app(settings)) as server:
        yield server.url


@pytest.fixture
def flows(browser: Browser, flows_url: str) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=flows_url, locale="fr-FR")
    context.set_default_timeout(20_000)
    yield context
    context.close()


def _progress(page: Page) -> float:
    value = page.evaluate(
        "() => document.querySelector('[data-job-kind=pull_model] progress')?.value"
    )
    return float(value or 0)


def test_pull_shows_progress_survives_a_reload_and_reaches_100(
    flows: BrowserContext, artifacts: Path
) -> None:
    page = flows.new_page()
    watch = PageWatch.attach(page)
    page.goto("/models")
    page.get_by_label("Nom du modèle").fill(PULLED)
    page.get_by_role("button", name="Télécharger", exact=True).click()
    job = page.locator("[data-job-kind=pull_model]").first
    expect(job).to_be_visible()
    page.wait_for_function(
        "() => (document.querySelector('[data-job-kind=pull_model] progress')"
        "?.value ?? 0) > 5"
    )
    midway = _progress(page)
    assert 5 < midway < 100
    page.screenshot(path=artifacts / "flow-pull-midway.png", full_page=True)

    page.reload()  # the job outlives the page: the reloaded one re-attaches
    expect(
        page.locator("[data-job-kind=pull_model][data-job-state=running]")
    ).to_be_visible()
    page.wait_for_function(
        "() => (document.querySelector('[data-job-kind=pull_model] progress')"
        f"?.value ?? 0) > {midway}"
    )
    done = page.locator("[data-job-kind=pull_model][data-job-state=done]")
    expect(done).to_be_visible(timeout=30_000)
    assert done.locator("progress").evaluate("bar => bar.value") == 100
    expect(page.get_by_text("Téléchargement terminé.")).to_be_visible()
    expect(page.locator(f"#models [data-model='{PULLED}']")).to_be_visible()
    page.screenshot(path=artifacts / "flow-pull-done.png", full_page=True)
    assert watch.problems() == []


def test_delete_asks_for_confirmation_then_removes_the_model(
    flows: BrowserContext, flows_fleet: EmulatedFleet
) -> None:
    page = flows.new_page()
    watch = PageWatch.attach(page)
    page.goto("/models")
    row = page.locator("#models [data-model='all-minilm:latest']")
    row.get_by_role("button", name="Actions").click()
    row.get_by_role("button", name="Supprimer").click()
    dialog = page.get_by_role("dialog", name="Confirmation")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Supprimer « all-minilm:latest »")
    dialog.get_by_role("button", name="Confirmer").click()
    expect(row).to_have_count(0)
    tags = httpx.get(flows_fleet.urls[0] + "/api/tags").json()["models"]
    assert "all-minilm:latest" not in [m["name"] for m in tags]
    assert watch.problems() == []


def test_eject_removes_a_running_model_from_the_list(
    flows: BrowserContext, flows_fleet: EmulatedFleet
) -> None:
    node = flows_fleet.urls[0]
    loaded = httpx.post(
        node + "/api/generate", json={"model": "smollm2:135m", "keep_alive": "10m"}
    )
    assert loaded.json()["done_reason"] == "load"
    page = flows.new_page()
    watch = PageWatch.attach(page)
    page.goto("/running")
    running = page.locator("#running [data-model='smollm2:135m']:visible")
    expect(running).to_be_visible()
    running.get_by_role("button", name="Éjecter").click()
    expect(page.locator("#running [data-model='smollm2:135m']")).to_have_count(0)
    expect(page.get_by_text("Aucun modèle chargé en mémoire.")).to_be_visible()
    assert httpx.get(node + "/api/ps").json()["models"] == []
    assert watch.problems() == []


def test_update_check_shows_an_available_update(
    flows: BrowserContext, flows_fleet: EmulatedFleet
) -> None:
    flows_fleet.registry.publish_update("smollm2:135m")
    page = flows.new_page()
    watch = PageWatch.attach(page)
    page.goto("/models")
    page.get_by_role("button", name="Vérifier les mises à jour").first.click()
    row = page.locator("#models [data-model='smollm2:135m']")
    expect(row.get_by_text("mise à jour disponible")).to_be_visible(timeout=30_000)
    assert watch.problems() == []
