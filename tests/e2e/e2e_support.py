"""Helpers of the browser tests (a unique module name: test dirs have no __init__)."""

from __future__ import annotations

from dataclasses import dataclass, field

from playwright.sync_api import ConsoleMessage, Error, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: every page that can exist; the ones not built yet answer 404 and are skipped
APP_PAGES = ("/", "/models", "/running", "/search", "/servers", "/offline")

# Runs before any script of every document (CDP bypasses the page's CSP). Chromium
# reports each deprecated API a page uses to ReportingObserver, as it does to
# DevTools (Lighthouse's best-practices ``deprecations`` audit fails on any).
_LISTENERS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
window.__deprecations = [];
window.__deprecationReports = (reports) => {
  for (const { body } of reports) {
    window.__deprecations.push(
      `${body.id} at ${body.sourceFile}:${body.lineNumber}:${body.columnNumber}`);
  }
};
window.__deprecationObserver = new ReportingObserver(
  window.__deprecationReports, { types: ["deprecation"], buffered: true });
window.__deprecationObserver.observe();
"""
# Reports are delivered asynchronously: take the pending ones too.
_DEPRECATIONS = """() => {
  const observer = window.__deprecationObserver;
  if (!observer) return [];
  window.__deprecationReports(observer.takeRecords());
  return window.__deprecations;
}"""


@dataclass
class PageWatch:
    """What went wrong in a page: console errors, exceptions, CSP violations and
    deprecated APIs used."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    @classmethod
    def attach(cls, page: Page) -> PageWatch:
        watch = cls(page)
        page.add_init_script(_LISTENERS)
        page.on("console", watch._on_console)
        page.on("pageerror", watch._on_page_error)
        return watch

    def clear(self) -> None:
        self.console_errors.clear()
        self.page_errors.clear()

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} ({message.location})")

    def _on_page_error(self, error: Error) -> None:
        self.page_errors.append(str(error))

    def deprecations(self) -> list[str]:
        """Deprecated APIs the current document used."""
        found: list[str] = self.page.evaluate(_DEPRECATIONS)
        return found

    def problems(self) -> list[str]:
        """Everything seen so far, the current document's CSP violations and
        deprecations included."""
        violations: list[str] = self.page.evaluate("window.__cspViolations || []")
        return [
            *self.console_errors,
            *self.page_errors,
            *(f"CSP violation: {v}" for v in violations),
            *(f"deprecated API: {d}" for d in self.deprecations()),
        ]


def wait_for_service_worker(page: Page, timeout_ms: int = 10_000) -> None:
    """Until the worker is activated (it then claims the open pages)."""
    page.evaluate(
        """(timeout) => Promise.race([
          navigator.serviceWorker.ready.then(() => true),
          new Promise((_, reject) => setTimeout(
            () => reject(new Error("no active service worker")), timeout)),
        ])""",
        timeout_ms,
    )


def is_controlled(page: Page) -> bool:
    controlled: bool = page.evaluate("navigator.serviceWorker.controller !== null")
    return controlled
