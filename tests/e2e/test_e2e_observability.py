"""Santé, Statistiques and Matériel in Debian's Chromium on a 390 px phone.

Self-contained (its fixtures are prefixed ``obs_``) so it runs next to the other
browser tests. Skipped without ``/usr/bin/chromium`` unless ``CI`` is set.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage

from ollama_webmgr.runtime.services import Services, build_services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.settings import Settings
from ollama_webmgr.sim.serve import serve_in_thread
from ollama_webmgr.store.database import Sample
from ollama_webmgr.store.stats import record_model_requests, record_requests

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
PAGES = ("/sante", "/statistiques", "/materiel")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PRIMARY = "http://127.0.0.1:9"  # nothing listens: the pages never call it
ADDRESS = "127.0.0.1:9"  # how the store names that server, as the product writes
CSP_LISTENER = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


def seeded_services() -> Services:
    settings = Settings(
        data_dir=tempfile.mkdtemp(prefix="webmgr-e2e-obs-"),
        ollama_base_url=PRIMARY,
        ollama_servers=(),
        secret_key="e2e",
    )
    services = build_services(settings)
    db, now = services.db, time.time()
    db.add_samples(
        [
            Sample(ADDRESS, "health", now - 600 * i, float(i % 40 != 7))
            for i in range(400)
        ]
        + [Sample(ADDRESS, "latency", now - 600 * i, 10 + i % 9) for i in range(400)]
        + [
            Sample(ADDRESS, "cpu_percent", now - 900 * i, 30 + i % 50)
            for i in range(200)
        ]
        + [Sample(ADDRESS, "ram_percent", now - 900 * i, 60.0) for i in range(200)]
    )
    db.insert(
        "servers",
        {
            "address": ADDRESS,
            "healthy": True,
            "hardware_info": {
                "agent": "127.0.0.1:50051",
                "collected_at": now,
                "stale": False,
                "cpu": {"usage_percent": 31.0},
                "memory": {"percent": 60.0, "available": 12 * 10**9},
                "gpu": {"gpus": []},
                "disk": {"volumes": [{"label": "models", "free": 2 * 10**11}]},
            },
        },
    )
    record_requests(db, [("chat", 80.0 + i % 30, now - 300 * i) for i in range(500)])
    record_model_requests(
        db, [("qwen2.5:7b", ADDRESS, 900.0, 35.0, now - 120 * i) for i in range(50)]
    )
    return services


@pytest.fixture(scope="module")
def obs_url() -> Iterator[str]:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    services = seeded_services()
    app = create_app(services=services)
    with serve_in_thread(app) as server:
        yield server.url
    services.close()


@pytest.fixture(scope="module")
def obs_browser(browser: Browser, obs_url: str) -> Browser:
    """The session's browser (one Playwright driver per process)."""
    return browser


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("period", ["24h", "30j"])
def test_supervision_page_on_a_phone_has_no_error_and_fits(
    obs_browser: Browser, obs_url: str, path: str, period: str
) -> None:
    context = obs_browser.new_context(
        base_url=obs_url,
        locale="fr-FR",
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    page.add_init_script(CSP_LISTENER)
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # the browser's own favicon probe: icons come with the PWA branch
        url = message.location.get("url", "")
        if message.type == "error" and not url.endswith("/favicon.ico"):
            errors.append(f"{message.text} ({url})")

    page.on("console", on_console)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        response = page.goto(f"{path}?period={period}")
        assert response is not None
        assert response.status == 200
        page.wait_for_load_state("networkidle")
        # uPlot drew every time chart in place of its SVG, within the phone
        plots = page.locator(".chart-plot")
        assert plots.count() >= 1
        assert page.locator(".chart-plot .uplot canvas").count() == plots.count()
        assert page.locator("svg.chart:visible").count() == 0
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        errors += page.evaluate("window.__csp")
        ARTIFACTS.mkdir(exist_ok=True)
        name = f"obs-{path.strip('/')}-{period}-390.png"
        page.screenshot(path=ARTIFACTS / name, full_page=True)
    finally:
        context.close()
    assert errors == []
