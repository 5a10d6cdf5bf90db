"""Fixtures of the gateway tests; the fakes live in ``gateway_fakes``."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import ollama
import openai
import pytest
from gateway_fakes import FAST, Fleet, Node, stop_all

from ollama_webmgr.cluster.health import HealthMonitor
from ollama_webmgr.cluster.models import ModelMap
from ollama_webmgr.cluster.servers import Server, ServerRegistry
from ollama_webmgr.gateway.app import Gateway, create_gateway_app
from ollama_webmgr.gateway.config import GatewayConfig
from ollama_webmgr.gateway.stats import RequestRecord
from ollama_webmgr.gateway.upstream import Upstreams
from ollama_webmgr.sim.app import create_app
from ollama_webmgr.sim.catalog import DEFAULT_SCALE
from ollama_webmgr.sim.serve import RunningServer, start_in_thread
from ollama_webmgr.sim.state import SimState


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
            upstreams = Upstreams()
            monitor = HealthMonitor(registry, ModelMap(), settings, clients=upstreams)
            records: list[RequestRecord] = []
            app = create_gateway_app(
                settings,
                registry,
                monitor,
                on_request=records.append,
                upstreams=upstreams,
            )
            monitor.check_all()
            front = start_in_thread(app)
            started.append(front)
            return Fleet(
                {n.name: n for n in nodes}, servers, app, front.url, records, stack
            )

        yield make


class Counting:
    """A node's requests by path (probes included), to see where requests went."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.hits: Counter[str] = Counter()

    def __call__(self, environ: Any, start_response: Any) -> Any:
        self.hits[environ["PATH_INFO"]] += 1
        return self.app(environ, start_response)


@dataclass
class SimFleet:
    """Three emulated nodes and a gateway, all on real sockets."""

    states: dict[str, SimState]
    urls: dict[str, str]
    servers: dict[str, RunningServer]
    gateway: Gateway
    url: str
    nodes: dict[str, Counting]
    records: list[RequestRecord]

    def hits(self, path: str) -> dict[str, int]:
        return {name: node.hits[path] for name, node in self.nodes.items()}

    def refresh(self) -> None:
        self.gateway.monitor.check_all()

    clients: list[Any] = field(default_factory=list)

    def direct(self, name: str) -> ollama.Client:
        return self._keep(ollama.Client(host=self.urls[name]))

    def client(self) -> ollama.Client:
        return self._keep(ollama.Client(host=self.url))

    def openai(self, url: str) -> openai.OpenAI:
        return self._keep(
            openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
        )

    def _keep(self, client: Any) -> Any:
        self.clients.append(client)  # closed at teardown: no unclosed sockets
        return client


SIM_MODELS = {
    "n1": ("llama3.2:latest", "all-minilm:latest"),
    "n2": ("llama3.2:latest", "qwen2.5:0.5b"),
    "n3": ("qwen2.5:0.5b", "all-minilm:latest"),
}


def all_healthy(monitor: HealthMonitor, registry: ServerRegistry) -> None:
    """Probe until every node is healthy: under load, one 0.5 s probe may time
    out, and a node left out would change what the test fans out to."""
    for _ in range(20):
        monitor.check_all()
        if all(monitor.is_healthy(s.name) for s in registry.active()):
            return
        time.sleep(0.2)
    raise AssertionError("the emulated nodes did not all answer their probe")


@pytest.fixture
def sim_fleet() -> Iterator[SimFleet]:
    started: list[RunningServer] = []
    states = {
        name: SimState.with_models(
            list(models), bandwidth=10e9 * DEFAULT_SCALE, token_delay=0.002
        )
        for name, models in SIM_MODELS.items()
    }
    nodes = {name: Counting(create_app(state)) for name, state in states.items()}
    records: list[RequestRecord] = []
    try:
        servers = {}
        for name, node in nodes.items():
            servers[name] = running = start_in_thread(node)
            started.append(running)
        urls = {name: s.url for name, s in servers.items()}
        registry = ServerRegistry(Server(name, url) for name, url in urls.items())
        config = GatewayConfig().update(**FAST)
        upstreams = Upstreams()
        monitor = HealthMonitor(registry, ModelMap(), config, clients=upstreams)
        app = create_gateway_app(
            config, registry, monitor, on_request=records.append, upstreams=upstreams
        )
        all_healthy(monitor, registry)
        front = start_in_thread(app)
        started.append(front)
        fleet = SimFleet(states, urls, servers, app, front.url, nodes, records)
        yield fleet
        for client in fleet.clients:
            client.close()
    finally:
        for state in states.values():
            state.release_hang()
        stop_all(started)
