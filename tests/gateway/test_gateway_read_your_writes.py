"""Read your writes through the gateway (issue 14, point 3): the next request
sees a pull, create, copy or delete at once; no sleep, no waiting for a probe.

Three emulated nodes behind the gateway on real sockets, the official client.
The gateway's health monitor is not running: only the write itself may
update what the gateway knows.
"""

from __future__ import annotations

import httpx
import ollama
import pytest

MODELS = ["smollm2:135m", "all-minilm:latest", "qwen2.5:0.5b", "llama3.2:latest"]


def on_nodes(sim_fleet, model: str) -> set[str]:
    """Where the model is, asking each node directly."""
    return {
        name
        for name in sim_fleet.urls
        if model in {m.model for m in sim_fleet.direct(name).list().models}
    }


def listed(sim_fleet, model: str) -> bool:
    return model in {m.model for m in sim_fleet.client().list().models}


@pytest.mark.parametrize("stream", [True, False])
def test_show_finds_a_model_right_after_its_pull_streams_success(sim_fleet, stream):
    client = sim_fleet.client()
    for model in ("smollm2:135m", "qwen2.5:0.5b", "all-minilm:latest"):
        if stream:
            assert [p.status for p in client.pull(model, stream=True)][-1] == "success"
        else:
            assert client.pull(model).status == "success"
        assert client.show(model).modelfile  # at once: never a 404
        assert client.generate(model, "hi").done if "minilm" not in model else True
        assert listed(sim_fleet, model)


def test_show_finds_a_created_model_at_once(sim_fleet):
    client = sim_fleet.client()
    for index in range(3):
        name = f"mario:v{index}"
        statuses = [
            p.status for p in client.create(name, from_="llama3.2", stream=True)
        ]
        assert statuses[-1] == "success"
        assert client.show(name).modelfile
        assert on_nodes(sim_fleet, name) == {"n1", "n2", "n3"}


def test_a_delete_right_after_a_pull_removes_every_copy(sim_fleet):
    client = sim_fleet.client()
    for _ in range(4):  # the issue saw it fail 8 times out of 8
        assert [p.status for p in client.pull("smollm2:135m", stream=True)][-1] == (
            "success"
        )
        assert client.delete("smollm2:135m").status == "success"  # at once
        assert on_nodes(sim_fleet, "smollm2:135m") == set()
        assert not listed(sim_fleet, "smollm2:135m")
        with pytest.raises(ollama.ResponseError) as gone:
            client.show("smollm2:135m")
        assert (gone.value.status_code, gone.value.error) == (
            404,
            "model 'smollm2:135m' not found",
        )


def test_a_copy_is_found_at_once_and_its_delete_is_seen_at_once(sim_fleet):
    client = sim_fleet.client()
    assert client.copy("qwen2.5:0.5b", "mine:v1").status == "success"
    assert on_nodes(sim_fleet, "mine:v1") == {"n2", "n3"}  # where the source is
    assert client.show("mine:v1").modelfile
    assert listed(sim_fleet, "mine:v1")
    assert client.delete("mine:v1").status == "success"
    assert not listed(sim_fleet, "mine:v1")
    with pytest.raises(ollama.ResponseError) as gone:
        client.generate("mine:v1", "hi")
    assert gone.value.status_code == 404


def test_a_delete_of_a_model_nobody_has_is_ollamas_404(sim_fleet):
    direct = httpx.request(
        "DELETE", sim_fleet.urls["n1"] + "/api/delete", json={"model": "nope"}
    )
    through = httpx.request(
        "DELETE", sim_fleet.url + "/api/delete", json={"model": "nope"}
    )
    assert (through.status_code, through.content) == (404, direct.content)


def test_a_model_deleted_behind_the_gateways_back_is_served_by_another_node(
    sim_fleet,
):
    """The map still lists it on n1 (deleted there by hand, or by another
    process without Redis): n1's 404 sends the request to the next node."""
    client = sim_fleet.client()
    sim_fleet.direct("n1").generate("llama3.2", "warm up")  # n1 goes first
    sim_fleet.refresh()
    sim_fleet.direct("n1").delete("llama3.2")
    assert client.show("llama3.2").modelfile
    reply = httpx.post(
        sim_fleet.url + "/api/generate",
        json={"model": "llama3.2", "prompt": "hi", "stream": False},
    )
    assert (reply.status_code, reply.headers["x-ollama-server"]) == (200, "n2")
    assert sim_fleet.gateway.models.servers_with("llama3.2") == {"n2"}
    assert all(sim_fleet.gateway.monitor.is_healthy(n) for n in sim_fleet.urls)


def test_a_model_pulled_behind_the_gateways_back_is_found_once_written(sim_fleet):
    """A pull through another path bumps the server's version (the web app and
    the jobs do; cluster/changes.py): the gateway lists it again before a 404."""
    sim_fleet.direct("n1").pull("smollm2:135m")
    with pytest.raises(ollama.ResponseError):  # nobody said it changed
        sim_fleet.client().show("smollm2:135m")
    sim_fleet.gateway.monitor.changes.bump(sim_fleet.urls["n1"])
    assert sim_fleet.client().show("smollm2:135m").modelfile


def test_a_watched_pull_is_read_again_once_its_job_is_over(sim_fleet):
    """A pull job of the web app watches its server (cluster/changes.py): the
    gateway lists that server again once the job is over, not while it runs."""
    monitor, url = sim_fleet.gateway.monitor, sim_fleet.urls["n1"]
    finished: set[str] = set()
    monitor.job_finished = finished.__contains__  # the process's job runner
    monitor.changes.watch(url, "job-1")
    monitor.check_all()  # listed while the pull runs
    listings = sim_fleet.hits("/api/tags")["n1"]
    for _ in range(3):
        with pytest.raises(ollama.ResponseError):
            sim_fleet.client().show("smollm2:135m")
    assert sim_fleet.hits("/api/tags")["n1"] == listings  # nothing to read yet
    sim_fleet.direct("n1").pull("smollm2:135m")
    finished.add("job-1")
    assert sim_fleet.client().show("smollm2:135m").modelfile
    assert monitor.changes.watched(url) == set()


def test_without_a_job_runner_a_watched_server_is_read_again_on_a_miss(sim_fleet):
    """A gateway process runs no jobs: it cannot tell whether a watched pull
    is over, so it lists the server again before answering 404."""
    monitor, url = sim_fleet.gateway.monitor, sim_fleet.urls["n1"]
    monitor.changes.watch(url, "job-1")
    monitor.check_all()
    sim_fleet.direct("n1").pull("smollm2:135m")
    assert sim_fleet.client().show("smollm2:135m").modelfile
