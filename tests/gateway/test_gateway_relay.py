"""The gateway relays requests to the right node, streams, and fails over."""

from __future__ import annotations

import http.client
import json
import time

import httpx
import pytest
from gateway_fakes import Node, wait_until


def test_root_answers_like_ollama(make_fleet):
    fleet = make_fleet(Node("a"))
    response = httpx.get(fleet.url + "/")
    assert response.status_code == 200
    assert response.text == "Ollama is running"
    head = httpx.head(fleet.url + "/")
    assert head.status_code == 200
    assert head.content == b""


def test_generate_goes_to_a_node_that_has_the_model(make_fleet):
    fleet = make_fleet(
        Node("a", models=["qwen2.5:7b"]), Node("b", models=["llama3.2:latest"])
    )
    response = httpx.post(
        fleet.url + "/api/generate", json={"model": "Llama3.2", "stream": False}
    )
    assert response.status_code == 200
    assert response.headers["x-ollama-server"] == "b"
    assert response.json()["response"] == "abc"
    assert fleet.nodes["a"].seen == []


def test_stream_lines_reach_the_client_one_by_one(make_fleet):
    fleet = make_fleet(Node("a", line_delay=0.3, lines=3))
    arrivals = []
    started = time.monotonic()
    with httpx.stream(
        "POST", fleet.url + "/api/generate", json={"model": "llama3.2"}
    ) as response:
        assert response.headers["content-type"] == "application/x-ndjson"
        for line in response.iter_lines():
            arrivals.append((time.monotonic() - started, json.loads(line)))
    assert [item["done"] for _, item in arrivals] == [False, False, False, True]
    # the first line arrives long before the stream ends: nothing is buffered whole
    assert arrivals[0][0] < 0.25
    assert arrivals[-1][0] >= 0.85


def test_host_is_rewritten_and_hop_by_hop_headers_are_dropped(make_fleet):
    fleet = make_fleet(Node("a"))
    headers = {
        "Connection": "keep-alive, X-Secret-Hop",
        "X-Secret-Hop": "1",
        "X-Kept": "yes",
        "TE": "trailers",
    }
    httpx.post(
        fleet.url + "/api/chat",
        json={"model": "llama3.2", "stream": False},
        headers=headers,
    )
    seen = fleet.nodes["a"].seen[-1]["headers"]
    assert seen["host"] == fleet.servers["a"].url.removeprefix("http://")
    assert seen["x-kept"] == "yes"
    assert "x-secret-hop" not in seen
    assert "te" not in seen


def test_prefers_the_node_where_the_model_is_loaded(make_fleet):
    fleet = make_fleet(Node("a"), Node("b", loaded=["llama3.2:latest"]), Node("c"))
    for _ in range(3):
        response = httpx.post(
            fleet.url + "/api/generate", json={"model": "llama3.2", "stream": False}
        )
        assert response.headers["x-ollama-server"] == "b"


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/api/generate", {"model": "nope"}, "model 'nope' not found"),
        ("/api/chat", {"model": "nope"}, "model 'nope' not found"),
        (
            "/api/embed",
            {"model": "nope", "input": "x"},
            'model "nope" not found, try pulling it first',
        ),
        ("/api/show", {"model": "nope"}, "model 'nope:latest' not found"),
    ],
)
def test_missing_model_gets_ollamas_404_wording(make_fleet, path, body, message):
    fleet = make_fleet(Node("a"))
    response = httpx.post(fleet.url + path, json=body)
    assert response.status_code == 404
    assert response.json() == {"error": message}


def test_missing_model_on_v1_gets_openai_error_shape(make_fleet):
    fleet = make_fleet(Node("a"))
    response = httpx.post(
        fleet.url + "/v1/chat/completions", json={"model": "nope", "messages": []}
    )
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "model 'nope' not found",
            "type": "not_found_error",
            "param": None,
            "code": None,
        }
    }


def test_invalid_requests_get_the_nodes_own_answer(make_fleet):
    fleet = make_fleet(Node("a"))
    response = httpx.get(fleet.url + "/api/unknown")
    assert response.status_code == 404
    assert response.text == "404 page not found"


def test_no_node_up_gives_503(make_fleet):
    fleet = make_fleet(Node("a"))
    fleet.stop_node("a")
    fleet.refresh()
    response = httpx.post(fleet.url + "/api/generate", json={"model": "llama3.2"})
    assert response.status_code == 503
    assert response.json() == {"error": "no Ollama server is available"}


@pytest.mark.parametrize("fault", ["500", "503", "hang", "refused"])
def test_failure_before_first_byte_is_retried_on_the_next_node(make_fleet, fault):
    fleet = make_fleet(Node("a", loaded=["llama3.2:latest"]), Node("b"))
    if fault == "refused":
        fleet.stop_node("a")
    else:
        fleet.nodes["a"].fault = fault
    response = httpx.post(
        fleet.url + "/api/generate",
        json={"model": "llama3.2", "stream": False},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers["x-ollama-server"] == "b"
    assert fleet.last_record().attempts == 2
    # the failure is a passive health signal (failures_to_down=1 in tests)
    assert not fleet.gateway.monitor.is_healthy("a")


def test_last_5xx_passes_through_unchanged_when_every_node_fails(make_fleet):
    fleet = make_fleet(Node("a", fault="500"), Node("b", fault="500"), max_attempts=2)
    response = httpx.post(fleet.url + "/api/generate", json={"model": "llama3.2"})
    assert response.status_code == 500
    assert response.json()["error"] in ("a failed", "b failed")


def test_retries_stop_at_max_attempts(make_fleet):
    nodes = [Node(name, fault="500") for name in "abc"]
    fleet = make_fleet(*nodes, max_attempts=2)
    response = httpx.post(
        fleet.url + "/api/generate", json={"model": "llama3.2", "stream": False}
    )
    assert response.status_code == 500
    assert fleet.last_record().attempts == 2
    assert sum(1 for node in nodes if node.seen) == 2


def test_timeouts_and_refusals_everywhere_are_504_and_502(make_fleet):
    body = {"model": "llama3.2", "stream": False}
    hanging = make_fleet(Node("a", fault="hang"))
    timed_out = httpx.post(hanging.url + "/api/generate", json=body, timeout=10)
    assert timed_out.status_code == 504
    assert timed_out.json()["error"].startswith("Ollama server 'a' ")
    refusing = make_fleet(Node("b"))
    refusing.stop_node("b")  # the gateway has not noticed yet
    refused = httpx.post(refusing.url + "/api/generate", json=body, timeout=10)
    assert refused.status_code == 502
    assert refused.json()["error"].startswith("Ollama server 'b' ")


def test_drop_after_first_byte_ends_with_an_ollama_error_line(make_fleet):
    fleet = make_fleet(Node("a", fault="drop", lines=5))
    with httpx.stream(
        "POST", fleet.url + "/api/generate", json={"model": "llama3.2"}
    ) as response:
        lines = [json.loads(line) for line in response.iter_lines()]
    assert response.status_code == 200
    assert [line.get("response") for line in lines[:2]] == ["w0 ", "w1 "]
    assert set(lines[-1]) == {"error"}
    assert "upstream stream failed" in lines[-1]["error"]


def test_a_small_body_cut_short_of_its_length_is_a_502(make_fleet):
    # a body that is not a stream is held whole (up to 256 KiB) before the status
    # is sent: a cut one is still a clean error in Ollama's shape
    fleet = make_fleet(Node("a", fault="short"))
    response = httpx.post(
        fleet.url + "/api/generate",
        json={"model": "llama3.2", "stream": False},
        timeout=10,
    )
    assert response.status_code == 502
    assert response.json()["error"].startswith("Ollama server 'a' connection failed")
    assert fleet.last_record().status == 502


def test_drop_on_v1_stream_ends_with_an_sse_error_event(make_fleet):
    fleet = make_fleet(Node("a", fault="drop", lines=5))
    body = {
        "model": "llama3.2",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
    }
    with httpx.stream(
        "POST", fleet.url + "/v1/chat/completions", json=body
    ) as response:
        events = [e for e in response.read().decode().split("\n\n") if e]
    assert len(events) == 3
    last = json.loads(events[-1].removeprefix("data: "))
    assert last["error"]["type"] == "api_error"


def test_client_going_away_closes_the_upstream_stream(make_fleet):
    node = Node("a", line_delay=0.2, lines=50)
    fleet = make_fleet(node)
    with httpx.stream(
        "POST", fleet.url + "/api/generate", json={"model": "llama3.2"}
    ) as response:
        next(response.iter_lines())
    assert wait_until(lambda: node.closed_streams == 1, timeout=5)
    assert wait_until(lambda: fleet.gateway.slots.in_flight("a") == 0)


def test_every_request_is_recorded_with_tokens_and_timings(make_fleet):
    fleet = make_fleet(Node("a"))
    httpx.post(
        fleet.url + "/api/generate", json={"model": "llama3.2"}
    ).raise_for_status()
    record = fleet.last_record()
    assert (record.kind, record.model, record.server, record.status) == (
        "generate",
        "llama3.2",
        "a",
        200,
    )
    assert (record.prompt_tokens, record.completion_tokens) == (4, 3)
    assert record.ttft_ms is not None
    assert record.latency_ms >= record.ttft_ms
    assert record.bytes_out > 0


def test_a_bug_in_the_gateway_still_answers_in_ollamas_shape(make_fleet, monkeypatch):
    fleet = make_fleet(Node("a"))

    def broken() -> list:
        raise RuntimeError("boom")

    monkeypatch.setattr(fleet.gateway.registry, "active", broken)
    response = httpx.post(fleet.url + "/api/generate", json={"model": "llama3.2"})
    assert response.status_code == 500
    assert response.json() == {"error": "internal error in the gateway"}
    openai_style = httpx.post(fleet.url + "/v1/completions", json={"model": "llama3.2"})
    assert openai_style.json()["error"]["type"] == "api_error"


def test_a_stream_stalling_after_the_first_byte_ends_with_an_error_line(make_fleet):
    # read_timeout is 1 s in these tests; the node then waits 1.5 s between lines
    fleet = make_fleet(Node("a", line_delay=1.5, lines=3))
    response = httpx.post(
        fleet.url + "/api/generate", json={"model": "llama3.2"}, timeout=10
    )
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert response.status_code == 200
    assert lines[0]["response"] == "w0 "
    assert set(lines[-1]) == {"error"}
    assert "upstream stream failed" in lines[-1]["error"]
    assert fleet.last_record().error == lines[-1]["error"]


def test_an_encoded_path_is_forwarded_encoded_and_cannot_forge_headers(make_fleet):
    """The WSGI server decodes the path; the gateway must encode it again, or a
    ``%0D%0A`` would end the request line upstream and add a header."""
    fleet = make_fleet(Node("a"))
    host, port = fleet.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("POST", "/api/echo%0D%0AX-Forged:%201/my%20model", body=b"{}")
    response = conn.getresponse()
    response.read()
    conn.close()
    assert response.getheader("X-Ollama-Server") == "a"
    (seen,) = fleet.nodes["a"].seen
    assert seen["path"] == "/api/echo\r\nX-Forged: 1/my model"
    assert "x-forged" not in seen["headers"]
