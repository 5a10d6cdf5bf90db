"""An emulated fleet of two nodes on real sockets and the web app over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fleet_support import FAST, fleet_services
from ollama_webmgr.runtime.services import Services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import EmulatedFleet, running_fleet

NODE_A = ("smollm2:135m", "all-minilm:latest")
NODE_B = ("smollm2:135m",)


@pytest.fixture
def fleet() -> Iterator[EmulatedFleet]:
    with running_fleet([NODE_A, NODE_B], bandwidth=FAST) as running:
        yield running


@pytest.fixture
def services(fleet: EmulatedFleet, tmp_path: Path) -> Iterator[Services]:
    with fleet_services(fleet, tmp_path, models_cache_ttl=60.0) as built:
        yield built


@pytest.fixture
def app(services: Services) -> Flask:
    app = create_app(services=services)
    app.config["SSE_HEARTBEAT"] = 0.2
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def names(services: Services) -> list[str]:
    """Server names, primary first."""
    return [server.name for server in services.servers.all()]
