"""Fault knobs, set through the Python API and the ``/_sim`` control endpoint."""

from __future__ import annotations

import json
import threading
import time

import httpx
import ollama
import pytest
from sim_nodes import Node

from ollama_webmgr.sim.faults import BUSY_MESSAGE


def test_fail_next_fails_exactly_that_many_requests(http: httpx.Client) -> None:
    assert http.post("/_sim/faults", json={"fail_next": 2}).json()["fail_next"] == 2
    statuses = [http.get("/api/tags").status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert http.get("/api/version").json() == {"version": "0.33.0-rc2"}


def test_failure_answers_ollama_error_shape(http: httpx.Client, node: Node) -> None:
    node.state.faults.fail_next = 1
    response = http.post("/api/show", json={"model": "llama3.2"})
    assert (response.status_code, response.json()) == (
        500,
        {"error": "simulated failure"},
    )


def test_failure_rate_is_reproducible_with_a_seed(http: httpx.Client) -> None:
    def pattern() -> list[int]:
        http.post("/_sim/faults", json={"failure_rate": 0.5, "seed": 7})
        return [http.get("/api/tags").status_code for _ in range(12)]

    first = pattern()
    assert first == pattern()
    assert {200, 500} == set(first)


def test_forced_status_reaches_the_official_client(node: Node) -> None:
    node.state.faults.status = 503
    with pytest.raises(ollama.ResponseError) as caught:
        ollama.Client(host=node.url).list()
    assert (caught.value.status_code, caught.value.error) == (503, BUSY_MESSAGE)


def test_latency_delays_answers(http: httpx.Client) -> None:
    http.post("/_sim/faults", json={"latency": 0.2})
    started = time.monotonic()
    assert http.get("/api/tags").status_code == 200
    assert time.monotonic() - started >= 0.2


def test_hang_holds_requests_until_released(http: httpx.Client, node: Node) -> None:
    http.post("/_sim/faults", json={"hang": True})
    answers: list[int] = []

    def call() -> None:
        with node.http() as client:
            answers.append(client.get("/api/tags").status_code)

    thread = threading.Thread(target=call)
    thread.start()
    thread.join(0.3)
    assert thread.is_alive()
    assert answers == []
    http.post("/_sim/faults", json={"hang": False})
    thread.join(3)
    assert answers == [200]


def test_drop_after_cuts_the_stream_mid_way(node: Node) -> None:
    node.state.faults.drop_after = 2
    parts: list[ollama.GenerateResponse] = []
    stream = ollama.Client(host=node.url).generate("llama3.2", "x", stream=True)
    with pytest.raises(httpx.RemoteProtocolError):
        parts.extend(stream)
    assert len(parts) == 2


def test_malformed_line_breaks_json_parsing(http: httpx.Client, node: Node) -> None:
    node.state.faults.malformed_after = 1
    lines = http.post(
        "/api/generate", json={"model": "llama3.2", "prompt": "x"}
    ).content
    decoded = lines.split(b"\n")
    json.loads(decoded[0])
    with pytest.raises(json.JSONDecodeError):
        json.loads(decoded[1])
    with pytest.raises(json.JSONDecodeError):
        list(ollama.Client(host=node.url).generate("llama3.2", "x", stream=True))


def test_unknown_knob_is_a_400_and_reset_clears_faults(http: httpx.Client) -> None:
    bad = http.post("/_sim/faults", json={"explode": True})
    assert (bad.status_code, bad.json()) == (
        400,
        {"error": "unknown fault knob 'explode'"},
    )
    http.post("/_sim/faults", json={"status": 503})
    assert http.get("/api/tags").status_code == 503
    assert http.post("/_sim/reset").status_code == 200
    assert http.get("/api/tags").status_code == 200
    assert http.get("/_sim/faults").json()["status"] is None
