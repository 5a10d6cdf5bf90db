"""The floor for a Python relay: raw WSGI + one pooled urllib3 client, gevent.

No features at all: every request goes to one upstream, the body is relayed as it
arrives. ``python benchmarks/bare_relay.py UPSTREAM_URL PORT``.
"""

from gevent import monkey

monkey.patch_all()

import socket  # noqa: E402
import sys  # noqa: E402
from collections.abc import Iterable, Iterator  # noqa: E402
from typing import Any  # noqa: E402

import urllib3  # noqa: E402
from gevent import pywsgi  # noqa: E402

UPSTREAM = sys.argv[1].rstrip("/")
POOL = urllib3.PoolManager(maxsize=256, block=False, retries=False)
HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else None
    url = UPSTREAM + environ["PATH_INFO"]
    upstream = POOL.request(
        environ["REQUEST_METHOD"], url, body=body, preload_content=False
    )
    headers = [(k, v) for k, v in upstream.headers.items() if k.lower() not in HOP]
    start_response(f"{upstream.status} {upstream.reason}", headers)

    def relay() -> Iterator[bytes]:
        try:
            yield from upstream.stream(65536, decode_content=False)
        finally:
            upstream.release_conn()

    return relay()


class Handler(pywsgi.WSGIHandler):  # type: ignore[misc]
    def handle(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle()


if __name__ == "__main__":
    server = pywsgi.WSGIServer(
        ("127.0.0.1", int(sys.argv[2])),
        app,
        handler_class=Handler,
        log=None,
        backlog=2048,  # as the gateway's server: a burst of clients is not refused
    )
    print("ready", flush=True)
    server.serve_forever()
