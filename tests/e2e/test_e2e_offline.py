"""Service worker and offline mode, in Chromium against the real app."""

from __future__ import annotations

from pathlib import Path

from e2e_support import PageWatch, is_controlled, wait_for_service_worker
from playwright.sync_api import Browser, BrowserContext, Page, expect

from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.settings import Settings
from ollama_webmgr.sim.serve import serve_in_thread
from ollama_webmgr.web import dist
from ollama_webmgr.web.dist import AssetManifest

OFFLINE_TITLE = "Indisponible hors ligne"
# Network actions following the convention of pwa.js, the way pages write them.
PROBES = """
<section id="probes">
  <button id="probe-hx" class="btn" hx-post="/api/nothing">Supprimer</button>
  <form id="probe-form" method="post" action="/nothing">
    <button id="probe-submit" title="Envoyer le formulaire">Envoyer</button>
  </form>
  <button id="probe-marked" class="btn" data-network-action hx-get="/health"
          hx-target="#probe-output">Tester</button>
  <button id="probe-local" type="button">Local</button>
  <output id="probe-output"></output>
</section>
"""


def open_controlled(page: Page) -> None:
    page.goto("/")
    wait_for_service_worker(page)
    page.reload()


def add_probes(page: Page) -> None:
    page.evaluate(
        """(html) => {
          document.getElementById("contenu").insertAdjacentHTML("beforeend", html);
          htmx.process(document.getElementById("probes"));
        }""",
        PROBES,
    )


def test_service_worker_controls_the_page_after_a_reload(
    page: Page, watch: PageWatch
) -> None:
    page.goto("/")
    wait_for_service_worker(page)
    page.reload()
    assert is_controlled(page)
    scope = page.evaluate(
        "navigator.serviceWorker.getRegistration().then((r) => r.scope)"
    )
    assert scope.rstrip("/") == page.url.rstrip("/")
    assert watch.problems() == []


def test_offline_reload_opens_the_cached_shell_with_the_banner(
    context: BrowserContext, page: Page, watch: PageWatch, artifacts: Path
) -> None:
    open_controlled(page)
    banner = page.locator("#offline-banner")
    expect(banner).to_be_hidden()

    context.set_offline(True)
    page.reload()
    expect(page.get_by_role("heading", name="Tableau de bord")).to_be_visible()
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Hors ligne")
    page.screenshot(path=artifacts / "offline-dashboard.png", full_page=True)

    context.set_offline(False)
    expect(banner).to_be_hidden()
    assert watch.problems() == []


def test_unvisited_page_offline_shows_the_offline_page(
    context: BrowserContext, page: Page
) -> None:
    open_controlled(page)
    context.set_offline(True)
    page.goto("/never-visited")
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        "pas disponible hors ligne"
    )
    expect(page.locator("#offline-banner")).to_be_visible()


def test_network_actions_are_disabled_offline_and_work_again_online(
    context: BrowserContext, page: Page, watch: PageWatch
) -> None:
    open_controlled(page)
    add_probes(page)
    actions = [page.locator(f"#probe-{name}") for name in ("hx", "submit", "marked")]

    context.set_offline(True)
    for action in actions:
        expect(action).to_be_disabled()
        expect(action).to_have_attribute("title", OFFLINE_TITLE)
    expect(page.locator("#probe-local")).to_be_enabled()
    page.evaluate("htmx.ajax('POST', '/api/nothing', {target: '#probe-output'})")
    expect(page.locator("#toasts")).to_contain_text(OFFLINE_TITLE)

    context.set_offline(False)
    for action in actions:
        expect(action).to_be_enabled()
    expect(page.locator("#probe-submit")).to_have_attribute(
        "title", "Envoyer le formulaire"
    )
    expect(page.locator("#probe-hx")).not_to_have_attribute("title", OFFLINE_TITLE)
    page.locator("#probe-marked").click()
    expect(page.locator("#probe-output")).to_contain_text("ok")
    assert watch.problems() == []


def test_pages_partially_rendered_for_htmx_are_never_cached(page: Page) -> None:
    open_controlled(page)
    page.evaluate("htmx.ajax('GET', '/offline', {target: '#contenu'})")
    expect(page.get_by_role("heading", level=1)).to_contain_text("hors ligne")
    cached = page.evaluate(
        """async () => {
          const found = [];
          for (const name of await caches.keys()) {
            const cache = await caches.open(name);
            for (const request of await cache.keys()) {
              const response = await cache.match(request);
              const body = await response.text();
              if (response.headers.get("Content-Type").startsWith("text/html")
                  && !body.includes("<html")) found.push(request.url);
            }
          }
          return found;
        }"""
    )
    assert cached == []


def test_a_deploy_installs_a_new_worker_that_deletes_the_old_caches(
    browser: Browser, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=str(tmp_path),
        ollama_base_url="http://127.0.0.1:9",
        secret_key="test-secret-key",
    )
    app = create_app(settings)
    with serve_in_thread(app) as server:
        context = browser.new_context(base_url=server.url)
        context.set_default_timeout(10_000)
        page = context.new_page()
        open_controlled(page)
        before = page.evaluate("caches.keys()")
        # A deploy: the built assets change, hence the worker's source.
        assets: AssetManifest = app.extensions[dist.EXTENSION_KEY]
        deployed = {**assets.names, "deploy.js": assets.names["app.js"]}
        app.extensions[dist.EXTENSION_KEY] = AssetManifest(assets.directory, deployed)
        after = page.evaluate(
            """async () => {
              const registration = await navigator.serviceWorker.getRegistration();
              await registration.update();
              // "activated" comes once the activate step (cache clean-up) is over.
              const worker = registration.installing || registration.waiting
                || registration.active;
              await new Promise((resolve) => {
                if (worker.state === "activated") resolve();
                worker.addEventListener("statechange", () => {
                  if (worker.state === "activated") resolve();
                });
              });
              return caches.keys();
            }"""
        )
        context.close()
    assert len(before) == len(after) == 2
    assert set(before).isdisjoint(after)
