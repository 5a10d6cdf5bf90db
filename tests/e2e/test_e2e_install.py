"""Installability and notifications, in Chromium against the real app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import CHROMIUM_ARGS, PageWatch, wait_for_service_worker
from journey_support import ARTIFACTS, DEVICES
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect


@pytest.fixture
def persistent_context(
    playwright_driver: Playwright, chromium_path: str, app_url: str, tmp_path: Path
) -> Iterator[BrowserContext]:
    """Chromium checks installability only with a real (on-disk) profile."""
    context = playwright_driver.chromium.launch_persistent_context(
        user_data_dir=tmp_path / "profile",
        executable_path=chromium_path,
        args=CHROMIUM_ARGS,
        base_url=app_url,
        locale="fr-FR",
    )
    context.set_default_timeout(10_000)
    yield context
    context.close()


def test_chromium_finds_no_installability_error(
    persistent_context: BrowserContext, artifacts: Path
) -> None:
    page = persistent_context.pages[0]
    watch = PageWatch.attach(page)
    page.goto("/")
    wait_for_service_worker(page)
    cdp = persistent_context.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["url"].endswith("/manifest.json")
    assert manifest["errors"] == []
    assert cdp.send("Page.getInstallabilityErrors") == {"installabilityErrors": []}
    page.screenshot(path=artifacts / "installable-dashboard.png")
    assert watch.problems() == []
    # The check does report problems: a document without the manifest has some.
    page.goto("/health")
    assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] != []


@pytest.mark.parametrize("device", list(DEVICES))
def test_install_button_stays_hidden_until_the_browser_offers_installation(
    browser: Browser, app_url: str, device: str
) -> None:
    context = browser.new_context(base_url=app_url, locale="fr-FR", **DEVICES[device])
    page = context.new_page()
    watch = PageWatch.attach(page)
    page.goto("/")
    wait_for_service_worker(page)
    button = page.get_by_role("button", name="Installer")
    expect(button).to_be_hidden()
    brand = page.get_by_role("link", name="Ollama WebMgr").bounding_box()
    # What Chromium fires when it offers installation (the prompt itself is
    # a browser dialog that cannot be driven here).
    page.evaluate(
        """() => {
          const offer = new Event("beforeinstallprompt", { cancelable: true });
          offer.prompt = () => { window.__prompted = true; return Promise.resolve(); };
          window.dispatchEvent(offer);
        }"""
    )
    expect(button).to_be_visible()
    # It appears beside the brand (an icon on a phone) and moves nothing.
    assert page.get_by_role("link", name="Ollama WebMgr").bounding_box() == brand
    box = button.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= DEVICES[device]["viewport"]["width"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"journey-install-{device}.png")
    button.click()
    assert page.evaluate("window.__prompted") is True
    expect(button).to_be_hidden()
    assert watch.problems() == []
    context.close()


def notifications_shown(page: Page) -> list[dict[str, str]]:
    shown: list[dict[str, str]] = page.evaluate(
        """async () => {
          const registration = await navigator.serviceWorker.ready;
          const list = await registration.getNotifications();
          return list.map((n) => ({ title: n.title, body: n.body, tag: n.tag }));
        }"""
    )
    return shown


def test_finished_jobs_are_notified_through_the_service_worker(
    context: BrowserContext, page: Page, app_url: str, watch: PageWatch
) -> None:
    context.grant_permissions(["notifications"], origin=app_url)
    page.goto("/")
    wait_for_service_worker(page)
    # Permission already granted: nothing left to ask.
    expect(page.get_by_role("button", name="Activer les notifications")).to_be_hidden()
    done = {
        "id": "j1",
        "kind": "pull_model",
        "state": "done",
        "model": "smollm2:135m",
        "server": "gpu-a",
    }
    failed = {
        "id": "j2",
        "kind": "check_update",
        "state": "error",
        "message": "registre injoignable",
    }
    for job in (done, failed):
        assert page.evaluate("(job) => webmgr.notifyJobFinished(job)", job) is True
    shown = {n["tag"]: n for n in notifications_shown(page)}
    assert shown["job-j1"]["title"] == "Téléchargement terminé"
    assert shown["job-j1"]["body"] == "smollm2:135m sur gpu-a"
    assert shown["job-j2"]["title"] == "Échec de la vérification des mises à jour"
    assert shown["job-j2"]["body"] == "tous les modèles : registre injoignable"
    expect(page.locator("#toasts")).to_contain_text("Téléchargement terminé")

    # In a background tab: no toast (nobody sees it), the notification still shows.
    page.evaluate(
        """() => Object.defineProperty(document, "visibilityState",
                                       { value: "hidden", configurable: true })"""
    )
    background = {
        "id": "j4",
        "kind": "pull_model",
        "state": "done",
        "model": "qwen3:0.6b",
    }
    assert page.evaluate("(job) => webmgr.notifyJobFinished(job)", background)
    assert "job-j4" in {n["tag"] for n in notifications_shown(page)}
    expect(page.locator("#toasts")).not_to_contain_text("qwen3:0.6b")
    assert watch.problems() == []


def test_notification_permission_is_asked_from_the_button_only(
    page: Page,
) -> None:
    page.goto("/")
    wait_for_service_worker(page)
    assert page.evaluate("Notification.permission") == "default"
    button = page.get_by_role("button", name="Activer les notifications")
    expect(button).to_be_visible()
    job = {"id": "j3", "kind": "pull", "state": "done", "model": "x"}
    # Without permission a finished job only shows a toast.
    assert page.evaluate("(job) => webmgr.notifyJobFinished(job)", job) is False
    button.click()
    # The headless browser answers the prompt itself (refusal): we say so.
    expect(page.locator("#toasts")).to_contain_text("Notifications refusées")
    expect(button).to_be_hidden()
    assert notifications_shown(page) == []
