"""Fixtures of the gateway tests; the fakes live in ``gateway_fakes``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from gateway_fakes import FAST, Fleet, Node, stop_all

from ollama_webmgr.cluster.health import HealthMonitor
from ollama_webmgr.cluster.models import ModelMap
from ollama_webmgr.cluster.servers import Server, ServerRegistry
from ollama_webmgr.gateway.app import create_gateway_app
from ollama_webmgr.gateway.config import GatewayConfig
from ollama_webmgr.gateway.stats import RequestRecord
from ollama_webmgr.sim.serve import RunningServer, start_in_thread


@pytest.fixture
def make_fleet() -> Iterator[Callable[..., Fleet]]:
    started: list[RunningServer] = []
    with ExitStack() as stack:
        stack.callback(stop_all, started)

        def make(*nodes: Node, **config: Any) -> Fleet:
            servers = {}
            for node in nodes:
                servers[node.name] = running = start_in_thread(node)
                started.append(running)
            registry = ServerRegistry(
                Server(n.name, servers[n.name].url) for n in nodes
            )
            settings = GatewayConfig().update(**{**FAST, **config})
            monitor = HealthMonitor(registry, ModelMap(), settings)
            records: list[RequestRecord] = []
            app = create_gateway_app(
                settings, registry, monitor, on_request=records.append
            )
            monitor.check_all()
            front = start_in_thread(app)
            started.append(front)
            return Fleet(
                {n.name: n for n in nodes}, servers, app, front.url, records, stack
            )

        yield make
