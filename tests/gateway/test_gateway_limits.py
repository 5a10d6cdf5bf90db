"""Concurrency limit and queue, drain, stickiness, API keys, metrics."""

from __future__ import annotations

import json
import threading

import httpx
from gateway_fakes import Node, wait_until
from prometheus_client.parser import text_string_to_metric_families

from ollama_webmgr.gateway.auth import hash_api_key

CHAT = {
    "model": "llama3.2",
    "stream": False,
    "messages": [{"role": "user", "content": "hello"}],
}


def _hold_stream(url: str, opened: threading.Event, release: threading.Event) -> None:
    with httpx.stream(
        "POST", url + "/api/generate", json={"model": "llama3.2"}
    ) as response:
        lines = response.iter_lines()
        next(lines)
        opened.set()
        release.wait(5)
        for _ in lines:
            pass


def test_full_server_with_full_queue_answers_429_with_retry_after(make_fleet):
    fleet = make_fleet(
        Node("a", line_delay=0.3, lines=4), default_limit=1, queue_size=0
    )
    opened, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_stream, args=(fleet.url, opened, release))
    holder.start()
    try:
        assert opened.wait(5)
        response = httpx.post(fleet.url + "/api/generate", json={"model": "llama3.2"})
        assert response.status_code == 429
        assert response.headers["retry-after"] == "2"
        assert response.json() == {
            "error": "all Ollama servers are busy, please try again"
        }
    finally:
        release.set()
        holder.join()


def test_queued_request_runs_when_a_slot_frees(make_fleet):
    fleet = make_fleet(
        Node("a", line_delay=0.1, lines=3),
        default_limit=1,
        queue_size=4,
        queue_timeout=5.0,
    )
    opened, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_stream, args=(fleet.url, opened, release))
    holder.start()
    assert opened.wait(5)
    release.set()
    response = httpx.post(
        fleet.url + "/api/generate", json={"model": "llama3.2", "stream": False}
    )
    holder.join()
    assert response.status_code == 200


def test_requests_overflow_to_another_server_when_one_is_full(make_fleet):
    fleet = make_fleet(
        Node("a", line_delay=0.3, lines=4, loaded=["llama3.2:latest"]),
        Node("b"),
        default_limit=1,
        queue_size=0,
    )
    opened, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_stream, args=(fleet.url, opened, release))
    holder.start()
    try:
        assert opened.wait(5)
        response = httpx.post(
            fleet.url + "/api/generate", json={"model": "llama3.2", "stream": False}
        )
        assert response.headers["x-ollama-server"] == "b"
    finally:
        release.set()
        holder.join()


def test_drained_server_finishes_its_stream_but_gets_no_new_request(make_fleet):
    fleet = make_fleet(
        Node("a", line_delay=0.2, lines=4, loaded=["llama3.2:latest"]), Node("b")
    )
    with httpx.stream(
        "POST", fleet.url + "/api/generate", json={"model": "llama3.2"}
    ) as running:
        lines = running.iter_lines()
        first = json.loads(next(lines))
        fleet.gateway.registry.set_draining("a", True)
        other = httpx.post(
            fleet.url + "/api/generate", json={"model": "llama3.2", "stream": False}
        )
        rest = [json.loads(line) for line in lines]
    assert running.headers["x-ollama-server"] == "a"
    assert first["response"] == "w0 "
    assert rest[-1]["done"] is True
    assert other.headers["x-ollama-server"] == "b"


def test_sticky_conversation_stays_on_its_server_and_falls_back_when_down(make_fleet):
    fleet = make_fleet(
        Node("a"), Node("b"), Node("c"), strategy="round_robin", sticky=True
    )
    first = httpx.post(fleet.url + "/api/chat", json=CHAT).headers["x-ollama-server"]
    follow_up = {
        **CHAT,
        "messages": [*CHAT["messages"], {"role": "assistant", "content": "hi"}],
    }
    for _ in range(3):
        assert (
            httpx.post(fleet.url + "/api/chat", json=follow_up).headers[
                "x-ollama-server"
            ]
            == first
        )
    fleet.stop_node(first)
    fleet.refresh()
    fallback = httpx.post(fleet.url + "/api/chat", json=follow_up)
    assert fallback.status_code == 200
    assert fallback.headers["x-ollama-server"] != first


def test_without_stickiness_round_robin_spreads_the_same_conversation(make_fleet):
    nodes = [Node(name, loaded=["llama3.2:latest"]) for name in "ab"]
    fleet = make_fleet(*nodes, strategy="round_robin")
    servers = {
        httpx.post(fleet.url + "/api/chat", json=CHAT).headers["x-ollama-server"]
        for _ in range(4)
    }
    assert servers == {"a", "b"}


def test_api_keys_reject_wrong_keys_in_ollamas_shape(make_fleet):
    fleet = make_fleet(Node("a"), api_key_hashes={hash_api_key("good-key")})
    assert httpx.get(fleet.url + "/").status_code == 200  # liveness stays open
    for headers in (
        {},
        {"Authorization": "Bearer bad"},
        {"Authorization": "Basic good-key"},
    ):
        response = httpx.post(
            fleet.url + "/api/generate", json={"model": "llama3.2"}, headers=headers
        )
        assert response.status_code == 401
        assert response.json() == {"error": "unauthorized: invalid or missing API key"}
    openai_shape = httpx.post(
        fleet.url + "/v1/chat/completions",
        json={"model": "llama3.2", "messages": []},
        headers={"Authorization": "Bearer bad"},
    )
    assert openai_shape.status_code == 401
    assert openai_shape.json()["error"]["message"] == (
        "unauthorized: invalid or missing API key"
    )
    ok = httpx.post(
        fleet.url + "/api/generate",
        json={"model": "llama3.2", "stream": False},
        headers={"Authorization": "Bearer good-key"},
    )
    assert ok.status_code == 200
    assert "authorization" not in fleet.nodes["a"].seen[-1]["headers"]


def test_metrics_expose_requests_in_prometheus_format(make_fleet):
    fleet = make_fleet(Node("a"), Node("b", models=[]))
    httpx.post(
        fleet.url + "/api/generate", json={"model": "llama3.2"}
    ).raise_for_status()
    wait_until(lambda: bool(fleet.records))
    response = httpx.get(fleet.url + "/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in families.values()
        for s in f.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples[name, tuple(sorted(labels.items()))]

    assert {n: f.type for n, f in families.items()} == {
        "ollama_gateway_requests": "counter",
        "ollama_gateway_request_seconds": "summary",
        "ollama_gateway_tokens": "counter",
        "ollama_gateway_response_bytes": "counter",
        "ollama_gateway_in_flight": "gauge",
        "ollama_gateway_server_up": "gauge",
    }
    requests = "ollama_gateway_requests_total"
    assert value(requests, server="a", kind="generate", status="200") == 1
    assert value("ollama_gateway_tokens_total", server="a", type="completion") == 3
    assert value("ollama_gateway_server_up", server="b") == 1
    assert value("ollama_gateway_in_flight", server="a") == 0
    assert value("ollama_gateway_request_seconds_count", server="a") == 1
    assert value("ollama_gateway_request_seconds_sum", server="a") > 0
    assert value("ollama_gateway_response_bytes_total", server="a") > 0


def test_fleet_status_reports_each_server_as_the_gateway_sees_it(make_fleet):
    from ollama_webmgr.gateway.status import fleet_status

    fleet = make_fleet(
        Node("a", loaded=["llama3.2:latest"]), Node("b", models=[]), default_limit=4
    )
    fleet.stop_node("b")
    fleet.refresh()
    fleet.gateway.registry.set_draining("a", True)
    a, b = fleet_status(fleet.gateway)
    assert (a.name, a.healthy, a.draining, a.limit, a.version) == (
        "a",
        True,
        True,
        4,
        "0.33.0",
    )
    assert (a.models, a.loaded, a.in_flight) == (1, 1, 0)
    assert a.loaded_models == ("llama3.2:latest",)
    assert (b.name, b.healthy) == ("b", False)
    assert "refused" in b.last_error.lower()
