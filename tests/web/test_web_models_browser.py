"""``models.js`` in a real headless Chromium: live progress, end, reload, cancel."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cdp_browser import CHROMIUM, Browser

from fleet_support import fleet_services
from ollama_webmgr.runtime.services import Services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import running_fleet
from ollama_webmgr.sim.serve import RunningServer, serve_in_thread
from ollama_webmgr.usecases import model_jobs
from ollama_webmgr.usecases.actor import Actor

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs chromium")

JOBS = """Array.from(document.querySelectorAll('[data-job-id]')).map(li => ({
  state: li.dataset.jobState,
  percent: li.querySelector('progress')?.value,
  rate: li.querySelector('[data-role=rate]')?.textContent,
  message: li.querySelector('[data-role=message]')?.textContent,
}))"""
TOASTS = "Array.from(document.querySelectorAll('#toasts > *')).map(t => t.textContent)"
ROWS = "Array.from(document.querySelectorAll('tr.model-row')).map(r => r.dataset.model)"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Services, RunningServer]]:
    with (
        # 250 kB/s: the scaled catalogue's tinyllama (638 kB) takes 2.5 s
        running_fleet([("smollm2:135m",)], bandwidth=250e3) as fleet,
        fleet_services(fleet, tmp_path) as services,
        serve_in_thread(create_app(services=services)) as web,
    ):
        yield services, web


@pytest.fixture
def browser() -> Iterator[Browser]:
    opened = Browser()
    yield opened
    opened.close()


def until(read: Callable[[], Any], check: Callable[[Any], bool], limit: float) -> Any:
    deadline = time.monotonic() + limit
    value = read()
    while not check(value):
        assert time.monotonic() < deadline, f"still {value!r}"
        time.sleep(0.1)
        value = read()
    return value


def test_a_pull_started_from_the_form_shows_live_progress_then_the_model(
    site: tuple[Services, RunningServer], browser: Browser
) -> None:
    _, web = site
    tab = browser.open(f"{web.url}/models")
    until(lambda: browser.eval(tab, "!!document.getElementById('pull-form')"), bool, 10)
    browser.eval(
        tab,
        "document.getElementById('pull-name').value = 'tinyllama';"
        "document.querySelector('#pull-form button[type=submit]').click()",
    )
    live = until(
        lambda: browser.eval(tab, JOBS),
        lambda jobs: bool(jobs) and "ko/s" in (jobs[0]["rate"] or ""),
        10,
    )
    assert live[0]["state"] == "running"
    assert "reste" in live[0]["rate"]
    assert " / 638\u00a0ko" in live[0]["rate"]
    until(lambda: browser.eval(tab, ROWS), lambda rows: "tinyllama:latest" in rows, 20)
    assert any(
        t.startswith("Téléchargement terminé : tinyllama:latest")
        for t in browser.eval(tab, TOASTS)
    )
    assert browser.eval(tab, JOBS)[0]["state"] == "done"
    assert browser.errors() == []


def test_a_reloaded_page_follows_a_running_pull_and_can_cancel_it(
    site: tuple[Services, RunningServer], browser: Browser
) -> None:
    services, web = site
    model_jobs.submit_pull(
        services, Actor("test"), None, "qwen2.5:7b"
    )  # 19 s: cancelled long before
    tab = browser.open(f"{web.url}/models")
    until(
        lambda: browser.eval(tab, JOBS),
        lambda jobs: bool(jobs) and "ko/s" in (jobs[0]["rate"] or ""),
        10,
    )
    # a pull is cancelled only once the person confirms it
    browser.eval(tab, "document.querySelector('[data-action=cancel]').click()")
    until(lambda: browser.eval(tab, "document.querySelector('dialog').open"), bool, 5)
    browser.eval(tab, "document.querySelector('dialog .btn-danger').click()")
    jobs = until(
        lambda: browser.eval(tab, JOBS),
        lambda jobs: jobs[0]["state"] == "cancelled",
        10,
    )
    assert jobs[0]["message"] == "Tâche annulée."
    until(
        lambda: browser.eval(tab, TOASTS),
        lambda toasts: any(t.startswith("Téléchargement annulé") for t in toasts),
        5,
    )
    toasts = browser.eval(tab, TOASTS)
    assert sum(t.startswith("Téléchargement annulé") for t in toasts) == 1
    assert browser.errors() == []
