"""The pipe between a worker process and its supervisor (``prefork``).

One Unix stream socket per worker carries frames both ways: a 4-byte length, a
1-byte kind, a payload. From the worker, ``READY`` says it serves; ``RECORDS``
carries gateway request records, which the supervisor stores
(``runtime/record_writer.py``), so that no serving process spends its event loop
or its GIL on store writes. From the supervisor of gateway workers, ``CONFIG``
carries the gateway's settings, key hashes, fleet and drained servers
(``gateway/snapshot.py``): once before the worker builds anything, then on
every change, so a gateway worker never opens the store; when the supervisor
keeps the history (no Redis), the worker sends it each health ``CHECK`` and
the ``MODELS`` its probes found, which the supervisor stores. When the supervisor
dies, the worker reads end of file and stops as it would on SIGTERM.

Payloads are pickled (about 0.5 µs a record): both ends are the same program,
started by the same user, on a socket no one else holds.
"""

from __future__ import annotations

import logging
import operator
import os
import pickle
import signal
import socket
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Any

from ollama_webmgr.cluster.live_models import AnsweredModels
from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.gateway.snapshot import GatewaySnapshot
from ollama_webmgr.gateway.stats import BatchRecorder, RequestRecord
from ollama_webmgr.ollama.urls import display_address

log = logging.getLogger(__name__)

HEADER = struct.Struct(">IB")
READY = 1
RECORDS = 2
CONFIG = 3
CHECK = 4
MODELS = 5
# Small, frequent batches: each one costs the worker's event loop ~0.1 ms.
BATCH_SIZE = 256
BATCH_INTERVAL = 0.1
_FIELDS = tuple(f.name for f in fields(RequestRecord))
_values = operator.attrgetter(*_FIELDS)


def frame(kind: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(len(payload), kind) + payload


def read_frames(sock: socket.socket) -> Iterator[tuple[int, bytes]]:
    """The frames on ``sock`` until end of file (a truncated frame, a reset).

    >>> a, b = socket.socketpair()
    >>> a.sendall(frame(READY) + frame(RECORDS, b"xyz")); a.close()
    >>> list(read_frames(b))
    [(1, b''), (2, b'xyz')]
    >>> b.close()
    """
    reader = sock.makefile("rb")
    try:
        while True:
            head = reader.read(HEADER.size)
            if len(head) < HEADER.size:
                return
            size, kind = HEADER.unpack(head)
            payload = reader.read(size)
            if len(payload) < size:
                return
            yield kind, payload
    except ConnectionResetError:
        # the other end closed with frames of ours unread: it is gone all the same
        return
    finally:
        reader.close()


def pack_records(records: Sequence[RequestRecord]) -> bytes:
    return pickle.dumps([_values(r) for r in records], protocol=pickle.HIGHEST_PROTOCOL)


def unpack_records(payload: bytes) -> list[RequestRecord]:
    return [RequestRecord(*values) for values in pickle.loads(payload)]


def pack_config(snapshot: GatewaySnapshot) -> bytes:
    return pickle.dumps(snapshot, protocol=pickle.HIGHEST_PROTOCOL)


def unpack_config(payload: bytes) -> GatewaySnapshot:
    snapshot = pickle.loads(payload)
    if not isinstance(snapshot, GatewaySnapshot):
        raise TypeError(f"expected a GatewaySnapshot, got {type(snapshot).__name__}")
    return snapshot


@dataclass(frozen=True)
class Check:
    """One health probe, as ``record_server_check`` stores it."""

    address: str
    name: str
    healthy: bool
    latency_ms: float | None
    load: float | None


def pack_report(report: Check | AnsweredModels) -> bytes:
    return pickle.dumps(report, protocol=pickle.HIGHEST_PROTOCOL)


def unpack_report(payload: bytes) -> Any:
    return pickle.loads(payload)


class SupervisorLost(Exception):
    """The pipe ended before the supervisor sent what the worker waits for."""


class SupervisorLink:
    """The worker's end of the pipe (file descriptor ``fd``, inherited)."""

    def __init__(self, fd: int) -> None:
        self._sock = socket.socket(fileno=fd)
        self._lock = threading.Lock()  # the recorder and ``ready`` may both send
        self._frames = read_frames(self._sock)

    def ready(self) -> None:
        self._send(frame(READY))

    def send_records(self, records: Sequence[RequestRecord]) -> None:
        """A ``BatchRecorder`` sink: hand the batch to the supervisor."""
        self._send(frame(RECORDS, pack_records(records)))

    def recorder(self) -> BatchRecorder:
        return BatchRecorder(
            self.send_records, batch_size=BATCH_SIZE, interval=BATCH_INTERVAL
        )

    def check_reporter(
        self, in_flight: Callable[[str], int]
    ) -> Callable[[Server, bool, float], None]:
        """A ``HealthMonitor.on_check`` that sends each probe to the supervisor
        (``load``: the requests this worker has running on the server)."""

        def report(server: Server, ok: bool, latency_ms: float) -> None:
            check = Check(
                display_address(server.url),
                server.name,
                ok,
                round(latency_ms, 3) if ok else None,
                float(in_flight(server.name)),
            )
            self._report(CHECK, pack_report(check))

        return report

    def send_models(self, live: AnsweredModels) -> None:
        self._report(MODELS, pack_report(live))

    def _report(self, kind: int, payload: bytes) -> None:
        try:
            self._send(frame(kind, payload))
        except OSError:  # the supervisor is gone: the watch stops this process
            log.debug("report not sent: the supervisor is gone")

    def first_config(self) -> GatewaySnapshot:
        """Wait for the supervisor's first ``CONFIG`` (a gateway worker reads it
        before it builds anything); ``SupervisorLost`` if the pipe ends first."""
        for kind, payload in self._frames:
            if kind == CONFIG:
                return unpack_config(payload)
        raise SupervisorLost("the supervisor is gone before sending the configuration")

    def stop_when_lost(
        self, on_config: Callable[[GatewaySnapshot], None] | None = None
    ) -> None:
        """SIGTERM this process when the supervisor goes away; meanwhile give
        each ``CONFIG`` it sends to ``on_config`` (a daemon thread, a greenlet
        under gevent: it only waits on the pipe)."""

        def watch() -> None:
            for kind, payload in self._frames:
                if kind == CONFIG and on_config is not None:
                    try:
                        on_config(unpack_config(payload))
                    except Exception:  # keep serving with what it had
                        log.exception("configuration from the supervisor not applied")
            log.warning("the supervisor is gone: stopping")
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=watch, name="supervisor-link", daemon=True).start()

    def _send(self, data: bytes) -> None:
        with self._lock:
            self._sock.sendall(data)
