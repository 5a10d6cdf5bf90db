"""A running product over an emulated fleet, for the API tests (unique name)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from fleet_support import fleet_settings
from ollama_webmgr.runtime.services import Services, build_services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import EmulatedFleet, running_fleet
from ollama_webmgr.sim.serve import serve_in_thread


@dataclass
class Product:
    fleet: EmulatedFleet
    services: Services
    web: FlaskClient
    gateway_url: str

    def names(self) -> list[str]:
        return [s.name for s in self.services.servers.all()]


@contextmanager
def running_product(
    models: Sequence[Sequence[str]], data_dir: Path, **fleet_options: Any
) -> Iterator[Product]:
    """Fleet + started services + web test client + the gateway on a real socket."""
    options = {"bandwidth": 10e9, "token_delay": 0.001, **fleet_options}
    with running_fleet(models, **options) as fleet:
        services = build_services(fleet_settings(fleet, data_dir))
        try:
            services.start()
            app = create_app(services=services)
            with (
                serve_in_thread(services.gateway.app) as gateway,
                app.test_client() as web,
            ):
                yield Product(fleet, services, web, gateway.url)
        finally:
            services.close()
