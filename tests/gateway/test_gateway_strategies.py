"""The routing strategies end to end (the pure ordering is in test_gateway_balancer):
weights and first-token times measured on real traffic decide, and changing
them while the gateway runs applies to the next request."""

from __future__ import annotations

import httpx
from gateway_fakes import Node

GENERATE = {"model": "llama3.2", "prompt": "hi", "stream": False}


def _served(url: str, count: int) -> list[str]:
    return [
        httpx.post(url + "/api/generate", json=GENERATE).headers["x-ollama-server"]
        for _ in range(count)
    ]


def test_weighted_strategy_prefers_the_heavier_server(make_fleet):
    # both have the model loaded, so only the weights decide
    nodes = [Node(name, loaded=["llama3.2:latest"]) for name in "ab"]
    fleet = make_fleet(*nodes, strategy="weighted")
    fleet.gateway.registry.update("b", weight=5)
    assert _served(fleet.url, 3) == ["b", "b", "b"]
    fleet.gateway.registry.update("a", weight=10)
    assert _served(fleet.url, 3) == ["a", "a", "a"]


def test_latency_strategy_measures_each_server_then_picks_the_fastest(sim_fleet):
    for node in ("n1", "n2"):  # loaded on both: only the strategy decides
        sim_fleet.direct(node).generate("llama3.2", "warm up")
    sim_fleet.refresh()
    sim_fleet.gateway.config.update(strategy="latency")
    sim_fleet.states["n1"].faults.latency = 0.3
    first_two = _served(sim_fleet.url, 2)
    assert sorted(first_two) == ["n1", "n2"]  # unmeasured servers are tried first
    assert _served(sim_fleet.url, 3) == ["n2", "n2", "n2"]
    assert sim_fleet.gateway.ttft.get("n1") > sim_fleet.gateway.ttft.get("n2")
    sim_fleet.gateway.config.update(strategy="round_robin")
    assert sorted(_served(sim_fleet.url, 2)) == ["n1", "n2"]
