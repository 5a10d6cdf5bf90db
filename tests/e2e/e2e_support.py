"""Helpers of the browser tests (a unique module name: test dirs have no __init__)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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

# Runs before any script of every document (CDP bypasses the page's CSP).
_CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@dataclass
class PageWatch:
    """What went wrong in a page: console errors, exceptions, CSP violations,
    and the deprecated APIs it used (Chromium's DevTools issues; Lighthouse's
    best-practices ``deprecations`` audit fails on any)."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    deprecations: list[str] = field(default_factory=list)

    @classmethod
    def attach(cls, page: Page) -> PageWatch:
        watch = cls(page)
        page.add_init_script(_CSP_LISTENER)
        page.on("console", watch._on_console)
        page.on("pageerror", watch._on_page_error)
        devtools = page.context.new_cdp_session(page)
        devtools.on("Audits.issueAdded", watch._on_issue)
        devtools.send("Audits.enable")
        return watch

    def clear(self) -> None:
        self.console_errors.clear()
        self.page_errors.clear()
        self.deprecations.clear()

    def _on_issue(self, event: dict[str, Any]) -> None:
        issue = event["issue"]
        if issue["code"] == "DeprecationIssue":
            details = issue["details"]["deprecationIssueDetails"]
            where = details["sourceCodeLocation"]
            self.deprecations.append(
                f"deprecated API {details['type']} used at"
                f" {where['url']}:{where['lineNumber']}:{where['columnNumber']}"
            )

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} ({message.location})")

    def _on_page_error(self, error: Error) -> None:
        self.page_errors.append(str(error))

    def problems(self) -> list[str]:
        """Everything seen so far, the current document's CSP violations included."""
        violations: list[str] = self.page.evaluate("window.__cspViolations || []")
        return [
            *self.console_errors,
            *self.page_errors,
            *self.deprecations,
            *(f"CSP violation: {v}" for v in violations),
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
