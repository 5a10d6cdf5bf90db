"""Every page of the app, at 390 px and at 1280 px, in a lived-in state (models
on three servers, one loaded, jobs running, finished and failed, requests
through the gateway, health history): no sideways overflow, no console error,
no English left, no internal key in what a person reads. The pages come from
the app's own routes (``url_map``): a new page is audited without anyone
adding it here. Every screenshot is kept in ``test-artifacts/``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import PageWatch
from journey_support import ARTIFACTS, DEVICES
from playwright.sync_api import Browser, Page

from fleet_support import fleet_settings
from ollama_webmgr.runtime.services import Services, build_services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.catalog import CATALOG
from ollama_webmgr.sim.fleet import EmulatedFleet, running_fleet
from ollama_webmgr.sim.serve import serve_in_thread
from ollama_webmgr.usecases import model_jobs
from ollama_webmgr.usecases.actor import Actor

pytestmark = pytest.mark.e2e

#: words that give English away (whole words, any case) ...
ENGLISH_WORDS = (
    "ago",
    "yesterday",
    "success",
    "successful",
    "pulling",
    "manifest",
    "verifying",
    "writing",
    "removing",
    "layers",
    "error",
    "failed",
    "failure",
    "unknown",
    "loading",
    "pending",
    "queued",
    "running",
    "done",
    "cancelled",
    "interrupted",
    "text",
    "tools",
    "vision",
    "thinking",
    "embedding",
    "completion",
    "insert",
    "not found",
    "internal server error",
    "bad request",
    "forbidden",
    "method not allowed",
    "network",
    "fetch",
    "hours",
    "days",
    "weeks",
    "months",
    "years",
    "downloads",
    "pulls",
    "tags",
    "updated",
    "input",
    "context",
    "size",
    "the",
    "and",
    "of",
    "please",
    "retry",
    "cancel",
    "delete",
    "copy",
)
#: ... and units written the English way (exact case)
ENGLISH_UNITS = (
    r"\d\s?(?:KB|MB|GB|TB|B)\b",
    r"\b(?:KB|MB|GB|TB)\b",
    r"\d(?:\.\d+)?[KMB]\b",
)
TELLTALES = re.compile(
    r"\b(?:" + "|".join(re.escape(w) for w in ENGLISH_WORDS) + r")\b", re.IGNORECASE
)
UNITS = re.compile("|".join(ENGLISH_UNITS))
#: an identifier from the code (max_attempts, ollama_stream_error...)
INTERNAL_KEY = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
#: a model's name (qwen2.5:7b, hf.co/x/y:q4): names are not wording
MODEL_NAME = re.compile(r"[\w./-]+:[\w.-]+")
LIBRARY_NAMES = sorted(CATALOG, key=len, reverse=True)
#: pages whose words are not ours: Swagger UI describes the API in its own words
NOT_OURS = {"/api/docs"}
#: rules with arguments: how to open them, or why they are not pages
WITH_ARGUMENTS = {
    "/models/<path:name>": ["/models/smollm2:135m", "/models/qwen2.5:0.5b"],
    "/models/-/jobs/<job_id>": None,  # a job card, shown inside pages
    "/api/jobs/<job_id>": None,  # JSON
    "/static/<path:filename>": None,
    "/static/dist/<filename>": None,
}
#: plain rules that answer a page only with a query (their fragments are read
#: inside the pages that load them)
NEEDS_A_QUERY = {
    "/search/variants": "the variants of ?model=, inside /search",
    "/h/fit": "the fit hint of ?model=, inside a model's page",
}
#: more states of pages the rules already list
EXTRA_VIEWS = ["/models?server=all", "/search?q=qwen", "/sante?period=7j"]

# Runs in the page: what overflows, and the text a person reads.
AUDIT_JS = """() => {
  const width = document.documentElement.clientWidth;
  const overflow = [];
  const name = (el) => `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}`
    + `${el.className && el.className.baseVal === undefined ? "." + String(el.className).trim().split(/\\s+/).slice(0, 3).join(".") : ""}`
    + ` « ${(el.textContent || "").trim().slice(0, 40)} »`;
  const contained = (el) => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      const style = getComputedStyle(up);
      if (["auto", "scroll", "hidden", "clip"].includes(style.overflowX)) return true;
    }
    return false;
  };
  if (document.documentElement.scrollWidth > width) {
    overflow.push(`la page défile de côté (${document.documentElement.scrollWidth} > ${width} px)`);
  }
  for (const el of document.body.querySelectorAll("*")) {
    if (!el.checkVisibility({ visibilityProperty: true })) continue;
    const box = el.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1 || contained(el)) continue;
    if (box.right > width + 1 || box.left < -1) {
      overflow.push(`dépasse l’écran : ${name(el)} (${Math.round(box.left)}→${Math.round(box.right)})`);
      continue;
    }
    const card = el.parentElement && el.parentElement.closest(".card");
    if (card) {
      const edge = card.getBoundingClientRect();
      if (box.right > edge.right + 1 || box.left < edge.left - 1) {
        overflow.push(`dépasse sa carte : ${name(el)}`);
      }
    }
  }
  const skip = "code, pre, kbd, samp, script, style, [translate=no], [lang]:not([lang^=fr])";
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    const text = node.textContent.trim();
    if (!text || !parent || parent.closest(skip)) continue;
    if (!parent.checkVisibility({ visibilityProperty: true })) continue;
    texts.push(text);
  }
  for (const el of document.body.querySelectorAll("[title], [aria-label], [placeholder], [alt]")) {
    if (el.closest(skip) || !el.checkVisibility({ visibilityProperty: true })) continue;
    for (const attribute of ["title", "aria-label", "placeholder", "alt"]) {
      const value = el.getAttribute(attribute);
      if (value) texts.push(value);
    }
  }
  return { overflow: overflow.slice(0, 8), texts };
}"""


@dataclass
class Lived:
    fleet: EmulatedFleet
    services: Services
    url: str


def _through_gateway(gateway: str, model: str, count: int) -> None:
    for index in range(count):
        answer = httpx.post(
            f"{gateway}/api/chat",
            json={
                "model": model,
                "messages": [{"role": "user", "content": f"Bonjour {index}"}],
                "stream": False,
                "keep_alive": "30m",
            },
            timeout=30,
        )
        assert answer.status_code == 200, answer.text


def _wait_jobs(services: Services, count: int) -> None:
    deadline = time.monotonic() + 30
    while len([j for j in services.runner.list() if j.finished]) < count:
        assert time.monotonic() < deadline, services.runner.list()
        time.sleep(0.05)


@pytest.fixture(scope="module")
def lived(
    chromium_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lived]:
    models = [
        ("smollm2:135m", "qwen2.5:0.5b", "nomic-embed-text:latest"),
        ("smollm2:135m", "gemma3:1b"),
        ("all-minilm:latest", "tinyllama:latest"),
    ]
    data = tmp_path_factory.mktemp("audit")
    with running_fleet(models, token_delay=0.0, bandwidth=10e9) as fleet:
        services = build_services(fleet_settings(fleet, data))
        try:
            services.start()  # health monitor, request recorder, reconciliation
            with (
                serve_in_thread(create_app(services=services)) as web,
                serve_in_thread(services.gateway.app) as gateway,
            ):
                _prepare(fleet, services, gateway.url)
                yield Lived(fleet, services, web.url)
        finally:
            # the slow pull of _prepare would otherwise run on (its thread holds
            # the interpreter's exit until the download ends, many minutes later)
            services.interrupt_jobs()
            services.close()


def _prepare(fleet: EmulatedFleet, services: Services, gateway: str) -> None:
    """Jobs finished, failed and running; a model loaded; requests recorded."""
    names = [server.name for server in services.servers.all()]
    fleet.registry.publish_update("smollm2:135m")
    _through_gateway(gateway, "smollm2:135m", 6)
    model_jobs.submit_check(services, names[0])
    model_jobs.submit_pull(services, Actor("test"), names[1], "all-minilm")
    model_jobs.submit_pull(services, Actor("test"), names[0], "absent-du-catalogue:7b")
    _wait_jobs(services, 3)
    # a pull that runs through the audit (the catalogue is scaled: so is the rate)
    fleet.nodes[2].state.bandwidth = 5e6 * fleet.registry.scale
    model_jobs.submit_pull(services, Actor("test"), names[2], "gpt-oss:20b")
    services.runner.submit(
        "eject_force", {"server_url": fleet.urls[1], "model": "gemma3:1b", "timeout": 1}
    )


def page_urls(lived: Lived) -> list[str]:
    """Every page the app serves: plain rules answering a whole HTML document,
    rules with arguments opened with examples, and a few more states."""
    app_rules = create_app(services=lived.services).url_map.iter_rules()
    found: list[str] = []
    unknown = []
    for rule in sorted(app_rules, key=lambda r: r.rule):
        if "GET" not in (rule.methods or ()):
            continue
        if rule.arguments:
            if rule.rule not in WITH_ARGUMENTS:
                unknown.append(rule.rule)
            found.extend(WITH_ARGUMENTS.get(rule.rule) or [])
            continue
        if rule.rule in NEEDS_A_QUERY:
            continue
        answer = httpx.get(lived.url + rule.rule, timeout=10)
        html = answer.headers.get("Content-Type", "").startswith("text/html")
        if not html:
            continue  # JSON, scripts, images, metrics: not pages
        if answer.status_code != 200:
            unknown.append(f"{rule.rule} ({answer.status_code})")
            continue
        if "<html" in answer.text[:500].lower():
            found.append(rule.rule)
    assert unknown == [], (
        f"say how to open these (WITH_ARGUMENTS, NEEDS_A_QUERY): {unknown}"
    )
    return [*found, *EXTRA_VIEWS]


def _slug(url: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", url.lower()).strip("-") or "accueil"


def _words(texts: list[str]) -> list[str]:
    found = []
    for text in texts:
        plain = MODEL_NAME.sub(" ", text)
        for name in LIBRARY_NAMES:
            plain = plain.replace(name, " ")
        for match in (*TELLTALES.finditer(plain), *UNITS.finditer(plain)):
            found.append(f"« {match.group(0)} » dans « {text[:80]} »")
        for match in INTERNAL_KEY.finditer(plain):
            found.append(f"clé interne « {match.group(0)} » dans « {text[:80]} »")
    return sorted(set(found))


def _settle(page: Page) -> None:
    """Until htmx has nothing in flight (pages with a live job keep a stream open)."""
    page.wait_for_load_state("load")
    page.wait_for_function("() => !document.querySelector('.htmx-request')")
    page.wait_for_timeout(300)


def _open_more(page: Page, url: str) -> None:
    """What a page shows only after a tap, opened for the audit."""
    if url.startswith("/search?q="):
        page.get_by_role("button", name="Voir les variantes").first.click()
        page.locator("[data-variants]").first.wait_for()
    # Folded sections (finished jobs, a model's parameters...) are read too.
    page.evaluate(
        "() => document.querySelectorAll('details').forEach((d) => { d.open = true; })"
    )


def test_every_page_reads_well_at_both_widths(browser: Browser, lived: Lived) -> None:
    urls = page_urls(lived)
    for expected in ("/", "/models", "/running", "/search", "/servers", "/offline"):
        assert expected in urls
    ARTIFACTS.mkdir(exist_ok=True)
    report: dict[str, list[str]] = {}
    for device, options in DEVICES.items():
        context = browser.new_context(base_url=lived.url, locale="fr-FR", **options)
        context.set_default_timeout(15_000)
        page = context.new_page()
        watch = PageWatch.attach(page)
        for url in urls:
            page.goto(url)
            _settle(page)
            _open_more(page, url)
            found: dict[str, Any] = page.evaluate(AUDIT_JS)
            problems = [*found["overflow"], *watch.problems()]
            if url.split("?")[0] not in NOT_OURS:
                problems += _words(found["texts"])
            if problems:
                report[f"{url} ({device})"] = problems
            watch.clear()
            page.screenshot(
                path=ARTIFACTS / f"audit-{_slug(url)}-{device}.png", full_page=True
            )
        context.close()
    assert report == {}, "\n".join(
        f"{where}:\n  " + "\n  ".join(items) for where, items in report.items()
    )


def test_the_audit_catches_what_it_looks_for(browser: Browser, lived: Lived) -> None:
    """Each check fails on a page that has the defect (a guard against an audit
    that could never fail)."""
    context = browser.new_context(base_url=lived.url, **DEVICES["phone"])
    page = context.new_page()
    page.goto("/offline")
    page.evaluate(
        """() => {
          const main = document.querySelector("main");
          main.insertAdjacentHTML("beforeend",
            '<div class="card"><p>Downloaded 4.7GB 2 minutes ago: success</p>'
            + '<p>max_attempts invalide</p><div id="wide">x</div></div>');
          document.getElementById("wide").textContent = "a".repeat(200);
        }"""
    )
    found: dict[str, Any] = page.evaluate(AUDIT_JS)
    words = _words(found["texts"])
    context.close()
    assert any("dépasse" in item or "défile" in item for item in found["overflow"])
    for telltale in ("« ago »", "« success »", "GB »", "« max_attempts »"):
        assert any(telltale in word for word in words), (telltale, words)
    assert _words(["qwen2.5:0.5b · nomic-embed-text · 4,7 Go"]) == []


def test_artifacts_are_kept_for_every_page(lived: Lived) -> None:
    shots = {path.name for path in Path(ARTIFACTS).glob("audit-*.png")}
    for url in ("/", "/models", "/running"):
        for device in DEVICES:
            assert f"audit-{_slug(url)}-{device}.png" in shots
