"""Fleet-wide listings and pull/delete/copy over several nodes."""

from __future__ import annotations

import json

import httpx
from gateway_fakes import Node, wait_until


def test_tags_is_the_union_with_one_entry_per_model(make_fleet):
    fleet = make_fleet(
        Node("a", models=["llama3.2:latest", "qwen2.5:7b"]),
        Node("b", models=["Llama3.2:latest", "phi3:mini"]),
    )
    response = httpx.get(fleet.url + "/api/tags")
    assert response.status_code == 200
    names = [m["name"] for m in response.json()["models"]]
    assert sorted(n.lower() for n in names) == [
        "llama3.2:latest",
        "phi3:mini",
        "qwen2.5:7b",
    ]
    assert response.headers["x-ollama-server"] == "a,b"


def test_tags_leaves_out_unhealthy_nodes(make_fleet):
    fleet = make_fleet(Node("a", models=["x:1"]), Node("b", models=["y:1"]))
    fleet.stop_node("b")
    fleet.refresh()
    models = httpx.get(fleet.url + "/api/tags").json()["models"]
    assert [m["name"] for m in models] == ["x:1"]


def test_ps_is_the_union_of_loaded_models(make_fleet):
    fleet = make_fleet(Node("a", loaded=["x:1"]), Node("b", loaded=["y:1", "x:1"]))
    models = httpx.get(fleet.url + "/api/ps").json()["models"]
    assert sorted(m["name"] for m in models) == ["x:1", "y:1"]


def test_version_is_the_lowest_among_healthy_nodes(make_fleet):
    fleet = make_fleet(Node("a", version="0.33.0"), Node("b", version="0.30.1"))
    assert httpx.get(fleet.url + "/api/version").json() == {"version": "0.30.1"}
    fleet.stop_node("b")
    fleet.refresh()
    assert httpx.get(fleet.url + "/api/version").json() == {"version": "0.33.0"}


def test_openai_models_list_is_null_when_the_fleet_has_no_model(make_fleet):
    fleet = make_fleet(Node("a", models=[]), Node("b", models=[]))
    assert httpx.get(fleet.url + "/v1/models").json() == {
        "object": "list",
        "data": None,
    }
    fleet = make_fleet(Node("c", models=["x:1"]), Node("d", models=["x:1", "y:1"]))
    ids = [m["id"] for m in httpx.get(fleet.url + "/v1/models").json()["data"]]
    assert sorted(ids) == ["x:1", "y:1"]


def test_show_comes_from_a_node_that_has_the_model(make_fleet):
    fleet = make_fleet(Node("a", models=["x:1"]), Node("b", models=["y:1"]))
    response = httpx.post(fleet.url + "/api/show", json={"model": "y:1"})
    assert response.json()["served_by"] == "b"


def test_pull_goes_to_every_node_with_one_merged_progress_stream(make_fleet):
    fleet = make_fleet(Node("a", models=[]), Node("b", models=[]))
    with httpx.stream(
        "POST", fleet.url + "/api/pull", json={"model": "new:1"}
    ) as response:
        lines = [json.loads(line) for line in response.iter_lines()]
    statuses = [line["status"] for line in lines]
    assert statuses[0] == "pulling manifest"
    assert statuses.count("pulling manifest") == 1
    assert statuses[-1] == "success"
    progress = [line for line in lines if "digest" in line]
    assert all(line["total"] == 100 for line in progress)  # the blob's size
    assert progress[-1]["completed"] == 100
    assert fleet.nodes["a"].models == ["new:1"] == fleet.nodes["b"].models
    # the model map is refreshed: the new model is routable at once
    assert wait_until(lambda: fleet.gateway.models.servers_with("new:1") == {"a", "b"})


def test_pull_can_target_servers_by_header(make_fleet):
    fleet = make_fleet(Node("a", models=[]), Node("b", models=[]))
    response = httpx.post(
        fleet.url + "/api/pull",
        json={"model": "new:1", "stream": False},
        headers={"X-Ollama-Servers": "b"},
    )
    assert response.json() == {"status": "success"}
    assert (fleet.nodes["a"].models, fleet.nodes["b"].models) == ([], ["new:1"])


def test_unknown_target_server_is_a_400(make_fleet):
    fleet = make_fleet(Node("a"))
    response = httpx.post(
        fleet.url + "/api/pull", json={"model": "x"}, headers={"X-Ollama-Servers": "zz"}
    )
    assert response.status_code == 400
    assert response.json() == {"error": "unknown Ollama server 'zz'"}


def test_delete_runs_on_every_node_that_has_the_model(make_fleet):
    fleet = make_fleet(
        Node("a", models=["x:1"]),
        Node("b", models=["x:1", "y:1"]),
        Node("c", models=["y:1"]),
    )
    response = httpx.request("DELETE", fleet.url + "/api/delete", json={"model": "x:1"})
    assert response.status_code == 200
    assert response.content == b""
    assert [n.models for n in fleet.nodes.values()] == [[], ["y:1"], ["y:1"]]
    # every node is asked, not those the map lists: c's 404 does not count
    assert [len(n.seen) for n in fleet.nodes.values()] == [1, 1, 1]
    assert fleet.gateway.models.servers_with("x:1") == set()  # at once


def test_delete_of_an_unknown_model_gets_ollamas_own_answer(make_fleet):
    fleet = make_fleet(Node("a", models=["x:1"]))
    response = httpx.request(
        "DELETE", fleet.url + "/api/delete", json={"model": "nope"}
    )
    assert response.status_code == 404
    assert response.json() == {"error": "model 'nope' not found"}


def test_copy_runs_on_every_node_that_has_the_source(make_fleet):
    fleet = make_fleet(
        Node("a", models=["x:1"]), Node("b", models=["x:1"]), Node("c", models=[])
    )
    response = httpx.post(
        fleet.url + "/api/copy", json={"source": "x:1", "destination": "x:copy"}
    )
    assert response.status_code == 200
    assert [n.models for n in fleet.nodes.values()] == [
        ["x:1", "x:copy"],
        ["x:1", "x:copy"],
        [],
    ]


def test_blob_upload_and_create_go_to_the_first_usable_node(make_fleet):
    fleet = make_fleet(Node("a"), Node("b"))
    blob = b"x" * 3_000_000
    upload = httpx.post(fleet.url + "/api/blobs/sha256:" + "0" * 64, content=blob)
    assert (upload.status_code, upload.headers["x-ollama-server"]) == (201, "a")
    assert fleet.nodes["a"].uploaded == [len(blob)]
    created = httpx.post(fleet.url + "/api/create", json={"model": "m", "files": {}})
    assert created.headers["x-ollama-server"] == "a"


def test_blob_upload_and_create_can_target_a_node(make_fleet):
    fleet = make_fleet(Node("a"), Node("b"))
    headers = {"X-Ollama-Servers": "b"}
    httpx.post(
        fleet.url + "/api/blobs/sha256:" + "0" * 64, content=b"abc", headers=headers
    )
    created = httpx.post(
        fleet.url + "/api/create", json={"model": "m"}, headers=headers
    )
    assert fleet.nodes["b"].uploaded == [3]
    assert created.headers["x-ollama-server"] == "b"


def test_pull_failing_on_one_node_ends_with_an_error_naming_it(make_fleet):
    fleet = make_fleet(Node("a", models=[]), Node("b", models=[]))
    fleet.nodes["a"].fault = "500"
    with httpx.stream(
        "POST", fleet.url + "/api/pull", json={"model": "new:1"}
    ) as response:
        lines = [json.loads(line) for line in response.iter_lines()]
    assert lines[-1] == {"error": "a: a failed"}
    assert all(line.get("status") != "success" for line in lines)
    assert fleet.nodes["b"].models == ["new:1"]
    quiet = httpx.post(
        fleet.url + "/api/pull", json={"model": "new:2", "stream": False}
    )
    assert (quiet.status_code, quiet.json()) == (500, {"error": "a: a failed"})


def test_pull_failing_the_same_way_everywhere_keeps_ollamas_message(make_fleet):
    nodes = [
        Node(n, models=[], fault="500", failure="pull model manifest: 412")
        for n in "ab"
    ]
    fleet = make_fleet(*nodes)
    with httpx.stream(
        "POST", fleet.url + "/api/pull", json={"model": "new:1"}
    ) as response:
        lines = [json.loads(line) for line in response.iter_lines()]
    assert lines == [{"error": "pull model manifest: 412"}]


def test_a_delete_that_fails_on_one_node_says_so(make_fleet):
    fleet = make_fleet(Node("a", models=["x:1"]), Node("b", models=["x:1"]))
    fleet.stop_node("b")  # the gateway has not noticed yet
    response = httpx.request("DELETE", fleet.url + "/api/delete", json={"model": "x:1"})
    assert response.status_code == 502  # half done: never answered as a success
    assert response.json()["error"].startswith("Ollama server 'b' ")
    assert response.headers["x-ollama-server"] == "a,b"
    assert fleet.nodes["a"].models == []
