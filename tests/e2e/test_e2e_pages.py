"""Every page in Chromium: no console error, no CSP violation, phone layout."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import APP_PAGES, PageWatch
from playwright.sync_api import Browser, BrowserContext, Page, expect

PHONE = {"width": 390, "height": 844}
#: what opens a bottom sheet (``ui.bottom_sheet`` in _macros.html)
SHEET_TRIGGER = "button[popovertarget][aria-controls]"


@pytest.fixture
def phone(browser: Browser, app_url: str) -> Iterator[BrowserContext]:
    context = browser.new_context(
        base_url=app_url,
        locale="fr-FR",
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(10_000)
    yield context
    context.close()


def artifact_name(path: str, suffix: str) -> str:
    return f"{path.strip('/') or 'dashboard'}-{suffix}.png"


def existing_pages(page: Page) -> list[str]:
    """The pages of APP_PAGES, each served (a missing one fails the test)."""
    for path in APP_PAGES:
        assert page.request.get(path).status == 200, path
    return list(APP_PAGES)


def test_every_page_loads_without_console_error_or_csp_violation(
    page: Page, watch: PageWatch, artifacts: Path
) -> None:
    pages = existing_pages(page)
    assert {"/", "/offline"} <= set(pages)
    problems = {}
    for path in pages:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        problems[path] = watch.problems()
        watch.clear()
        page.screenshot(path=artifacts / artifact_name(path, "desktop"), full_page=True)
    assert problems == {path: [] for path in pages}


def test_a_csp_violation_would_be_caught(page: Page, watch: PageWatch) -> None:
    page.goto("/")
    page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.inlineRan = true";
          document.head.append(script);
        }"""
    )
    assert page.evaluate("window.inlineRan") is None
    assert any("script-src" in problem for problem in watch.problems())


def test_a_deprecated_api_would_be_caught(page: Page, watch: PageWatch) -> None:
    page.goto("/")
    assert watch.deprecations() == []
    # A synchronous XMLHttpRequest on the main thread: deprecated for years.
    page.evaluate(
        """() => {
          const request = new XMLHttpRequest();
          request.open("GET", "/health", false);
          request.send();
        }"""
    )
    assert any("deprecated API" in problem for problem in watch.problems())


def test_phone_shows_cards_not_tables_on_every_page(
    phone: BrowserContext, artifacts: Path
) -> None:
    page = phone.new_page()
    watch = PageWatch.attach(page)
    for path in existing_pages(page):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        # A list may keep <table> markup restyled as stacked cards: what counts
        # is that nothing visible is laid out as a table.
        laid_out_as_tables = page.evaluate(
            """() => [...document.querySelectorAll('table')].filter(
                (t) => t.getClientRects().length > 0
                    && getComputedStyle(t).display === 'table').length"""
        )
        assert laid_out_as_tables == 0, path
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} scrolls sideways ({width} px)"
        page.screenshot(path=artifacts / artifact_name(path, "phone"), full_page=True)
    page.goto("/")
    expect(page.locator("#servers .card").first).to_be_visible()
    assert page.locator("#servers .card").count() == 2
    expect(page.get_by_role("navigation", name="Navigation principale")).to_be_visible()
    assert watch.problems() == []


def test_phone_bottom_sheet_opens_from_its_trigger(
    phone: BrowserContext, artifacts: Path
) -> None:
    page = phone.new_page()
    path = "/models"  # « Télécharger un modèle » and each model's actions
    page.goto(path)
    triggers = page.locator(SHEET_TRIGGER)
    assert triggers.count() > 0, "the models page opens no bottom sheet"
    trigger = triggers.first
    sheet = page.locator(f"#{trigger.get_attribute('aria-controls')}")
    expect(sheet).to_be_hidden()
    trigger.click()
    expect(sheet).to_be_visible()
    box = sheet.bounding_box()
    assert box is not None
    # A bottom sheet: full width, anchored to the bottom of the screen.
    assert box["width"] == PHONE["width"]
    assert abs(box["y"] + box["height"] - PHONE["height"]) < 2
    page.screenshot(path=artifacts / artifact_name(path, "phone-sheet"))
    page.keyboard.press("Escape")
    expect(sheet).to_be_hidden()
