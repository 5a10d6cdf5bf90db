"""Fixtures of the agent tests: a real gRPC agent on port 0 over captured readers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from agent_fixtures import RunningAgent, running_agent


@pytest.fixture
def agent() -> Iterator[RunningAgent]:
    with running_agent() as running:
        yield running


@pytest.fixture
def token_agent() -> Iterator[RunningAgent]:
    with running_agent(token="s3cret") as running:
        yield running
