"""What the journey tests share: the app over an emulated fleet, phone and desktop
browsers, screenshots, and small readers of what the person sees.

A journey does what a person does (locate by role or label, click, fill) and
asserts what the page shows; state is prepared through the emulated nodes
(loading a model, publishing an update), never through the app's own routes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from e2e_support import PageWatch
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from fleet_support import fleet_settings
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import EmulatedFleet, running_fleet
from ollama_webmgr.sim.serve import serve_in_thread

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Assertions wait for what the person would see; on 2 busy cores 5 s is short.
expect.set_options(timeout=10_000)
#: the two widths every journey is walked at
DEVICES: dict[str, dict[str, Any]] = {
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}


@dataclass
class Site:
    """The web app on a socket, over emulated nodes."""

    fleet: EmulatedFleet
    url: str

    @property
    def nodes(self) -> list[str]:
        """The nodes' addresses, which are also the servers' names in the app."""
        return [url.removeprefix("http://") for url in self.fleet.urls]

    def load(self, node: int, model: str) -> None:
        """Load ``model`` into memory on a node (what a chat would do)."""
        answer = httpx.post(
            self.fleet.urls[node] + "/api/generate",
            json={"model": model, "keep_alive": "10m"},
            timeout=10,
        )
        assert answer.json()["done_reason"] == "load", answer.text

    def loaded(self, node: int) -> list[str]:
        running = httpx.get(self.fleet.urls[node] + "/api/ps", timeout=5).json()
        return [model["name"] for model in running["models"]]

    def installed(self, node: int) -> list[str]:
        tags = httpx.get(self.fleet.urls[node] + "/api/tags", timeout=5).json()
        return [model["name"] for model in tags["models"]]


@contextmanager
def serve_site(
    data_dir: Path,
    models: list[tuple[str, ...]],
    settings_overrides: dict[str, Any] | None = None,
    **fleet_options: Any,
) -> Iterator[Site]:
    with running_fleet(models, token_delay=0.0, **fleet_options) as fleet:
        settings = fleet_settings(
            fleet, data_dir, models_cache_ttl=0.5, **(settings_overrides or {})
        )
        with serve_in_thread(create_app(settings)) as server:
            yield Site(fleet, server.url)


def new_context(browser: Browser, site: Site, device: str) -> BrowserContext:
    context = browser.new_context(base_url=site.url, locale="fr-FR", **DEVICES[device])
    context.set_default_timeout(15_000)
    return context


@dataclass
class Person:
    """One browser tab at one width, with what went wrong in it."""

    page: Page
    device: str
    watch: PageWatch

    @property
    def phone(self) -> bool:
        return self.device == "phone"

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(
            path=ARTIFACTS / f"journey-{name}-{self.device}.png", full_page=True
        )

    def toasts(self) -> Locator:
        return self.page.locator("#toasts")

    def model_row(self, name: str) -> Locator:
        return self.page.locator(f"#models tr.model-row[data-model='{name}']")

    def open_actions(self, name: str) -> Locator:
        """Tap « Actions » on a model's row; the sheet (or panel) that opens."""
        row = self.model_row(name)
        row.get_by_role("button", name="Actions").click()
        sheet = self.page.get_by_role("dialog", name=f"Actions : {name}")
        expect(sheet).to_be_visible()
        return sheet

    def confirm(self, question: str | re.Pattern[str]) -> None:
        """Answer « Confirmer » in the app's confirmation dialog."""
        dialog = self.page.get_by_role("dialog", name="Confirmation")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text(question)
        dialog.get_by_role("button", name="Confirmer").click()
        expect(dialog).to_be_hidden()

    def refused(self, status: int) -> None:
        """The app said « no » with ``status`` on purpose (a refused action is a
        4xx, explained in a toast); Chromium logs every such answer as a console
        error: that one line, and only it, is expected."""
        mark = f"the server responded with a status of {status} "
        found = [line for line in self.watch.console_errors if mark in line]
        assert len(found) == 1, self.watch.console_errors
        self.watch.console_errors.remove(found[0])

    def finished_jobs(self) -> Locator:
        """Unfold « Tâches terminées » (folded by default) and return it."""
        group = self.page.locator("[data-finished-jobs]")
        expect(group).to_be_visible()
        if group.get_attribute("open") is None:
            group.locator("summary").click()
        return group

    def no_problem(self) -> None:
        problems = self.watch.problems()
        assert problems == [], problems


def open_person(context: BrowserContext, device: str) -> Person:
    page = context.new_page()
    return Person(page, device, PageWatch.attach(page))


def job_card(page: Page, title: str) -> Locator:
    """The card of an active job, by its title (« Téléchargement de x »)."""
    return page.locator(".job-card").filter(has_text=title)
