"""What each client method sends, and what it returns (MockTransport handlers)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from ollama_client_helpers import ndjson

from ollama_webmgr.ollama.client import OllamaClient
from ollama_webmgr.ollama.payloads import ChatMessage

MakeClient = Callable[..., OllamaClient]


class Recorder:
    """Answers every request with ``reply`` and keeps (method, path, body)."""

    def __init__(self, reply: httpx.Response) -> None:
        self.reply = reply
        self.requests: list[tuple[str, str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.requests.append((request.method, request.url.path, body))
        return self.reply


def _generated(**fields: Any) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "model": "llama3.2",
            "created_at": "2026-08-21T10:00:00.123456789Z",
            "response": "",
            "done": True,
            **fields,
        },
    )


def test_heartbeat_is_a_head_on_root(mock_client: MakeClient) -> None:
    recorder = Recorder(httpx.Response(200))
    client = mock_client(recorder)

    client.heartbeat()

    assert client.is_up() is True
    assert recorder.requests == [("HEAD", "/", None), ("HEAD", "/", None)]


def test_is_up_is_false_on_an_error_status(mock_client: MakeClient) -> None:
    client = mock_client(lambda request: httpx.Response(502))

    assert client.is_up() is False


def test_version(mock_client: MakeClient) -> None:
    recorder = Recorder(httpx.Response(200, json={"version": "0.33.0-rc2"}))

    assert mock_client(recorder).version() == "0.33.0-rc2"
    assert recorder.requests == [("GET", "/api/version", None)]


def test_show_sends_verbose_only_when_asked(mock_client: MakeClient) -> None:
    recorder = Recorder(httpx.Response(200, json={"model_info": {}, "license": "MIT"}))
    client = mock_client(recorder)

    assert client.show("llama3.2").license == "MIT"
    client.show("llama3.2", verbose=True)

    assert [body for _, _, body in recorder.requests] == [
        {"model": "llama3.2"},
        {"model": "llama3.2", "verbose": True},
    ]


def test_ps_returns_running_models(mock_client: MakeClient) -> None:
    recorder = Recorder(
        httpx.Response(
            200,
            json={
                "models": [
                    {
                        "name": "llama3.2:latest",
                        "model": "llama3.2:latest",
                        "size": 10,
                        "size_vram": 10,
                        "expires_at": "2026-08-21T10:05:00.5-07:00",
                    }
                ]
            },
        )
    )

    (running,) = mock_client(recorder).ps()

    assert running.gpu_fraction == 1.0
    assert recorder.requests == [("GET", "/api/ps", None)]


def test_delete_and_copy_accept_an_empty_200(mock_client: MakeClient) -> None:
    recorder = Recorder(httpx.Response(200))
    client = mock_client(recorder)

    assert client.delete("llama3.2") is None
    assert client.copy("llama3.2", "backup:v1") is None
    assert recorder.requests == [
        ("DELETE", "/api/delete", {"model": "llama3.2"}),
        ("POST", "/api/copy", {"source": "llama3.2", "destination": "backup:v1"}),
    ]


def test_generate_is_not_streamed_and_omits_unset_options(
    mock_client: MakeClient,
) -> None:
    recorder = Recorder(_generated(response="Bonjour", done_reason="stop"))
    client = mock_client(recorder)

    result = client.generate(
        "llama3.2", "Salut", options={"temperature": 0}, think=False
    )

    assert result.response == "Bonjour"
    assert recorder.requests[0][2] == {
        "model": "llama3.2",
        "prompt": "Salut",
        "stream": False,
        "options": {"temperature": 0},
        "think": False,
    }


def test_load_sends_an_empty_prompt_with_the_given_keep_alive(
    mock_client: MakeClient,
) -> None:
    recorder = Recorder(_generated(done_reason="load"))
    client = mock_client(recorder)

    assert client.load("llama3.2").done_reason == "load"
    client.load("llama3.2", keep_alive="-1m")

    assert [body for _, _, body in recorder.requests] == [
        {"model": "llama3.2", "prompt": "", "stream": False},
        {"model": "llama3.2", "prompt": "", "stream": False, "keep_alive": "-1m"},
    ]


def test_unload_sends_keep_alive_zero(mock_client: MakeClient) -> None:
    recorder = Recorder(_generated(done_reason="unload"))

    assert mock_client(recorder).unload("llama3.2").done_reason == "unload"
    assert recorder.requests == [
        (
            "POST",
            "/api/generate",
            {"model": "llama3.2", "prompt": "", "stream": False, "keep_alive": 0},
        )
    ]


def test_chat_accepts_dicts_and_chat_messages(mock_client: MakeClient) -> None:
    recorder = Recorder(
        httpx.Response(
            200,
            json={
                "model": "m",
                "message": {"role": "assistant", "content": "Oui"},
                "done": True,
                "done_reason": "stop",
            },
        )
    )
    client = mock_client(recorder)

    result = client.chat(
        "m",
        [{"role": "system", "content": "Sois bref"}, ChatMessage("user", "Ça va ?")],
        keep_alive=300,
    )

    assert result.message == ChatMessage("assistant", "Oui")
    assert recorder.requests[0][2] == {
        "model": "m",
        "messages": [
            {"role": "system", "content": "Sois bref"},
            {"role": "user", "content": "Ça va ?"},
        ],
        "stream": False,
        "keep_alive": 300,
    }


def test_generate_stream_sends_stream_true(mock_client: MakeClient) -> None:
    recorder = Recorder(
        httpx.Response(
            200,
            content=ndjson(
                {"model": "m", "response": "Bon", "done": False},
                {"model": "m", "response": "", "done": True, "done_reason": "length"},
            ),
        )
    )

    chunks = list(mock_client(recorder).generate_stream("m", "x", system="s"))

    assert [c.response for c in chunks] == ["Bon", ""]
    assert recorder.requests[0][2] == {
        "model": "m",
        "prompt": "x",
        "stream": True,
        "system": "s",
    }


@pytest.mark.parametrize(
    ("given", "sent"),
    [("Bonjour", "Bonjour"), (["a", "b"], ["a", "b"]), (("a",), ["a"])],
)
def test_embed_returns_vectors(
    mock_client: MakeClient, given: str | list[str], sent: str | list[str]
) -> None:
    recorder = Recorder(
        httpx.Response(200, json={"model": "m", "embeddings": [[0.6, 0.8]]})
    )

    vectors = mock_client(recorder).embed("m", given, dimensions=2)

    assert vectors == [[0.6, 0.8]]
    assert recorder.requests[0][2] == {"model": "m", "input": sent, "dimensions": 2}


def test_requests_identify_the_client(mock_client: MakeClient) -> None:
    agents: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        agents.append(request.headers["user-agent"])
        return httpx.Response(200, json={"version": "1"})

    mock_client(handler).version()

    assert agents[0].startswith("ollama-webmgr/")
