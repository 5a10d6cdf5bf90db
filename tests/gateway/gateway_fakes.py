"""Small real-socket Ollama stand-ins for the gateway's relay tests.

``Node`` speaks just enough of Ollama's API (tags, ps, version, generate, chat,
``/v1/chat/completions``, pull, delete, copy, show) and has fault switches:
``fault = "500" | "503" | "hang" | "drop" | "short"`` (a non-streamed body
cut short of its ``Content-Length``). ``fleet`` serves several of them
plus a gateway on real sockets.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from ollama_webmgr.gateway.app import Gateway
from ollama_webmgr.gateway.stats import RequestRecord
from ollama_webmgr.ollama.names import same_model
from ollama_webmgr.sim.serve import RunningServer

NDJSON = "application/x-ndjson"
JSON = "application/json; charset=utf-8"


@dataclass
class Node:
    name: str
    models: list[str] = field(default_factory=lambda: ["llama3.2:latest"])
    loaded: list[str] = field(default_factory=list)
    version: str = "0.33.0"
    fault: str | None = None
    failure: str | None = (
        None  # message of the 500/503 fault (default: "<name> failed")
    )
    line_delay: float = 0.0
    lines: int = 3
    seen: list[dict[str, Any]] = field(default_factory=list)
    closed_streams: int = 0
    uploaded: list[int] = field(default_factory=list)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Any:
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {
            k[5:].replace("_", "-").lower(): v
            for k, v in environ.items()
            if k.startswith("HTTP_")
        }
        data = json.loads(body) if body[:1] == b"{" else {}
        if path not in ("/api/version", "/api/tags", "/api/ps"):
            self.seen.append(
                {"method": method, "path": path, "headers": headers, "data": data}
            )
        if self.fault == "hang" and path not in (
            "/api/version",
            "/api/tags",
            "/api/ps",
        ):
            time.sleep(3)
        if self.fault in ("500", "503") and path not in (
            "/api/version",
            "/api/tags",
            "/api/ps",
        ):
            return self._json(
                start_response,
                int(self.fault),
                {"error": self.failure or f"{self.name} failed"},
            )
        if path.startswith("/api/blobs/"):
            self.uploaded.append(len(body))
            start_response("201 Created", [("Content-Length", "0")])
            return [b""]
        if path == "/api/create":
            return self._json(start_response, 200, {"status": "success"})
        if path == "/":
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"Ollama is running"]
        if path == "/api/version":
            return self._json(start_response, 200, {"version": self.version})
        if path == "/api/tags":
            models = [
                self._entry(m, "modified_at", f"2026-01-0{i + 1}T10:00:00Z")
                for i, m in enumerate(self.models)
            ]
            return self._json(start_response, 200, {"models": models})
        if path == "/api/ps":
            models = [
                self._entry(m, "expires_at", "2026-02-01T10:00:00Z")
                for m in self.loaded
            ]
            return self._json(start_response, 200, {"models": models})
        if path == "/v1/models":
            items = [
                {
                    "id": m,
                    "object": "model",
                    "created": 1700000000 + i,
                    "owned_by": "library",
                }
                for i, m in enumerate(self.models)
            ]
            return self._json(
                start_response, 200, {"object": "list", "data": items or None}
            )
        model = str(data.get("model") or data.get("name") or data.get("source") or "")
        if path in (
            "/api/generate",
            "/api/chat",
            "/api/show",
            "/v1/chat/completions",
            "/api/delete",
            "/api/copy",
        ) and not self._has(model):
            return self._json(
                start_response, 404, {"error": f"model '{model}' not found"}
            )
        if path in ("/api/generate", "/api/chat"):
            if data.get("stream") is False and self.fault == "short":
                # announces 1000 bytes, sends 20, then the connection breaks
                start_response(
                    "200 OK", [("Content-Type", JSON), ("Content-Length", "1000")]
                )
                return self._short(environ)
            if data.get("stream") is False:
                return self._json(
                    start_response,
                    200,
                    {"model": model, "response": "abc", "done": True, "eval_count": 3},
                )
            start_response("200 OK", [("Content-Type", NDJSON)])
            return self._lines(environ, model)
        if path == "/v1/chat/completions":
            start_response("200 OK", [("Content-Type", "text/event-stream")])
            return self._events(environ, model)
        if path == "/api/show":
            return self._json(
                start_response, 200, {"model_info": {}, "served_by": self.name}
            )
        if path == "/api/pull":
            if data.get("stream") is False:
                last = json.loads(list(self._pull(model))[-1])
                return self._json(start_response, 200, last)
            start_response("200 OK", [("Content-Type", NDJSON)])
            return self._pull(model)
        if path == "/api/delete":
            self.models = [m for m in self.models if not same_model(m, model)]
            start_response("200 OK", [("Content-Length", "0")])
            return [b""]
        if path == "/api/copy":
            self.models.append(data["destination"])
            start_response("200 OK", [("Content-Length", "0")])
            return [b""]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"404 page not found"]

    @staticmethod
    def _short(environ: dict[str, Any]) -> Iterator[bytes]:
        yield b'{"model":"x","respon'
        time.sleep(0.1)  # the half answer leaves before the cut, as a dying node's
        environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)

    def _has(self, model: str) -> bool:
        return any(same_model(m, model) for m in self.models)

    @staticmethod
    def _entry(name: str, time_field: str, moment: str) -> dict[str, Any]:
        return {
            "name": name,
            "model": name,
            time_field: moment,
            "digest": "d" * 64,
            "size": 1,
        }

    @staticmethod
    def _json(
        start_response: Callable[..., Any], status: int, data: Any
    ) -> list[bytes]:
        body = json.dumps(data).encode()
        reason = {
            200: "OK",
            404: "Not Found",
            500: "Internal Server Error",
            503: "Service Unavailable",
        }[status]
        start_response(
            f"{status} {reason}",
            [("Content-Type", JSON), ("Content-Length", str(len(body)))],
        )
        return [body]

    def _lines(self, environ: dict[str, Any], model: str) -> Iterator[bytes]:
        try:
            for i in range(self.lines):
                if self.fault == "drop" and i == 2:
                    environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
                    return
                yield (
                    json.dumps(
                        {"model": model, "response": f"w{i} ", "done": False}
                    ).encode()
                    + b"\n"
                )
                time.sleep(self.line_delay)
            final = {
                "model": model,
                "response": "",
                "done": True,
                "prompt_eval_count": 4,
                "eval_count": self.lines,
            }
            yield json.dumps(final).encode() + b"\n"
        except GeneratorExit:
            self.closed_streams += 1
            raise

    def _events(self, environ: dict[str, Any], model: str) -> Iterator[bytes]:
        for i in range(self.lines):
            if self.fault == "drop" and i == 2:
                environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
                return
            chunk = {
                "object": "chat.completion.chunk",
                "model": model,
                "choices": [{"index": 0, "delta": {"content": f"w{i} "}}],
            }
            yield b"data: " + json.dumps(chunk).encode() + b"\n\n"
            time.sleep(self.line_delay)
        yield b"data: [DONE]\n\n"

    def _pull(self, model: str) -> Iterator[bytes]:
        lines = [{"status": "pulling manifest"}]
        lines += [
            {
                "status": "pulling aaaaaaaaaaaa",
                "digest": "sha256:" + "a" * 64,
                "total": 100,
                "completed": c,
            }
            for c in (50, 100)
        ]
        lines += [
            {"status": "verifying sha256 digest"},
            {"status": "writing manifest"},
            {"status": "success"},
        ]
        for line in lines:
            yield json.dumps(line).encode() + b"\n"
        self.models.append(model if ":" in model else model + ":latest")


@dataclass
class Fleet:
    nodes: dict[str, Node]
    servers: dict[str, RunningServer]
    gateway: Gateway
    url: str
    records: list[RequestRecord]
    stack: ExitStack

    def stop_node(self, name: str) -> None:
        self.servers[name].stop()

    def last_record(self) -> RequestRecord:
        """Records are made when the server closes the response: wait for it."""
        wait_until(lambda: bool(self.records), timeout=2)
        return self.records[-1]

    def refresh(self) -> None:
        self.gateway.monitor.check_all()


FAST = {
    "health_interval": 0.2,
    "health_timeout": 0.5,
    "read_timeout": 1.0,
    "connect_timeout": 0.5,
    "failures_to_down": 1,
    "successes_to_up": 1,
    "queue_timeout": 0.5,
}


def stop_all(servers: list[RunningServer]) -> None:
    # in parallel: each shutdown waits for its serve loop's poll interval
    threads = [threading.Thread(target=s.stop) for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
