"""``/api/create`` and ``/api/push`` through the gateway, over three emulated
nodes, with the official ``ollama`` client (fan-out policy in docs/gateway.md)."""

from __future__ import annotations

import json

import httpx
import ollama
import pytest
from gateway_fakes import wait_until

ALL = {"n1", "n2", "n3"}


def _statuses(progress):
    return [p.status for p in progress]


def test_create_runs_on_every_node_with_one_merged_stream(sim_fleet):
    client = sim_fleet.client()
    progress = list(
        client.create(model="mario", from_="llama3.2", system="Mario.", stream=True)
    )
    statuses = _statuses(progress)
    # n3 lacks llama3.2: it pulls it first, inside the same stream, as one
    # Ollama does (its pull's own "success" is not repeated)
    layers = [s for s in statuses if s.startswith(("using existing", "creating new"))]
    milestones = [p.status for p in progress if not p.digest]
    assert milestones == [
        "pulling manifest",
        "verifying sha256 digest",
        "writing manifest",
        *layers,
        "writing manifest",
        "success",
    ]
    assert len(layers) == len(set(layers))  # each layer status once
    pulled = [p for p in progress if p.digest and p.total]
    assert pulled
    assert all(p.completed <= p.total for p in pulled)
    digests = {n: s.find("mario").digest for n, s in sim_fleet.states.items()}
    assert len(set(digests.values())) == 1  # the same model everywhere
    assert wait_until(lambda: sim_fleet.gateway.models.servers_with("mario") == ALL)
    reply = client.chat(model="mario", messages=[{"role": "user", "content": "hi"}])
    assert reply.message.content


def test_create_answers_like_one_node_when_not_streamed(sim_fleet):
    direct = sim_fleet.direct("n1").create(model="m1", from_="llama3.2")
    through = sim_fleet.client().create(model="m2", from_="llama3.2")
    assert through == direct
    assert all(s.find("m2") is not None for s in sim_fleet.states.values())


def test_create_can_target_nodes_by_header(sim_fleet):
    response = httpx.post(
        sim_fleet.url + "/api/create",
        json={"model": "luigi", "from": "qwen2.5:0.5b", "stream": False},
        headers={"X-Ollama-Servers": "n2,n3"},
    )
    assert (response.status_code, response.json()) == (200, {"status": "success"})
    assert response.headers["x-ollama-server"] == "n2,n3"
    made = {n for n, s in sim_fleet.states.items() if s.find("luigi") is not None}
    assert made == {"n2", "n3"}


@pytest.mark.parametrize(
    "body",
    [
        {"model": "x"},  # neither from nor files: 400
        {"model": "a b", "from": "llama3.2"},  # invalid name: 400
        {"model": "x", "from": "nope:1b", "stream": False},  # pull fails: 500
    ],
)
def test_create_errors_are_the_nodes_own(sim_fleet, body):
    direct = httpx.post(sim_fleet.urls["n1"] + "/api/create", json=body)
    through = httpx.post(sim_fleet.url + "/api/create", json=body)
    assert through.status_code == direct.status_code
    assert through.json() == direct.json()
    with pytest.raises(ollama.ResponseError) as raised:
        sim_fleet.client().create(**{k: v for k, v in body.items() if k != "from"})
    assert raised.value.status_code == 400


def test_a_failed_pull_inside_a_create_ends_the_stream_with_ollamas_error(sim_fleet):
    body = {"model": "x", "from": "nope:1b"}
    direct = httpx.post(sim_fleet.urls["n1"] + "/api/create", json=body)
    through = httpx.post(sim_fleet.url + "/api/create", json=body)
    assert through.status_code == direct.status_code == 200
    assert through.content == direct.content
    assert [json.loads(x) for x in through.content.splitlines()] == [
        {"status": "pulling manifest"},
        {"error": "pull model manifest: file does not exist"},
    ]


def test_create_from_uploaded_files_stays_on_one_node(sim_fleet):
    weights = sim_fleet.states["n1"].find("llama3.2").catalog.weights.digest
    response = httpx.post(
        sim_fleet.url + "/api/create",
        json={"model": "fromfile", "files": {"model.gguf": weights}, "stream": False},
    )
    assert response.json() == {"status": "success"}
    assert response.headers["x-ollama-server"] == "n1"  # where blob uploads go too
    made = {n for n, s in sim_fleet.states.items() if s.find("fromfile") is not None}
    assert made == {"n1"}


def test_push_goes_to_one_node_that_has_the_model(sim_fleet):
    client = sim_fleet.client()
    client.copy("qwen2.5:0.5b", "alice/qwen")  # on n2 and n3, which have the source
    sim_fleet.refresh()
    response = httpx.post(
        sim_fleet.url + "/api/push", json={"model": "alice/qwen", "stream": False}
    )
    assert response.json() == {"status": "success"}
    assert response.headers["x-ollama-server"] in {"n2", "n3"}
    progress = list(client.push("alice/qwen", stream=True))
    direct = list(sim_fleet.direct("n2").push("alice/qwen", stream=True))
    assert _statuses(progress) == _statuses(direct)
    assert progress[-1].status == "success"


def test_push_can_target_a_node_and_fails_over_before_the_first_byte(sim_fleet):
    sim_fleet.states["n2"].faults.fail_next = 1
    response = httpx.post(
        sim_fleet.url + "/api/push",
        json={"model": "qwen2.5:0.5b", "stream": False},
        headers={"X-Ollama-Servers": "n2,n3"},
    )
    assert response.json() == {"status": "success"}
    assert response.headers["x-ollama-server"] == "n3"


def test_push_of_a_model_nobody_has_gets_ollamas_own_answer(sim_fleet):
    direct = httpx.post(sim_fleet.urls["n1"] + "/api/push", json={"model": "nope"})
    through = httpx.post(sim_fleet.url + "/api/push", json={"model": "nope"})
    assert through.status_code == direct.status_code == 200
    assert through.content == direct.content
    with pytest.raises(ollama.ResponseError) as raised:
        sim_fleet.client().push("nope", stream=False)
    assert raised.value.status_code == 500
    assert "no such file or directory" in raised.value.error
