"""NDJSON streams: typed items, errors inside a 200 stream, closing the response."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable

import httpx
import pytest
from ollama_client_helpers import SERVER, TrackedStream, ndjson

from ollama_webmgr.errors import OllamaStreamError, OllamaTimeout, OllamaUnreachable
from ollama_webmgr.ollama.client import OllamaClient
from ollama_webmgr.ollama.payloads import PullProgress

MakeClient = Callable[..., OllamaClient]
DIGEST = "sha256:" + "dde5aa3fc5ffc17176b5e8bdc82f587b24b2678c6c66101bf7da77af9f7ccdff"
PULL_LINES = [
    {"status": "pulling manifest"},
    {"status": "pulling dde5aa3fc5ff", "digest": DIGEST, "total": 100},
    {"status": "pulling dde5aa3fc5ff", "digest": DIGEST, "total": 100, "completed": 60},
    {"status": "verifying sha256 digest"},
    {"status": "writing manifest"},
    {"status": "success"},
]


def _serving(stream: TrackedStream) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(
        200, stream=stream, headers={"Content-Type": "application/x-ndjson"}
    )


def _collect_statuses(stream: Iterable[PullProgress], into: list[str]) -> None:
    for progress in stream:
        into.append(progress.status)


def test_pull_yields_typed_progress_and_closes_the_response(
    mock_client: MakeClient,
) -> None:
    # lines cut at arbitrary byte boundaries, as TCP may deliver them
    raw = ndjson(*PULL_LINES)
    body = TrackedStream([raw[:10], raw[10:47], raw[47:48], raw[48:]])
    client = mock_client(_serving(body))

    progress = list(client.pull("llama3.2"))

    assert [p.status for p in progress] == [line["status"] for line in PULL_LINES]
    assert progress[2].fraction == 0.6
    assert progress[2].layer == "dde5aa3fc5ff"
    assert progress[-1].is_success
    assert body.closed


def test_pull_sends_stream_true_and_insecure(mock_client: MakeClient) -> None:
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        return httpx.Response(200, content=ndjson({"status": "success"}))

    client = mock_client(handler)
    list(client.pull("llama3.2", insecure=True))

    assert seen == [b'{"model":"llama3.2","insecure":true,"stream":true}']


def test_error_line_mid_stream_raises_stream_error_after_the_good_lines(
    mock_client: MakeClient,
) -> None:
    body = TrackedStream(
        [
            ndjson(
                {"status": "pulling manifest"},
                {"error": "pull model manifest: file does not exist"},
            )
        ]
    )
    client = mock_client(_serving(body))
    received: list[str] = []

    with pytest.raises(OllamaStreamError) as caught:
        _collect_statuses(client.pull("nope:404"), received)

    assert received == ["pulling manifest"]
    assert caught.value.message == "pull model manifest: file does not exist"
    assert caught.value.status == -1
    assert caught.value.server == SERVER
    assert body.closed


def test_malformed_line_raises_a_clear_stream_error(mock_client: MakeClient) -> None:
    body = TrackedStream([b'{"status":"pulling manifest"}\n<html>oops</html>\n'])
    client = mock_client(_serving(body))

    with pytest.raises(OllamaStreamError, match=r"malformed stream line \(not JSON\)"):
        list(client.pull("llama3.2"))
    assert body.closed


def test_truncated_stream_with_a_partial_last_line_is_an_error(
    mock_client: MakeClient,
) -> None:
    body = TrackedStream([b'{"status":"pulling manifest"}\n{"status":"pull'])
    client = mock_client(_serving(body))

    with pytest.raises(OllamaStreamError, match="not JSON"):
        list(client.pull("llama3.2"))


def test_stream_that_stops_before_success_is_an_error(mock_client: MakeClient) -> None:
    body = TrackedStream([ndjson(*PULL_LINES[:3])])
    client = mock_client(_serving(body))

    with pytest.raises(OllamaStreamError, match="/api/pull ended before completion"):
        list(client.pull("llama3.2"))


def test_generation_stream_must_end_with_done(mock_client: MakeClient) -> None:
    body = TrackedStream([ndjson({"model": "m", "response": "Bon", "done": False})])
    client = mock_client(_serving(body))

    with pytest.raises(OllamaStreamError, match="ended before completion"):
        list(client.generate_stream("m", "Bonjour"))


def test_a_line_that_is_json_but_not_an_object_is_refused(
    mock_client: MakeClient,
) -> None:
    client = mock_client(_serving(TrackedStream([b'"success"\n'])))

    with pytest.raises(OllamaStreamError, match="not a JSON object"):
        list(client.pull("llama3.2"))


def test_line_separators_inside_strings_do_not_split_a_line(
    mock_client: MakeClient,
) -> None:
    # Go leaves U+0085 unescaped; str.splitlines() would cut on it.
    text = "a\u0085b\u2028c"
    body = TrackedStream(
        [
            ndjson({"model": "m", "response": text, "done": False}).replace(
                b"\\u0085", "\u0085".encode()
            ),
            ndjson({"model": "m", "response": "", "done": True, "done_reason": "stop"}),
        ]
    )
    client = mock_client(_serving(body))

    chunks = list(client.generate_stream("m", "x"))

    assert chunks[0].response == text
    assert chunks[-1].done_reason == "stop"


def test_stopping_early_closes_the_response(mock_client: MakeClient) -> None:
    body = TrackedStream([ndjson(line) for line in PULL_LINES])
    client = mock_client(_serving(body))

    for progress in client.pull("llama3.2"):
        if progress.status == "pulling manifest":
            break
    gc.collect()  # not needed on CPython (refcounting); keeps the test honest elsewhere

    assert body.closed
    assert body.sent < len(PULL_LINES)


def test_close_and_with_block_close_the_response(mock_client: MakeClient) -> None:
    first = TrackedStream([ndjson(line) for line in PULL_LINES])
    second = TrackedStream([ndjson(line) for line in PULL_LINES])
    bodies = iter([first, second])
    client = mock_client(lambda request: httpx.Response(200, stream=next(bodies)))

    stream = client.pull("llama3.2")
    assert next(stream).status == "pulling manifest"
    stream.close()
    with client.pull("llama3.2") as again:
        assert next(again).status == "pulling manifest"

    assert first.closed
    assert second.closed


def test_nothing_is_sent_until_the_stream_is_iterated(mock_client: MakeClient) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, content=ndjson({"status": "success"}))

    client = mock_client(handler)
    stream = client.pull("llama3.2")
    assert calls == []
    assert [p.status for p in stream] == ["success"]
    assert len(calls) == 1


def test_connection_lost_mid_stream_is_unreachable_and_closes(
    mock_client: MakeClient,
) -> None:
    class Cut(TrackedStream):
        def __iter__(self):  # type: ignore[no-untyped-def]
            yield ndjson({"status": "pulling manifest"})
            raise httpx.RemoteProtocolError("peer closed connection")

    body = Cut([])
    client = mock_client(_serving(body))
    received: list[str] = []

    with pytest.raises(OllamaUnreachable, match="peer closed connection"):
        _collect_statuses(client.pull("llama3.2"), received)

    assert received == ["pulling manifest"]
    assert body.closed


def test_read_timeout_mid_stream_is_a_timeout(mock_client: MakeClient) -> None:
    class Stalls(TrackedStream):
        def __iter__(self):  # type: ignore[no-untyped-def]
            yield ndjson({"status": "pulling manifest"})
            raise httpx.ReadTimeout("timed out")

    client = mock_client(_serving(Stalls([])))

    with pytest.raises(OllamaTimeout):
        list(client.pull("llama3.2"))


def test_chat_stream_yields_message_pieces(mock_client: MakeClient) -> None:
    lines = [
        {
            "model": "m",
            "message": {"role": "assistant", "content": "Bon"},
            "done": False,
        },
        {
            "model": "m",
            "message": {"role": "assistant", "content": "jour"},
            "done": False,
        },
        {
            "model": "m",
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "eval_count": 2,
            "eval_duration": 1_000_000,
        },
    ]
    client = mock_client(_serving(TrackedStream([ndjson(*lines)])))

    chunks = list(client.chat_stream("m", [{"role": "user", "content": "Salut"}]))

    assert "".join(c.message.content for c in chunks) == "Bonjour"
    assert chunks[-1].metrics.eval_count == 2
