"""A typed client for one Ollama server's native API.

One pooled ``httpx.Client`` per instance; ``transport`` is the test seam
(``httpx.MockTransport``, ``httpx.WSGITransport`` over the emulator). Model
names are validated before any request leaves. Failures raise the
``OllamaError`` family of :mod:`ollama_webmgr.errors`.

Only idempotent reads (``HEAD /``, version, tags, ps, show) are retried, and
only when the connection could not be made: a request that may have reached
the server is never sent twice.

>>> OllamaClient("gpu-box").base_url
'http://gpu-box:11434'
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any, TypeAlias, TypedDict, TypeVar, Unpack

import httpx

from ollama_webmgr import __version__
from ollama_webmgr.closeable import Closeable
from ollama_webmgr.errors import OllamaError, OllamaServerError
from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.ollama.payloads import (
    ChatMessage,
    ChatResult,
    GenerateResult,
    ModelTag,
    PullProgress,
    RunningModel,
    ShowInfo,
    model_list,
    parse_embeddings,
    parse_version,
)
from ollama_webmgr.ollama.urls import normalize_base_url
from ollama_webmgr.ollama.wire import (
    Cutter,
    Stream,
    iter_ndjson,
    parse_with_server,
    status_error,
    transport_error,
)

T = TypeVar("T")
#: seconds as a number (negative: forever) or a Go duration string ("5m", "0")
KeepAlive: TypeAlias = float | str
Message: TypeAlias = ChatMessage | Mapping[str, Any]
# Refused/reset before sending: safe and quick to retry. A connect *timeout* is
# not retried: a blackholed host would cost (retries + 1) × connect_timeout.
_RETRYABLE = (httpx.ConnectError,)


class _CommonFields(TypedDict, total=False):
    format: str | Mapping[str, Any] | None
    options: Mapping[str, Any] | None
    keep_alive: KeepAlive | None
    think: bool | str | None


class GenerateFields(_CommonFields, total=False):
    """Optional fields of ``/api/generate`` (``None``: not sent)."""

    system: str | None
    images: Sequence[str] | None
    raw: bool | None


class ChatFields(_CommonFields, total=False):
    """Optional fields of ``/api/chat`` (``None``: not sent)."""

    tools: Sequence[Mapping[str, Any]] | None


class OllamaClient(Closeable):
    """Typed access to one Ollama server; close it (or use ``with``) when done.

    ``read_timeout`` bounds the wait for an answer, or between two lines of a
    generation stream; ``pull_timeout`` is the same bound for pulls.
    """

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.BaseTransport | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        pull_timeout: float = 600.0,
        retries: int = 2,
        backoff: float = 0.2,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._pull_timeout = pull_timeout
        self._retries = max(0, retries)
        self._backoff = backoff
        self._http = httpx.Client(
            base_url=self.base_url,
            transport=transport,
            timeout=self._timeout(read_timeout),
            headers={"User-Agent": f"ollama-webmgr/{__version__}"},
        )

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"OllamaClient({self.base_url!r})"

    # -- liveness and inventory (idempotent, retried on connection errors) --

    def heartbeat(self) -> None:
        """``HEAD /``; raises an ``OllamaError`` when the server is not answering."""
        self._request("HEAD", "/", idempotent=True)

    def is_up(self) -> bool:
        """True when ``HEAD /`` answers 2xx; never raises an ``OllamaError``."""
        try:
            self.heartbeat()
        except OllamaError:
            return False
        return True

    def version(self) -> str:
        data = self._json("GET", "/api/version", idempotent=True)
        return self._parse(parse_version, data)

    def tags(self) -> list[ModelTag]:
        """Models installed on the server (``GET /api/tags``)."""
        data = self._json("GET", "/api/tags", idempotent=True)
        return self._parse(model_list(ModelTag.from_json), data)

    def ps(self) -> list[RunningModel]:
        """Models loaded in memory (``GET /api/ps``)."""
        data = self._json("GET", "/api/ps", idempotent=True)
        return self._parse(model_list(RunningModel.from_json), data)

    def show(self, model: str, *, verbose: bool = False) -> ShowInfo:
        _check_name(model)
        body: dict[str, Any] = {"model": model}
        if verbose:
            body["verbose"] = True
        data = self._json("POST", "/api/show", body=body, idempotent=True)
        return self._parse(ShowInfo.from_json, data)

    # -- model management (never retried) --

    def pull(self, model: str, *, insecure: bool = False) -> Stream[PullProgress]:
        """Stream the pull progress; the last item has status ``success``.

        The read timeout between two lines is ``pull_timeout`` (verifying a
        large blob sends nothing for a long time).
        """
        _check_name(model)
        body = {"model": model, "insecure": insecure, "stream": True}
        return self._stream(
            "/api/pull",
            body,
            PullProgress.from_json,
            finished=lambda item: item.is_success,
            read_timeout=self._pull_timeout,
        )

    def delete(self, model: str) -> None:
        _check_name(model)
        self._request("DELETE", "/api/delete", body={"model": model})

    def copy(self, source: str, destination: str) -> None:
        """Copy a model; an existing destination is overwritten (Ollama's rule)."""
        _check_name(source)
        _check_name(destination)
        body = {"source": source, "destination": destination}
        self._request("POST", "/api/copy", body=body)

    # -- inference (never retried) --

    def generate(
        self, model: str, prompt: str, **fields: Unpack[GenerateFields]
    ) -> GenerateResult:
        """One complete answer (``stream: false``); ``None`` arguments are not sent."""
        body = _generate_body(model, prompt, False, fields)
        data = self._json("POST", "/api/generate", body=body)
        return self._parse(GenerateResult.from_json, data)

    def generate_stream(
        self, model: str, prompt: str, **fields: Unpack[GenerateFields]
    ) -> Stream[GenerateResult]:
        """Chunks as they are produced; the last one has ``done`` true."""
        body = _generate_body(model, prompt, True, fields)
        return self._stream("/api/generate", body, GenerateResult.from_json, _is_done)

    def chat(
        self, model: str, messages: Sequence[Message], **fields: Unpack[ChatFields]
    ) -> ChatResult:
        """One complete chat answer (``stream: false``); ``None`` arguments are not sent."""
        body = _chat_body(model, messages, False, fields)
        data = self._json("POST", "/api/chat", body=body)
        return self._parse(ChatResult.from_json, data)

    def chat_stream(
        self, model: str, messages: Sequence[Message], **fields: Unpack[ChatFields]
    ) -> Stream[ChatResult]:
        """Message chunks as they are produced; the last one has ``done`` true."""
        body = _chat_body(model, messages, True, fields)
        return self._stream("/api/chat", body, ChatResult.from_json, _is_done)

    def load(
        self, model: str, *, keep_alive: KeepAlive | None = None
    ) -> GenerateResult:
        """Load a model without generating (``done_reason == "load"``)."""
        return self.generate(model, "", keep_alive=keep_alive)

    def unload(self, model: str) -> GenerateResult:
        """Unload a model now (``done_reason == "unload"``)."""
        return self.generate(model, "", keep_alive=0)

    def embed(
        self,
        model: str,
        input: str | Sequence[str],
        *,
        dimensions: int | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> list[list[float]]:
        """One L2-normalised vector per input string."""
        texts = input if isinstance(input, str) else list(input)
        body = _body(model, input=texts, dimensions=dimensions, keep_alive=keep_alive)
        data = self._json("POST", "/api/embed", body=body)
        return self._parse(parse_embeddings, data)

    # -- plumbing --

    def _timeout(self, read: float) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self._connect_timeout, read=read, write=read, pool=read
        )

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        idempotent: bool = False,
    ) -> httpx.Response:
        attempts = 1 + (self._retries if idempotent else 0)
        for attempt in range(attempts):
            try:
                response = self._http.request(method, path, json=body)
            except _RETRYABLE as exc:
                if attempt + 1 < attempts:
                    time.sleep(self._backoff * 2**attempt)
                    continue
                raise transport_error(exc, self.base_url) from exc
            except httpx.HTTPError as exc:
                raise transport_error(exc, self.base_url) from exc
            if not response.is_success:
                raise status_error(response, self.base_url)
            return response
        raise AssertionError("unreachable: the loop returns or raises")

    def _json(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        idempotent: bool = False,
    ) -> Mapping[str, Any]:
        response = self._request(method, path, body=body, idempotent=idempotent)
        try:
            data = json.loads(response.content)
        except ValueError:
            shown = response.text[:80]
            raise OllamaServerError(
                f"malformed answer to {method} {path} (not JSON): {shown!r}",
                status=response.status_code,
                server=self.base_url,
            ) from None
        if not isinstance(data, dict):
            raise OllamaServerError(
                f"malformed answer to {method} {path}: not a JSON object",
                status=response.status_code,
                server=self.base_url,
            )
        return data

    def _parse(
        self, parse: Callable[[Mapping[str, Any]], T], data: Mapping[str, Any]
    ) -> T:
        return parse_with_server(parse, data, self.base_url)

    def _stream(
        self,
        path: str,
        body: Mapping[str, Any],
        parse: Callable[[Mapping[str, Any]], T],
        finished: Callable[[T], bool],
        read_timeout: float | None = None,
    ) -> Stream[T]:
        timeout = self._timeout(read_timeout or self._read_timeout)
        request = self._http.build_request("POST", path, json=body, timeout=timeout)
        cutter = Cutter()
        return Stream(self._iterate(request, parse, finished, cutter), cutter)

    def _iterate(
        self,
        request: httpx.Request,
        parse: Callable[[Mapping[str, Any]], T],
        finished: Callable[[T], bool],
        cutter: Cutter,
    ) -> Generator[T, None, None]:
        try:
            response = self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.base_url) from exc
        cutter.attach(response)
        try:
            if not response.is_success:
                response.read()
                raise status_error(response, self.base_url)
            yield from iter_ndjson(response, parse, finished, self.base_url)
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.base_url) from exc
        finally:
            # also runs when the consumer stops early (GeneratorExit at the yield)
            cutter.detach()
            response.close()


def _check_name(model: str) -> None:
    """Raise InvalidModelName before anything is sent."""
    ModelName.parse(model)


def _without_none(body: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if value is not None}


def _body(model: str, **fields: Any) -> dict[str, Any]:
    """A request body with the model checked and ``None`` fields left out."""
    _check_name(model)
    return {"model": model, **_without_none(fields)}


def _generate_body(
    model: str, prompt: str, stream: bool, fields: GenerateFields
) -> dict[str, Any]:
    images = fields.get("images")
    listed = None if images is None else list(images)
    return _body(model, prompt=prompt, stream=stream, **{**fields, "images": listed})


def _chat_body(
    model: str, messages: Sequence[Message], stream: bool, fields: ChatFields
) -> dict[str, Any]:
    tools = fields.get("tools")
    listed = None if tools is None else [dict(t) for t in tools]
    return _body(
        model,
        messages=_messages(messages),
        stream=stream,
        **{**fields, "tools": listed},
    )


def _messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    return [m.to_json() if isinstance(m, ChatMessage) else dict(m) for m in messages]


def _is_done(item: GenerateResult | ChatResult) -> bool:
    return item.done
