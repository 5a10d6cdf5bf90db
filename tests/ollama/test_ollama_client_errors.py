"""How the client maps failures, and where it retries (MockTransport handlers)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx
import pytest
from ollama_client_helpers import SERVER, ndjson

from ollama_webmgr.errors import (
    InvalidModelName,
    InvalidServerUrl,
    OllamaBadRequest,
    OllamaNotFound,
    OllamaServerError,
    OllamaTimeout,
    OllamaUnreachable,
)
from ollama_webmgr.ollama.client import OllamaClient

MakeClient = Callable[..., OllamaClient]
TAGS = {"models": [{"name": "llama3.2:latest", "model": "llama3.2:latest"}]}


def test_server_url_is_normalised_and_bad_urls_are_refused() -> None:
    with OllamaClient("192.168.1.20") as client:
        assert client.base_url == "http://192.168.1.20:11434"
    with pytest.raises(InvalidServerUrl):
        OllamaClient("ftp://box")


@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        (
            500,
            {"error": "llama runner process has terminated"},
            OllamaServerError,
            "llama runner process has terminated",
        ),
        (
            503,
            {
                "error": "server busy, please try again.  maximum pending requests exceeded"
            },
            OllamaServerError,
            "server busy, please try again.  maximum pending",
        ),
        (499, {"error": "request canceled"}, OllamaServerError, "request canceled"),
        (400, {"error": "invalid model name"}, OllamaBadRequest, "invalid model name"),
        (
            404,
            {"error": "model 'llama3.2:latest' not found"},
            OllamaNotFound,
            "model 'llama3.2:latest' not found",
        ),
    ],
)
def test_error_status_maps_to_its_class_with_ollamas_message(
    mock_client: MakeClient,
    status: int,
    body: dict[str, str],
    error: type[Exception],
    message: str,
) -> None:
    client = mock_client(lambda request: httpx.Response(status, json=body))

    with pytest.raises(error) as caught:
        client.show("llama3.2")

    assert type(caught.value) is error
    assert caught.value.message.startswith(message)  # type: ignore[attr-defined]
    assert caught.value.status == status  # type: ignore[attr-defined]
    assert caught.value.server == SERVER  # type: ignore[attr-defined]


def test_plain_text_404_keeps_the_raw_text(mock_client: MakeClient) -> None:
    client = mock_client(
        lambda request: httpx.Response(
            404, text="404 page not found", headers={"Content-Type": "text/plain"}
        )
    )

    with pytest.raises(OllamaNotFound) as caught:
        client.ps()

    assert caught.value.message == "404 page not found"
    assert str(caught.value) == f"404 page not found (status 404) [{SERVER}]"


def test_empty_403_from_the_host_guard_still_says_something(
    mock_client: MakeClient,
) -> None:
    client = mock_client(lambda request: httpx.Response(403))

    with pytest.raises(
        OllamaServerError, match="HTTP 403 Forbidden with an empty body"
    ):
        client.version()


def test_error_before_a_stream_starts_is_raised_with_its_status(
    mock_client: MakeClient,
) -> None:
    client = mock_client(
        lambda request: httpx.Response(500, json={"error": "insecure protocol http"})
    )

    with pytest.raises(OllamaServerError, match="insecure protocol http") as caught:
        list(client.pull("http://registry.local/team/model:v1"))

    assert caught.value.status == 500


@pytest.mark.parametrize(
    "body", [b"<html>Bad gateway</html>", b'["not", "an", "object"]', b""]
)
def test_a_200_that_is_not_a_json_object_is_a_server_error(
    mock_client: MakeClient, body: bytes
) -> None:
    client = mock_client(lambda request: httpx.Response(200, content=body))

    with pytest.raises(OllamaServerError, match="malformed answer to GET /api/tags"):
        client.tags()


def test_malformed_payload_names_the_server_and_the_field(
    mock_client: MakeClient,
) -> None:
    client = mock_client(
        lambda request: httpx.Response(
            200, json={"models": [{"name": "a", "size": "1"}]}
        )
    )

    with pytest.raises(
        OllamaServerError, match="'size' should be an integer"
    ) as caught:
        client.tags()

    assert caught.value.server == SERVER


def test_connect_timeout_maps_to_ollama_timeout_and_is_not_retried(
    mock_client: MakeClient,
) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectTimeout("timed out", request=request)

    client = mock_client(handler, retries=2, connect_timeout=1.5)

    with pytest.raises(
        OllamaTimeout, match=r"could not connect within 1.5 s"
    ) as caught:
        client.version()

    assert caught.value.status is None
    assert caught.value.server == SERVER
    assert len(calls) == 1  # a blackholed host is not waited for three times


def test_read_timeout_maps_to_ollama_timeout_and_is_not_retried(
    mock_client: MakeClient,
) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadTimeout("timed out", request=request)

    client = mock_client(handler, retries=3, read_timeout=7)

    with pytest.raises(OllamaTimeout, match="no data received within 7 s"):
        client.tags()

    assert len(calls) == 1


def test_connection_refused_on_a_real_closed_port_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends
    with OllamaClient(f"127.0.0.1:{port}", retries=1, backoff=0.0) as client:
        with pytest.raises(OllamaUnreachable, match="cannot reach Ollama") as caught:
            client.tags()
        assert client.is_up() is False

    assert caught.value.server == f"http://127.0.0.1:{port}"


def _flaky(failures: int, calls: list[httpx.Request]) -> Callable[..., httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) <= failures:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        if request.url.path == "/api/pull":
            return httpx.Response(200, content=ndjson({"status": "success"}))
        return httpx.Response(200, json=TAGS)

    return handler


def test_tags_retries_connection_errors_then_succeeds(mock_client: MakeClient) -> None:
    calls: list[httpx.Request] = []
    client = mock_client(_flaky(2, calls), retries=2)

    assert [tag.name for tag in client.tags()] == ["llama3.2:latest"]
    assert len(calls) == 3


def test_tags_gives_up_after_the_configured_retries(mock_client: MakeClient) -> None:
    calls: list[httpx.Request] = []
    client = mock_client(_flaky(3, calls), retries=2)

    with pytest.raises(OllamaUnreachable, match="Connection refused"):
        client.tags()
    assert len(calls) == 3


def test_retries_back_off_exponentially(mock_client: MakeClient) -> None:
    calls: list[httpx.Request] = []
    client = mock_client(_flaky(2, calls), retries=2, backoff=0.05)

    started = time.monotonic()
    client.tags()

    assert time.monotonic() - started >= 0.05 + 0.10


@pytest.mark.parametrize(
    "call",
    [
        lambda c: list(c.pull("llama3.2")),
        lambda c: c.delete("llama3.2"),
        lambda c: c.copy("llama3.2", "backup"),
        lambda c: c.generate("llama3.2", "hi"),
        lambda c: list(c.chat_stream("llama3.2", [{"role": "user", "content": "hi"}])),
        lambda c: c.embed("all-minilm", "hi"),
        lambda c: c.unload("llama3.2"),
    ],
    ids=["pull", "delete", "copy", "generate", "chat_stream", "embed", "unload"],
)
def test_non_idempotent_calls_are_never_retried(
    mock_client: MakeClient, call: Callable[[OllamaClient], object]
) -> None:
    calls: list[httpx.Request] = []
    client = mock_client(_flaky(1, calls), retries=5)

    with pytest.raises(OllamaUnreachable):
        call(client)
    assert len(calls) == 1


def test_http_errors_are_not_retried(mock_client: MakeClient) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503, json={"error": "server busy"})

    client = mock_client(handler, retries=3)
    with pytest.raises(OllamaServerError):
        client.tags()
    assert len(calls) == 1


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.show("model:"),
        lambda c: list(c.pull("bad name")),
        lambda c: c.delete("a//b"),
        lambda c: c.copy("llama3.2", "m@sha256:abc"),
        lambda c: c.generate("", "hi"),
        lambda c: c.chat_stream("ns.dot/model", []),
        lambda c: c.embed("/model", "x"),
        lambda c: c.load(":"),
    ],
)
def test_invalid_model_names_fail_before_any_request(
    mock_client: MakeClient, call: Callable[[OllamaClient], object]
) -> None:
    calls: list[httpx.Request] = []
    client = mock_client(lambda request: calls.append(request) or httpx.Response(200))

    with pytest.raises(InvalidModelName):
        call(client)
    assert calls == []
