"""Circuit breaker hysteresis and the active health monitor on real sockets."""

from __future__ import annotations

import time

from ollama_webmgr.cluster.health import CircuitBreaker, HealthMonitor, Policy
from ollama_webmgr.cluster.models import ModelMap
from ollama_webmgr.cluster.servers import Server, ServerRegistry
from ollama_webmgr.gateway.upstream import Upstreams
from ollama_webmgr.sim.serve import serve_in_thread


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_breaker_goes_down_after_n_failures_and_up_after_m_successes():
    breaker = CircuitBreaker(
        Policy(failures_to_down=3, successes_to_up=2), clock=Clock()
    )
    breaker.failure()
    breaker.failure()
    assert breaker.healthy
    breaker.failure()
    assert not breaker.healthy
    breaker.success()
    assert not breaker.healthy
    breaker.success()
    assert breaker.healthy


def test_a_success_between_failures_resets_the_count():
    breaker = CircuitBreaker(Policy(failures_to_down=2), clock=Clock())
    breaker.failure()
    breaker.success()
    breaker.failure()
    assert breaker.healthy


def test_down_server_is_reprobed_with_exponential_backoff():
    clock = Clock()
    breaker = CircuitBreaker(
        Policy(failures_to_down=1, health_interval=1.0, backoff_max=4.0), clock=clock
    )
    breaker.failure()
    waits = []
    for _ in range(4):
        start = clock.now
        while not breaker.probe_due():
            clock.now += 0.25
        waits.append(clock.now - start)
        breaker.failure()
    assert waits == [1.0, 2.0, 4.0, 4.0]


def _node(environ, start_response):
    bodies = {
        "/api/version": b'{"version":"0.33.0"}',
        "/api/tags": b'{"models":[{"name":"llama3.2:latest","model":"llama3.2:latest"}]}',
        "/api/ps": b'{"models":[{"name":"llama3.2:latest","model":"llama3.2:latest"}]}',
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [bodies[environ["PATH_INFO"]]]


def test_monitor_probes_servers_and_maps_their_models():
    with serve_in_thread(_node) as node:
        registry = ServerRegistry(
            [Server("a", node.url), Server("b", "http://127.0.0.1:1")]
        )
        policy = Policy(failures_to_down=1, health_timeout=0.5)
        monitor = HealthMonitor(registry, ModelMap(), policy, clients=Upstreams())
        monitor.check_all()
        assert monitor.is_healthy("a")
        assert not monitor.is_healthy("b")
        assert monitor.version_of("a") == "0.33.0"
        assert monitor.models.servers_with("Llama3.2") == {"a"}
        assert monitor.models.loaded_on("llama3.2:latest") == {"a"}
        assert "refused" in monitor.breaker("b").last_error.lower()


def test_monitor_thread_notices_a_server_that_goes_away():
    with serve_in_thread(_node) as running:
        registry = ServerRegistry([Server("a", running.url)])
        policy = Policy(failures_to_down=2, health_interval=0.05, health_timeout=0.3)
        monitor = HealthMonitor(registry, ModelMap(), policy, clients=Upstreams())
        monitor.start()
        try:
            assert monitor.is_healthy("a")
            running.stop()
            deadline = time.monotonic() + 3
            while monitor.is_healthy("a") and time.monotonic() < deadline:
                time.sleep(0.02)
            assert not monitor.is_healthy("a")
        finally:
            monitor.stop()
