"""``gateway`` and ``serve`` as a supervisor and its workers (``prefork``).

``ollama-webmgr gateway`` always runs this way, even with one worker: its
request records are stored by the supervisor, out of the serving process
(``runtime/record_writer.py``); except on a TinyDB store, which only one
process may open. ``ollama-webmgr serve`` does from two workers on;
with one it stays a single process (the default, and ``make demo``).

A worker is the same command with the hidden ``--worker-fds CHANNEL,LISTEN...``:
the descriptors of its pipe to the supervisor and of the listening sockets it
inherits, in the order of the command's ports.
"""

from __future__ import annotations

import errno
import socket
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import click

from ollama_webmgr.errors import SettingsError
from ollama_webmgr.runtime.deployment import concurrency_problem
from ollama_webmgr.runtime.prefork import Supervisor, WorkerCommand, listen, worker_argv
from ollama_webmgr.runtime.worker_link import SupervisorLink
from ollama_webmgr.settings import Settings

if TYPE_CHECKING:
    from ollama_webmgr.runtime.gateway_upkeep import GatewayUpkeep
    from ollama_webmgr.store.database import DatabaseManager

BACKLOG = 2048  # as ``serving.BACKLOG``: a burst of clients is queued, not refused


def check_workers(workers: int, settings: Settings) -> None:
    """Several workers share jobs, progress and limits through Redis only, and
    a store that several processes can open."""
    from ollama_webmgr.store.database import opens_once

    problem = concurrency_problem(workers, settings.redis_url)
    if problem:
        raise SettingsError(problem)
    if workers > 1 and opens_once(settings.store_url):
        raise SettingsError(
            "DATABASE_URL : une base TinyDB ne s’ouvre que dans un processus ;"
            " utilisez SQLite ou PostgreSQL avec plus d’un worker"
        )


def bind(host: str, ports: Sequence[int]) -> list[socket.socket]:
    """Listening sockets for ``ports`` on ``host``; a clear error if one is taken."""
    sockets: list[socket.socket] = []
    for port in ports:
        try:
            sockets.append(listen(host, port, BACKLOG))
        except OSError as exc:
            for sock in sockets:
                sock.close()
            raise cannot_listen(host, port, exc) from None
    return sockets


def cannot_listen(host: str, port: int, exc: OSError) -> click.ClickException:
    """The one line a command ends with when a port cannot be bound."""
    reason = "port déjà utilisé" if exc.errno == errno.EADDRINUSE else exc
    return click.ClickException(f"impossible d’écouter sur {host}:{port} : {reason}")


def supervise(
    settings: Settings,
    sockets: Sequence[socket.socket],
    workers: int,
    command: WorkerCommand,
    announce: Callable[[], None],
    *,
    gateway_workers: bool = False,
) -> None:
    """Run the workers until SIGTERM/SIGINT, storing their request records;
    exit with a failed worker's status. ``gateway_workers``: they open no
    store, this process gives them their configuration
    (``runtime/gateway_upkeep.py``)."""
    from ollama_webmgr.runtime.record_writer import RecordWriter
    from ollama_webmgr.store.database import open_database

    try:
        db = open_database(settings.store_url)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    try:
        upkeep = _gateway_upkeep(settings, db) if gateway_workers else None
        writer = RecordWriter(settings, db)
        writer.start()
        supervisor = Supervisor(
            sockets,
            workers,
            command,
            writer.add,
            greeting=upkeep.payload if upkeep else lambda: None,
            on_report=upkeep.report if upkeep else lambda _kind, _payload: None,
        )
        if upkeep is not None:
            upkeep.start(supervisor.push_config)
        try:
            code = supervisor.run(announce)
        finally:
            if upkeep is not None:
                upkeep.stop()
            writer.close()
    finally:
        db.close()
        for sock in sockets:
            sock.close()
    if code:
        sys.exit(code)


def _gateway_upkeep(settings: Settings, db: DatabaseManager) -> GatewayUpkeep:
    from ollama_webmgr.runtime.gateway_upkeep import GatewayUpkeep

    return GatewayUpkeep(settings, db)


def worker_fds_argument(channel: int, sockets: Sequence[socket.socket]) -> str:
    return ",".join(str(fd) for fd in (channel, *(s.fileno() for s in sockets)))


def parse_worker_fds(text: str) -> tuple[SupervisorLink, list[socket.socket]]:
    """The pipe and the listening sockets a worker inherited.

    >>> parse_worker_fds("x")
    Traceback (most recent call last):
    ...
    click.exceptions.BadParameter: --worker-fds: expected CHANNEL,LISTEN... descriptors
    """
    try:
        channel, *listening = (int(part) for part in text.split(","))
    except ValueError:
        channel, listening = -1, []
    if channel < 0 or not listening:
        raise click.BadParameter("--worker-fds: expected CHANNEL,LISTEN... descriptors")
    return SupervisorLink(channel), [socket.socket(fileno=fd) for fd in listening]


def supervise_gateway(settings: Settings, host: str, port: int, workers: int) -> None:
    """``ollama-webmgr gateway``: the supervisor of ``workers`` gateway workers."""
    from ollama_webmgr.runtime.serving import display_url
    from ollama_webmgr.store.database import opens_once

    check_workers(workers, settings)
    if opens_once(settings.store_url):
        # the supervisor could not open the store next to its worker: one
        # process, which stores its records itself
        from ollama_webmgr.runtime.gateway import run_gateway

        run_gateway(settings, host, port)
        return
    sockets = bind(host, [port])
    bound = sockets[0].getsockname()[1]

    def command(channel: int) -> list[str]:
        fds = worker_fds_argument(channel, sockets)
        return worker_argv(
            "gateway", "--host", host, "--port", str(bound), "--worker-fds", fds
        )

    def announce() -> None:
        url = display_url(host, bound).rstrip("/")
        print(f"ollama-webmgr gateway on {url}", flush=True)

    supervise(settings, sockets, workers, command, announce, gateway_workers=True)


def run_gateway_worker(settings: Settings, host: str, port: int, fds: str) -> None:
    """One gateway worker: serve the inherited socket with the configuration
    the supervisor sends, records to the supervisor."""
    from ollama_webmgr.runtime.gateway import run_gateway_worker as run_worker

    link, listeners = parse_worker_fds(fds)
    run_worker(settings, host, port, link, listeners[0])
