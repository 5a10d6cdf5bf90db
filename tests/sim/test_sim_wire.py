"""Byte-level behaviour that clients hide: types, bodies, errors, keep_alive."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta

import httpx
import pytest
from sim_nodes import Node

from waiting import wait_until

JSON = "application/json; charset=utf-8"


def test_root_says_ollama_is_running_as_plain_text(http: httpx.Client) -> None:
    response = http.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.content == b"Ollama is running"
    head = http.head("/")
    assert head.status_code == 200
    assert head.content == b""


def test_version_is_compact_json_without_trailing_newline(http: httpx.Client) -> None:
    response = http.get("/api/version")
    assert response.headers["content-type"] == JSON
    assert response.content == b'{"version":"0.33.0-rc2"}'
    assert http.head("/api/tags").status_code == 200


def test_unknown_path_and_wrong_method_use_gin_texts(http: httpx.Client) -> None:
    missing = http.get("/api/nothing")
    assert (missing.status_code, missing.text) == (404, "404 page not found")
    assert missing.headers["content-type"].startswith("text/plain")
    wrong = http.get("/api/pull")
    assert (wrong.status_code, wrong.text) == (405, "405 method not allowed")
    assert http.head("/api/ps").status_code == 405


def test_show_escapes_angle_brackets_like_go(http: httpx.Client) -> None:
    body = http.post("/api/show", json={"model": "llama3.2"}).content
    assert b"\\u003c|eot_id|\\u003e" in body
    assert b"<|" not in body
    assert not body.endswith(b"\n")
    assert json.loads(body)["parameters"].startswith('stop                           "')


@pytest.mark.parametrize(
    ("path", "raw", "message"),
    [
        ("/api/generate", b"", "missing request body"),
        ("/api/chat", b"", "missing request body"),
        ("/api/pull", b"", "missing request body"),
        ("/api/generate", b'{"model":', "unexpected EOF"),
        (
            "/api/generate",
            b"hello",
            "invalid character 'h' looking for beginning of value",
        ),
        (
            "/api/generate",
            b'{"model":"llama3.2","stream":"yes"}',
            "json: cannot unmarshal string into Go struct field "
            "GenerateRequest.stream of type bool",
        ),
        (
            "/api/embed",
            b'{"model":"all-minilm","dimensions":1.5}',
            "json: cannot unmarshal number 1.5 into Go struct field "
            "EmbedRequest.dimensions of type int",
        ),
        ("/api/embed", b'{"model":"all-minilm","input":3}', "invalid input type"),
        (
            "/api/generate",
            b'{"model":"llama3.2","keep_alive":NaN}',
            "invalid character 'N' looking for beginning of value",
        ),
        (
            "/api/generate",
            b"[1]",
            "json: cannot unmarshal array into Go value of type api.GenerateRequest",
        ),
        ("/api/chat", b"{}", "model is required"),
        ("/api/show", b"{}", "model is required"),
        ("/api/embeddings", b"{}", "model is required"),
        ("/api/copy", b'{"destination":"x"}', 'source "" is invalid'),
        (
            "/api/copy",
            b'{"source":"llama3.2","destination":"a:"}',
            'destination "a:" is invalid',
        ),
        ("/api/generate", b'{"model":"a b"}', "invalid model name"),
        ("/api/pull", b'{"model":""}', "invalid model name"),
        (
            "/api/generate",
            b'{"model":"llama3.2","raw":true,"system":"s","prompt":"p"}',
            "raw mode does not support template, system, or context",
        ),
    ],
)
def test_bad_requests_answer_400_with_go_messages(
    http: httpx.Client, path: str, raw: bytes, message: str
) -> None:
    response = http.post(path, content=raw)
    assert response.status_code == 400
    assert response.json() == {"error": message}


def test_delete_with_invalid_name_quotes_the_name(http: httpx.Client) -> None:
    response = http.request("DELETE", "/api/delete", content=b'{"model":"a b"}')
    assert (response.status_code, response.json()) == (
        400,
        {"error": 'name "a b" is invalid'},
    )


def test_null_body_and_empty_model_on_generate_are_404(http: httpx.Client) -> None:
    for raw in (b"null", b"{}", b'{"name":"llama3.2"}'):
        response = http.post("/api/generate", content=raw)
        assert (response.status_code, response.json()) == (
            404,
            {"error": "model '' not found"},
        )
    assert http.post("/api/embed", content=b"{}").json() == {
        "error": "model '' not found"
    }


def test_unknown_fields_and_missing_content_type_are_accepted(
    http: httpx.Client,
) -> None:
    response = http.post(
        "/api/show",
        content=b'{"model":"llama3.2","whatever":[1,2]}',
        headers={"content-type": "text/plain"},
    )
    assert response.status_code == 200


def test_delete_and_copy_succeed_with_empty_bodies(http: httpx.Client) -> None:
    copy = http.post("/api/copy", json={"source": "llama3.2", "destination": "b"})
    assert (copy.status_code, copy.content) == (200, b"")
    delete = http.request("DELETE", "/api/delete", json={"model": "b"})
    assert (delete.status_code, delete.content) == (200, b"")


def test_generate_stream_lines_are_ndjson_without_blank_lines(
    http: httpx.Client,
) -> None:
    response = http.post("/api/generate", json={"model": "llama3.2", "prompt": "hi"})
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.content.endswith(b"}\n")
    lines = response.content.split(b"\n")[:-1]
    assert all(lines)
    final = json.loads(lines[-1])
    assert final["created_at"].endswith("Z")
    for key in ("total_duration", "load_duration", "eval_count", "eval_duration"):
        assert isinstance(final[key], int)
        assert final[key] > 0
    assert "context" in final
    assert all("total_duration" not in json.loads(line) for line in lines[:-1])


def test_load_reply_is_a_single_object_even_when_streaming(http: httpx.Client) -> None:
    response = http.post("/api/chat", json={"model": "llama3.2", "stream": True})
    assert response.headers["content-type"] == JSON
    assert response.json()["message"] == {"role": "assistant", "content": ""}


def test_num_predict_cuts_the_reply_with_reason_length(http: httpx.Client) -> None:
    body = {"model": "llama3.2", "prompt": "hi", "stream": False}
    reply = http.post(
        "/api/generate", json={**body, "options": {"num_predict": 2}}
    ).json()
    assert (reply["eval_count"], reply["done_reason"]) == (2, "length")
    bad = http.post("/api/generate", json={**body, "options": {"num_ctx": "big"}})
    assert (bad.status_code, bad.json()) == (
        500,
        {"error": 'option "num_ctx" must be of type integer'},
    )


def _expires(http: httpx.Client) -> datetime:
    (model,) = http.get("/api/ps").json()["models"]
    return datetime.fromisoformat(model["expires_at"])


@pytest.mark.parametrize(
    ("keep_alive", "seconds"),
    [(120, 120), (90.5, 90.5), ("5m", 300), ("1h30m", 5400), ("30s", 30), (None, 300)],
)
def test_keep_alive_sets_expires_at(
    http: httpx.Client, keep_alive: object, seconds: float
) -> None:
    body: dict[str, object] = {"model": "llama3.2"}
    if keep_alive is not None:
        body["keep_alive"] = keep_alive
    before = datetime.now().astimezone()
    assert http.post("/api/generate", json=body).json()["done_reason"] == "load"
    delta = _expires(http) - before
    assert timedelta(seconds=seconds - 1) < delta < timedelta(seconds=seconds + 1)


@pytest.mark.parametrize("forever", [-1, "-1m", -3.5, 1e300])
def test_negative_keep_alive_means_forever(http: httpx.Client, forever: object) -> None:
    http.post("/api/generate", json={"model": "llama3.2", "keep_alive": forever})
    assert _expires(http).year in (2318, 2319)


@pytest.mark.parametrize(
    ("keep_alive", "message"),
    [
        ("300", 'time: missing unit in duration "300"'),
        ("-1", 'time: missing unit in duration "-1"'),
        ("soon", 'time: invalid duration "soon"'),
        ("9999999999h", 'time: invalid duration "9999999999h"'),
        ("5d", 'time: unknown unit "d" in duration "5d"'),
        (True, "Unsupported type: 'bool'"),
        ([1], "Unsupported type: '[]interface {}'"),
    ],
)
def test_bad_keep_alive_is_rejected(
    http: httpx.Client, keep_alive: object, message: str
) -> None:
    response = http.post(
        "/api/chat", json={"model": "llama3.2", "keep_alive": keep_alive}
    )
    assert (response.status_code, response.json()) == (400, {"error": message})


def test_omitted_keep_alive_keeps_the_runner_forever(http: httpx.Client) -> None:
    http.post("/api/generate", json={"model": "llama3.2", "keep_alive": -1})
    http.post(
        "/api/generate", json={"model": "llama3.2", "prompt": "x", "stream": False}
    )
    assert _expires(http).year >= 2318


def test_runner_expires_and_delete_does_not_unload(
    http: httpx.Client, node: Node
) -> None:
    http.post("/api/generate", json={"model": "llama3.2", "keep_alive": "100ms"})
    http.post(
        "/api/embed", json={"model": "all-minilm", "input": "x", "keep_alive": "1h"}
    )
    names = [m["model"] for m in http.get("/api/ps").json()["models"]]
    assert names == ["all-minilm:latest", "llama3.2:latest"]  # expires_at desc
    http.request("DELETE", "/api/delete", json={"model": "all-minilm"})

    def loaded() -> list[str]:
        return [m["model"] for m in http.get("/api/ps").json()["models"]]

    wait_until(lambda: len(loaded()) < 2, what="llama3.2 to expire")
    assert loaded() == ["all-minilm:latest"]


def test_unload_of_a_model_that_is_not_loaded_is_harmless(http: httpx.Client) -> None:
    reply = http.post("/api/generate", json={"model": "llama3.2", "keep_alive": "0"})
    assert reply.json()["done_reason"] == "unload"
    assert reply.json()["model"] == "llama3.2"


def test_empty_embed_input_still_loads_the_model(http: httpx.Client) -> None:
    reply = http.post("/api/embed", json={"model": "all-minilm", "input": []})
    assert reply.json() == {"model": "all-minilm", "embeddings": []}
    assert http.get("/api/ps").json()["models"][0]["model"] == "all-minilm:latest"


def test_lookups_are_case_insensitive(http: httpx.Client) -> None:
    assert http.post("/api/show", json={"model": "Llama3.2"}).status_code == 200
    reply = http.post(
        "/api/generate", json={"model": "LLAMA3.2", "prompt": "x", "stream": False}
    )
    assert reply.json()["model"] == "LLAMA3.2"


def test_copy_overwrites_and_tags_sort_newest_first(http: httpx.Client) -> None:
    http.post("/api/copy", json={"source": "llama3.2", "destination": "x"})
    http.post("/api/copy", json={"source": "all-minilm", "destination": "x"})
    models = http.get("/api/tags").json()["models"]
    assert models[0]["name"] == "x:latest"
    minilm = next(m for m in models if m["name"] == "all-minilm:latest")
    assert models[0]["digest"] == minilm["digest"]


def test_tags_empty_list_and_v1_models_null(make_node) -> None:  # type: ignore[no-untyped-def]
    with make_node(models=()) as empty, empty.http() as client:
        assert client.get("/api/tags").content == b'{"models":[]}'
        assert client.get("/api/ps").content == b'{"models":[]}'
        assert client.get("/v1/models").json() == {"object": "list", "data": None}


def test_capability_errors_for_tools_thinking_and_insert(make_node) -> None:  # type: ignore[no-untyped-def]
    with make_node(models=("smollm2:360m", "tinyllama")) as node, node.http() as client:
        message = [{"role": "user", "content": "x"}]
        tool = {"type": "function", "function": {"name": "f"}}
        tools = client.post(
            "/api/chat",
            json={"model": "tinyllama", "messages": message, "tools": [tool]},
        )
        assert (tools.status_code, tools.json()["error"]) == (
            400,
            "registry.ollama.ai/library/tinyllama:latest does not support tools",
        )
        think = client.post("/api/chat", json={"model": "smollm2:360m", "think": True})
        assert think.json() == {"error": '"smollm2:360m" does not support thinking'}
        insert = client.post(
            "/api/generate",
            json={"model": "smollm2:360m", "prompt": "a", "suffix": "b"},
        )
        assert insert.json() == {
            "error": "registry.ollama.ai/library/smollm2:360m does not support insert"
        }
        top = client.post(
            "/api/generate",
            json={"model": "tinyllama", "prompt": "a", "top_logprobs": 21},
        )
        assert top.json() == {"error": "top_logprobs must be between 0 and 20"}


def test_thinking_models_stream_thinking_before_content(make_node) -> None:  # type: ignore[no-untyped-def]
    with make_node(models=("deepseek-r1:1.5b",)) as node, node.http() as client:
        body = {"model": "deepseek-r1:1.5b", "prompt": "why?", "think": True}
        lines = [
            json.loads(line)
            for line in client.post("/api/generate", json=body).content.splitlines()
        ]
        assert lines[0]["thinking"]
        assert lines[0]["response"] == ""
        assert "thinking" not in lines[-2]
        assert lines[-2]["response"]
        whole = client.post("/api/generate", json={**body, "stream": False}).json()
        assert whole["thinking"] == "".join(line.get("thinking", "") for line in lines)
        chat = client.post(
            "/api/chat",
            json={
                "model": "deepseek-r1:1.5b",
                "messages": [{"role": "user", "content": "why?"}],
                "think": "high",
                "stream": False,
            },
        ).json()
        assert chat["message"]["thinking"]
        assert chat["message"]["content"]


def test_http_scheme_without_insecure_fails_before_streaming(
    http: httpx.Client,
) -> None:
    response = http.post("/api/pull", json={"model": "http://example.com/a/b"})
    assert (response.status_code, response.json()) == (
        500,
        {"error": "insecure protocol http"},
    )


def test_loading_model_shows_in_ps_and_load_time_is_reported(make_node) -> None:  # type: ignore[no-untyped-def]
    with make_node(load_delay=1.0) as node, node.http() as client:
        replies: list[dict[str, object]] = []
        body = {"model": "llama3.2", "prompt": "x", "stream": False}

        def call() -> None:
            with node.http() as other:
                replies.append(other.post("/api/generate", json=body).json())

        thread = threading.Thread(target=call)
        thread.start()
        loading: list[dict[str, object]] = []
        deadline = time.monotonic() + 0.6  # well inside the 1 s load
        while not loading and time.monotonic() < deadline:
            loading = client.get("/api/ps").json()["models"]
            time.sleep(0.02)
        assert [m["model"] for m in loading] == ["llama3.2:latest"]
        assert replies == []
        second = client.post("/api/generate", json=body).json()  # waits for the load
        thread.join(5)
        assert int(replies[0]["load_duration"]) >= 1_000_000_000
        assert int(second["total_duration"]) >= 300_000_000


def test_trailing_slash_redirects_and_options_answers_204(http: httpx.Client) -> None:
    tags = http.get("/api/tags/")
    assert (tags.status_code, tags.headers["location"]) == (301, "/api/tags")
    show = http.post("/api/show/", json={"model": "llama3.2"})
    assert (show.status_code, show.headers["location"], show.content) == (
        307,
        "/api/show",
        b"",
    )
    assert http.get("/api/nothing/").status_code == 404
    preflight = http.options("/api/chat")
    assert (preflight.status_code, preflight.content) == (204, b"")
