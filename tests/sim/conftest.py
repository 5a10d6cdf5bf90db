"""Fixtures of the emulator's tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import httpx
import pytest
from sim_nodes import Node, running_node


@pytest.fixture
def make_node() -> Callable[..., AbstractContextManager[Node]]:
    return running_node


@pytest.fixture
def node() -> Iterator[Node]:
    with running_node() as running:
        yield running


@pytest.fixture
def http(node: Node) -> Iterator[httpx.Client]:
    with node.http() as client:
        yield client
