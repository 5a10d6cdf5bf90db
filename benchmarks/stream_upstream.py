"""A tiny Ollama stand-in for many slow streams (gevent, raw WSGI).

``POST /api/generate`` answers LINES NDJSON lines, one every INTERVAL seconds
(the last one is Ollama's final line with its counts); ``/api/version``,
``/api/tags`` and ``/api/ps`` are just enough for the gateway's health checks;
``/api/show`` answers a fixed body, for measuring a relay's own throughput.
The emulator (``ollama-webmgr sim``, threads) is faithful but not built for a
thousand concurrent streams; this one only has to be cheap, and it is the same
upstream for both relays.
``python benchmarks/stream_upstream.py PORT MODEL LINES INTERVAL``.
"""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterable, Iterator  # noqa: E402
from typing import Any  # noqa: E402

from gevent import pywsgi  # noqa: E402

PORT, MODEL = int(sys.argv[1]), sys.argv[2]
LINES, INTERVAL = int(sys.argv[3]), float(sys.argv[4])
ENTRY = {"name": MODEL, "model": MODEL, "size": 1, "digest": "0" * 64}
STATIC = {
    "/api/version": {"version": "0.33.0"},
    "/api/tags": {"models": [ENTRY]},
    "/api/ps": {"models": []},
    # about the size of the emulator's answer for a small model
    "/api/show": {
        "modelfile": "# Modelfile\n" + "PARAMETER stop <|im_end|>\n" * 20,
        "parameters": "stop <|im_end|>",
        "template": "{{ .Prompt }}" * 20,
        "details": {"format": "gguf", "family": "llama", "parameter_size": "135M"},
        "model_info": {"general.architecture": "llama"},
        "capabilities": ["completion"],
    },
}
TOKEN = json.dumps({"model": MODEL, "response": "mot ", "done": False}).encode()
FINAL = json.dumps(
    {"model": MODEL, "response": "", "done": True, "eval_count": LINES - 1}
).encode()


def stream() -> Iterator[bytes]:
    for index in range(LINES):
        time.sleep(INTERVAL)
        yield (FINAL if index == LINES - 1 else TOKEN) + b"\n"


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    if path == "/api/generate":
        start_response("200 OK", [("Content-Type", "application/x-ndjson")])
        return stream()
    body = json.dumps(STATIC.get(path, {"error": "not found"})).encode()
    status = "200 OK" if path in STATIC else "404 Not Found"
    start_response(status, [("Content-Type", "application/json")])
    return [body]


class Handler(pywsgi.WSGIHandler):  # type: ignore[misc]
    def handle(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle()


if __name__ == "__main__":
    server = pywsgi.WSGIServer(
        ("127.0.0.1", PORT), app, handler_class=Handler, log=None, backlog=2048
    )
    server.serve_forever()
