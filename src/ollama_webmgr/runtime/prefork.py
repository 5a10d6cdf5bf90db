"""Several worker processes on the same listening sockets (``--workers N``).

The process the user starts, the supervisor, binds the sockets (a busy port
fails at once; port 0 becomes one port for all), then starts N workers. Each
is a fresh ``ollama-webmgr`` running the same command; it inherits the
listening sockets and a pipe to the supervisor (``worker_link``) and serves
until SIGTERM. All workers wait in ``accept`` on the same socket and the kernel
gives each connection to one of them: an idle worker takes it first, where
``SO_REUSEPORT`` would hash connections to workers whatever their load.

The supervisor serves nothing. It stores the gateway request records the
workers send (``runtime/record_writer.py``), gives gateway workers their
configuration (``greeting``, then ``push_config``: ``runtime/supervise.py``
reads it from the store), replaces a worker that dies, and
handles the signals: SIGTERM or SIGINT stops the workers (each finishes its
requests), then the last records are stored; SIGHUP starts new workers one by
one, each stopping an old one once it serves (new code, same environment). A
worker that fails before serving is replaced up to ``MAX_FAILURES`` times in a
row, then everything stops with that worker's exit status. With systemd
(``Type=notify``) it reports ``READY=1`` once every worker serves.

Why not gunicorn's arbiter: this process is under gevent from its first line
(``cli.main``), where the arbiter expects plain blocking code and its own signal
handling; and the record writer has no place in it. What is kept is small:
spawn, wait, replace, forward signals.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field

import gevent
import gevent.socket
import gevent.subprocess
from gevent.event import Event

from ollama_webmgr.gateway.stats import RequestRecord
from ollama_webmgr.runtime.worker_link import (
    CONFIG,
    READY,
    RECORDS,
    frame,
    read_frames,
    unpack_records,
)

log = logging.getLogger(__name__)

MAX_FAILURES = 5
READY_TIMEOUT = 120.0  # seconds for a worker to import, open the store, bind
STOP_TIMEOUT = 30.0  # seconds for a worker to finish its requests

#: the argv of a worker, given the descriptor of its end of the pipe
WorkerCommand = Callable[[int], list[str]]


@dataclass(eq=False)
class _Worker:
    process: gevent.subprocess.Popen
    channel: gevent.socket.socket
    ready: Event = field(default_factory=Event)
    gone: Event = field(default_factory=Event)
    reader: gevent.Greenlet | None = None
    #: started by a reload: if it fails, the old worker it would replace stays
    replacing: bool = False


class Supervisor:
    """Runs ``count`` workers from ``command`` until a signal (``run()``);
    ``greeting()``: the ``CONFIG`` payload each new worker gets first (None:
    the workers read their configuration themselves); ``on_report(kind,
    payload)``: any other frame a worker sends (its health probes)."""

    def __init__(
        self,
        listeners: Sequence[socket.socket],
        count: int,
        command: WorkerCommand,
        on_records: Callable[[list[RequestRecord]], None],
        greeting: Callable[[], bytes | None] = lambda: None,
        on_report: Callable[[int, bytes], None] = lambda _kind, _payload: None,
    ) -> None:
        self._listeners = list(listeners)
        self._count = count
        self._command = command
        self._on_records = on_records
        self._greeting = greeting
        self._on_report = on_report
        self._workers: list[_Worker] = []
        self._stopping = Event()
        self._started = False  # every first worker served: replace the dead
        self._failures = 0
        self.exit_code = 0

    def run(self, announce: Callable[[], None]) -> int:
        """Start the workers, ``announce()`` once all serve, then supervise until
        SIGTERM/SIGINT; the exit status (0, or a failed worker's)."""
        handlers = [
            gevent.signal_handler(signal.SIGTERM, self._stopping.set),
            gevent.signal_handler(signal.SIGINT, self._stopping.set),
            gevent.signal_handler(signal.SIGHUP, lambda: gevent.spawn(self._reload)),
        ]
        try:
            if self._start_all():
                announce()
                sd_notify("READY=1")
                self._stopping.wait()
        finally:
            for handler in handlers:
                handler.cancel()
            sd_notify("STOPPING=1")
            self._stop_all()
        return self.exit_code

    # --- starting ---------------------------------------------------------

    def _start_all(self) -> bool:
        started = [self._spawn() for _ in range(self._count)]
        for worker in started:
            if not self._wait_ready(worker):
                code = worker.process.poll()
                self.exit_code = code if code and code > 0 else 1
                self._stopping.set()
                return False
        self._started = True
        return True

    def _spawn(self, *, replacing: bool = False) -> _Worker:
        # gevent's own socket and subprocess: cooperative even unpatched (tests)
        mine, theirs = gevent.socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            fds = (theirs.fileno(), *(s.fileno() for s in self._listeners))
            env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
            process = gevent.subprocess.Popen(
                self._command(theirs.fileno()), pass_fds=fds, env=env
            )
        finally:
            theirs.close()
        worker = _Worker(process, mine, replacing=replacing)
        payload = self._greeting()
        if payload is not None:
            self._send(worker, frame(CONFIG, payload))
        worker.reader = gevent.spawn(self._read, worker)
        gevent.spawn(self._watch, worker)
        self._workers.append(worker)
        return worker

    def _wait_ready(self, worker: _Worker) -> bool:
        """True once ``worker`` serves; False when it died or took too long."""
        waiter = gevent.wait(
            [worker.ready, worker.gone], count=1, timeout=READY_TIMEOUT
        )
        if worker.ready.is_set():
            return True
        if not waiter:
            log.error("a worker did not start in %.0f s", READY_TIMEOUT)
            self._terminate(worker)
        return False

    # --- running ----------------------------------------------------------

    def _read(self, worker: _Worker) -> None:
        for kind, payload in read_frames(worker.channel):
            if kind == READY:
                worker.ready.set()
                self._failures = 0
            elif kind == RECORDS:
                try:
                    self._on_records(unpack_records(payload))
                except Exception:  # one bad batch must not end the pipe
                    log.exception("unreadable request records from a worker")
            else:
                try:
                    self._on_report(kind, payload)
                except Exception:
                    log.exception("unreadable report (%d) from a worker", kind)
        worker.channel.close()

    def _watch(self, worker: _Worker) -> None:
        code = worker.process.wait()
        if worker.reader is not None:
            worker.reader.join()  # its last records are in
        worker.gone.set()
        if not self._started or self._stopping.is_set():
            return
        if worker not in self._workers:
            return  # replaced by a reload
        self._workers.remove(worker)
        if worker.replacing and not worker.ready.is_set():
            return  # a reload that failed: ``_reload`` keeps the old one
        if worker.ready.is_set():
            log.warning(
                "worker %d exited (status %d): replaced", worker.process.pid, code
            )
        else:
            self._failures += 1
            if self._failures >= MAX_FAILURES:
                log.error("%d workers in a row failed to start: stopping", MAX_FAILURES)
                self.exit_code = code if code > 0 else 1
                self._stopping.set()
                return
        self._spawn()

    def push_config(self, payload: bytes) -> None:
        """Send a new ``CONFIG`` to every worker (each applies it at once)."""
        data = frame(CONFIG, payload)
        for worker in list(self._workers):
            self._send(worker, data)

    @staticmethod
    def _send(worker: _Worker, data: bytes) -> None:
        # a worker that has just died: ``_watch`` replaces it, and its
        # successor gets the configuration as it is then
        with suppress(OSError):
            worker.channel.sendall(data)

    def _reload(self) -> None:
        """SIGHUP: a new worker for each old one, the old one stopped once the
        new one serves (its open requests finish)."""
        sd_notify("RELOADING=1")
        for old in list(self._workers):
            if self._stopping.is_set():
                return
            new = self._spawn(replacing=True)
            if not self._wait_ready(new):
                log.error("reload: a new worker failed to start; old workers kept")
                break
            if old in self._workers:
                self._workers.remove(old)
            self._terminate(old)
        sd_notify("READY=1")

    # --- stopping ---------------------------------------------------------

    def _stop_all(self) -> None:
        workers, self._workers = self._workers, []
        for worker in workers:  # all at once, then wait for each
            self._signal(worker, signal.SIGTERM)
        for worker in workers:
            self._await_exit(worker)

    def _terminate(self, worker: _Worker) -> None:
        """SIGTERM, then SIGKILL after ``STOP_TIMEOUT``; returns once it is gone."""
        self._signal(worker, signal.SIGTERM)
        self._await_exit(worker)

    def _await_exit(self, worker: _Worker) -> None:
        if not worker.gone.wait(STOP_TIMEOUT):
            log.warning("worker %d still busy: killed", worker.process.pid)
            self._signal(worker, signal.SIGKILL)
        worker.gone.wait()

    @staticmethod
    def _signal(worker: _Worker, number: int) -> None:
        # once only: a worker stopping has restored the default action, and a
        # second SIGTERM would end it before it hands over its last records
        if worker.process.poll() is None:
            with suppress(ProcessLookupError):
                worker.process.send_signal(number)


def listen(host: str, port: int, backlog: int) -> socket.socket:
    """A listening TCP socket for ``host:port`` (``port`` 0: any free port)."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def sd_notify(state: str) -> None:
    """Tell systemd (``Type=notify``) about ``state``; nothing outside systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    with (
        suppress(OSError),
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock,
    ):
        sock.sendto(state.encode(), address)


def worker_argv(*args: str) -> list[str]:
    """``ollama-webmgr ARGS`` with the interpreter running this process."""
    return [sys.executable, "-m", "ollama_webmgr", *args]
