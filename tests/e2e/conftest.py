"""Browser fixtures: the real web app on a socket, driven by Debian's Chromium.

Playwright only drives the system browser (``/usr/bin/chromium``): its own
browser downloads are never used. Without Chromium the tests are skipped, except
under CI (``CI`` set), where that is a failure (the root conftest).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import CHROMIUM, CHROMIUM_ARGS, PageWatch
from journey_support import DEVICES, Person, Site, new_context, open_person
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    sync_playwright,
)

from fleet_support import SMALL_MODELS, fleet_settings
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import running_fleet
from ollama_webmgr.sim.serve import serve_in_thread
from ollama_webmgr.web.dist import DIST_DIR

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    if not (DIST_DIR / "manifest.json").is_file():
        pytest.fail("front-end assets are missing: run `make assets`", pytrace=False)
    return CHROMIUM


@pytest.fixture(scope="session")
def playwright_driver(chromium_path: str) -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright, chromium_path: str) -> Iterator[Browser]:
    launched = playwright_driver.chromium.launch(
        executable_path=chromium_path, args=CHROMIUM_ARGS
    )
    yield launched
    launched.close()


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The web app over two emulated Ollama nodes, on 127.0.0.1 (a secure origin)."""
    with running_fleet([SMALL_MODELS, SMALL_MODELS[:1]]) as fleet:
        settings = fleet_settings(fleet, tmp_path_factory.mktemp("e2e-data"))
        with serve_in_thread(create_app(settings)) as server:
            yield server.url


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def context(browser: Browser, app_url: str) -> Iterator[BrowserContext]:
    """A fresh profile per test: no service worker or cache carried over."""
    fresh = browser.new_context(base_url=app_url, locale="fr-FR")
    fresh.set_default_timeout(10_000)
    yield fresh
    fresh.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def watch(page: Page) -> PageWatch:
    """Console errors, uncaught exceptions and CSP violations of ``page``."""
    return PageWatch.attach(page)


# -- journeys: each module serves its own ``site`` -------------------------------


@pytest.fixture(params=list(DEVICES))
def device(request: pytest.FixtureRequest) -> str:
    """The phone (390 px) and the desktop (1280 px): every journey walks both."""
    return str(request.param)


@pytest.fixture
def device_context(
    browser: Browser, site: Site, device: str
) -> Iterator[BrowserContext]:
    opened = new_context(browser, site, device)
    yield opened
    opened.close()


@pytest.fixture
def person(device_context: BrowserContext, device: str) -> Person:
    return open_person(device_context, device)
