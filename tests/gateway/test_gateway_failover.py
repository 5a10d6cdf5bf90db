"""Failover through the gateway, driven by the emulator's fault knobs."""

from __future__ import annotations

import threading
import time

import ollama
import openai
import pytest

PROMPT = "Why is the sky blue?"


def preferred(sim_fleet, model: str, node: str) -> None:
    """Load ``model`` on ``node`` so that the gateway picks that node first."""
    sim_fleet.direct(node).generate(model, "warm up")
    sim_fleet.refresh()
    assert sim_fleet.gateway.models.loaded_on(model) == {node}


def test_killed_node_is_skipped(sim_fleet):
    preferred(sim_fleet, "llama3.2", "n1")
    sim_fleet.servers["n1"].stop()
    reply = sim_fleet.client().generate("llama3.2", PROMPT)
    assert (
        reply.response == sim_fleet.direct("n2").generate("llama3.2", PROMPT).response
    )
    assert not sim_fleet.gateway.monitor.is_healthy("n1")


def test_hanging_node_times_out_and_the_next_one_answers(sim_fleet):
    preferred(sim_fleet, "llama3.2", "n1")
    sim_fleet.states["n1"].faults.hang = True
    started = time.monotonic()
    reply = sim_fleet.client().generate("llama3.2", PROMPT)
    assert reply.done
    assert time.monotonic() - started < 5  # read timeout is 1 s in tests: no hang


@pytest.mark.parametrize("knob", [{"fail_next": 1}, {"status": 500}, {"status": 503}])
def test_5xx_before_the_first_byte_is_retried(sim_fleet, knob):
    preferred(sim_fleet, "llama3.2", "n1")
    sim_fleet.states["n1"].faults.update(knob)
    chunks = list(
        sim_fleet.client().chat(
            "llama3.2", [{"role": "user", "content": "x"}], stream=True
        )
    )
    assert chunks[-1].done


def test_only_node_failing_returns_its_own_error_unchanged(sim_fleet):
    sim_fleet.states["n1"].faults.update({"status": 503})
    sim_fleet.states["n2"].faults.update({"status": 503})
    with pytest.raises(ollama.ResponseError) as caught:
        sim_fleet.client().generate("llama3.2", PROMPT)
    assert caught.value.status_code == 503
    assert (
        caught.value.error
        == "server busy, please try again.  maximum pending requests exceeded"
    )


def test_dropped_stream_ends_with_an_error_the_client_raises(sim_fleet):
    preferred(sim_fleet, "llama3.2", "n1")
    sim_fleet.states["n1"].faults.drop_after = 3
    received: list[object] = []
    with pytest.raises(ollama.ResponseError) as caught:
        received.extend(sim_fleet.client().generate("llama3.2", PROMPT, stream=True))
    assert len(received) == 3
    assert caught.value.status_code == -1
    assert "upstream stream failed" in caught.value.error


def test_dropped_openai_stream_raises_in_the_openai_client(sim_fleet):
    preferred(sim_fleet, "llama3.2", "n2")
    sim_fleet.states["n2"].faults.drop_after = 2
    client = sim_fleet.openai(sim_fleet.url)
    stream = client.chat.completions.create(
        model="llama3.2", messages=[{"role": "user", "content": "x"}], stream=True
    )
    with pytest.raises(openai.APIError, match="upstream stream failed"):
        list(stream)


def test_concurrent_requests_spread_over_the_nodes_that_have_the_model(sim_fleet):
    for state in sim_fleet.states.values():
        state.token_delay = 0.02
    servers: list[str] = []
    lock = threading.Lock()

    def one() -> None:
        import httpx

        response = httpx.post(
            sim_fleet.url + "/api/generate",
            json={"model": "llama3.2", "prompt": PROMPT},
            timeout=10,
        )
        assert response.status_code == 200
        with lock:
            servers.append(response.headers["x-ollama-server"])

    threads = [threading.Thread(target=one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(servers) == 6
    assert set(servers) == {"n1", "n2"}  # n3 lacks the model
