"""Fixtures of the independent-client proof (see ``clients_support``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from clients_support import Target, gateway_target, node_target


@pytest.fixture(scope="module", params=["node", "gateway"])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    if request.param == "node":
        with node_target() as running:
            yield running
    else:
        with gateway_target(tmp_path_factory.mktemp("gateway")) as running:
            yield running
