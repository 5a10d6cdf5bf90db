"""Three emulated nodes; the app knows the first two (the third can be added)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from usecases_support import Site

from fleet_support import FAST, SMALL_MODELS, fleet_services
from ollama_webmgr.runtime.services import Services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import EmulatedFleet, running_fleet


@pytest.fixture
def fleet() -> Iterator[EmulatedFleet]:
    with running_fleet([SMALL_MODELS] * 3, bandwidth=FAST) as running:
        yield running


@pytest.fixture
def services(fleet: EmulatedFleet, tmp_path: Path) -> Iterator[Services]:
    with fleet_services(fleet, tmp_path, ollama_servers=(fleet.urls[1],)) as built:
        yield built


@pytest.fixture
def site(services: Services) -> Iterator[Site]:
    with create_app(services=services).test_client() as client:
        yield Site(client, services)
