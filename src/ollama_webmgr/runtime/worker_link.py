"""The pipe between a worker process and its supervisor (``prefork``).

One Unix stream socket per worker carries frames from the worker to the
supervisor: a 4-byte length, a 1-byte kind, a payload. ``READY`` says the worker
serves; ``RECORDS`` carries gateway request records, which the supervisor stores
(``runtime/record_writer.py``), so that no serving process spends its event loop
or its GIL on store writes. The supervisor never writes to the pipe: when it
dies, the worker reads end of file and stops as it would on SIGTERM.

Records travel as pickled tuples (about 0.5 µs a record): both ends are the same
program, started by the same user, on a socket no one else holds.
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
from collections.abc import Iterator, Sequence
from dataclasses import fields

from ollama_webmgr.gateway.stats import BatchRecorder, RequestRecord

log = logging.getLogger(__name__)

HEADER = struct.Struct(">IB")
READY = 1
RECORDS = 2
# Small, frequent batches: each one costs the worker's event loop ~0.1 ms.
BATCH_SIZE = 256
BATCH_INTERVAL = 0.1
_FIELDS = tuple(f.name for f in fields(RequestRecord))
_values = operator.attrgetter(*_FIELDS)


def frame(kind: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(len(payload), kind) + payload


def read_frames(sock: socket.socket) -> Iterator[tuple[int, bytes]]:
    """The frames on ``sock`` until end of file (or a truncated frame).

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
    finally:
        reader.close()


def pack_records(records: Sequence[RequestRecord]) -> bytes:
    return pickle.dumps([_values(r) for r in records], protocol=pickle.HIGHEST_PROTOCOL)


def unpack_records(payload: bytes) -> list[RequestRecord]:
    return [RequestRecord(*values) for values in pickle.loads(payload)]


class SupervisorLink:
    """The worker's end of the pipe (file descriptor ``fd``, inherited)."""

    def __init__(self, fd: int) -> None:
        self._sock = socket.socket(fileno=fd)
        self._lock = threading.Lock()  # the recorder and ``ready`` may both send

    def ready(self) -> None:
        self._send(frame(READY))

    def send_records(self, records: Sequence[RequestRecord]) -> None:
        """A ``BatchRecorder`` sink: hand the batch to the supervisor."""
        self._send(frame(RECORDS, pack_records(records)))

    def recorder(self) -> BatchRecorder:
        return BatchRecorder(
            self.send_records, batch_size=BATCH_SIZE, interval=BATCH_INTERVAL
        )

    def stop_when_lost(self) -> None:
        """SIGTERM this process when the supervisor goes away (a daemon thread,
        a greenlet under gevent: it only waits on the pipe)."""

        def watch() -> None:
            for _frame in read_frames(self._sock):
                pass  # the supervisor sends nothing: only end of file comes
            log.warning("the supervisor is gone: stopping")
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=watch, name="supervisor-link", daemon=True).start()

    def _send(self, data: bytes) -> None:
        with self._lock:
            self._sock.sendall(data)
