"""An emulated two-node fleet (module-wide) and a web app over it (per test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import services
from flask import Flask
from flask.testing import FlaskClient

from fleet_support import SMALL_MODELS, fleet_settings
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import EmulatedFleet, running_fleet


@pytest.fixture(scope="module")
def fleet() -> Iterator[EmulatedFleet]:
    with running_fleet([SMALL_MODELS, SMALL_MODELS[:1]]) as emulated:
        yield emulated


@pytest.fixture(autouse=True)
def _clean_nodes(fleet: EmulatedFleet) -> Iterator[None]:
    yield
    for node in fleet.nodes:
        node.state.reset()


@pytest.fixture
def app(fleet: EmulatedFleet, tmp_path: Path) -> Iterator[Flask]:
    flask_app = create_app(fleet_settings(fleet, tmp_path))
    yield flask_app
    services(flask_app).close()


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield test_client
