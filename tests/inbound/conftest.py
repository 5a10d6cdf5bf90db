from __future__ import annotations

from collections.abc import Iterator

import pytest
from inbound_support import NODE_MODELS, Served, serving

from ollama_webmgr.sim.catalog import DEFAULT_SCALE
from ollama_webmgr.sim.fleet import running_fleet


@pytest.fixture(scope="package")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``ollama-webmgr serve`` (both ports) over one emulated node, short limits."""
    tmp = tmp_path_factory.mktemp("battery")
    fleet_models = [NODE_MODELS]
    with (
        running_fleet(fleet_models, bandwidth=12e6 * DEFAULT_SCALE) as fleet,
        serving(tmp, fleet.urls[0]) as running,
    ):
        yield running


@pytest.fixture(params=["web", "gateway"])
def port(request: pytest.FixtureRequest, served: Served) -> int:
    """Each test of the battery runs against both ports."""
    return int(getattr(served, request.param))
