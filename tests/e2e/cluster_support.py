"""The running product of the cluster journeys (a unique module name).

Everything runs for real: three emulated nodes, the started services (health
rounds, request records, agent collector), the web app and the gateway on
sockets, and a node agent over gRPC. Health rounds run every 0.3 s (a setting a
person can change on the Passerelle page) so Santé fills up in seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page

from fleet_support import SMALL_MODELS, fleet_settings
from ollama_webmgr.agent.server import create_server
from ollama_webmgr.runtime.services import Services, build_services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import EmulatedFleet, running_fleet
from ollama_webmgr.sim.serve import RunningServer, start_in_thread

VIEWPORTS: dict[str, dict[str, Any]] = {
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 2,
    },
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}


@dataclass
class Cluster:
    fleet: EmulatedFleet
    data_dir: Path
    agent_port: int
    services: Services | None = None
    web: RunningServer | None = None
    gateway: RunningServer | None = None
    stopped_nodes: set[int] = field(default_factory=set)

    @property
    def web_url(self) -> str:
        assert self.web is not None
        return self.web.url

    @property
    def gateway_url(self) -> str:
        assert self.gateway is not None
        return self.gateway.url

    def start(self) -> None:
        """Build and start the product over the data directory (a restart when
        it ran before: same store, same nodes)."""
        services = build_services(fleet_settings(self.fleet, self.data_dir))
        services.gateway.app.config.update(health_interval=0.3, health_timeout=0.5)
        services.start()
        self.services = services
        self.web = start_in_thread(create_app(services=services))
        self.gateway = start_in_thread(services.gateway.app)

    def stop(self) -> None:
        for server in (self.web, self.gateway):
            if server is not None:
                server.stop()
        if self.services is not None:
            self.services.close()
        self.services = self.web = self.gateway = None

    def stop_node(self, index: int) -> None:
        """A node goes down (idempotent)."""
        if index not in self.stopped_nodes:
            self.fleet.nodes[index].server.stop()
            self.stopped_nodes.add(index)


@contextmanager
def running_cluster(data_dir: Path, models_dir: Path) -> Iterator[Cluster]:
    nodes = [SMALL_MODELS, SMALL_MODELS[:1], SMALL_MODELS[:1]]
    agent, agent_port = create_server("127.0.0.1", 0, models_dir=str(models_dir))
    try:
        with running_fleet(nodes, bandwidth=10e9, token_delay=0.001) as fleet:
            cluster = Cluster(fleet, data_dir, agent_port)
            cluster.start()
            try:
                yield cluster
            finally:
                cluster.stop()
    finally:
        agent.stop(None)


def open_page(
    browser: Browser, base_url: str, viewport: str
) -> tuple[BrowserContext, Page]:
    context = browser.new_context(
        base_url=base_url, locale="fr-FR", **VIEWPORTS[viewport]
    )
    context.set_default_timeout(10_000)
    return context, context.new_page()


def until(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Wait for a condition with a deadline (never a bare sleep)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def inside_viewport(page: Page, selector: str) -> list[str]:
    """Elements matching ``selector`` that stick out of the viewport or of their
    closest ``.card`` (what a person sees cut or scrolled sideways)."""
    found: list[str] = page.evaluate(
        """(selector) => {
          const width = document.documentElement.clientWidth;
          const out = [];
          for (const el of document.querySelectorAll(selector)) {
            const box = el.getBoundingClientRect();
            if (!box.width) continue;
            const card = el.closest('.card');
            const limit = card ? card.getBoundingClientRect() : {left: 0, right: width};
            if (box.left < limit.left - 1 || box.right > limit.right + 1)
              out.push(el.name || el.id || el.tagName);
          }
          return out;
        }""",
        selector,
    )
    return found
