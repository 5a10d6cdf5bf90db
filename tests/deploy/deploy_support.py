"""Run the shipped deployment on loopback: the processes of the systemd units
(their very ``ExecStart``), and nginx with deploy/nginx.

Shared by tests/deploy and benchmarks/bench_nginx.py (unique module name).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from process_env import clean_env

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
NGINX_SITE = DEPLOY / "nginx" / "ollama-webmgr.conf"
VENV = Path(sys.executable).parent.parent
SHIPPED_VENV = "/opt/ollama-webmgr/venv"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], log: Path, limit: float = 30
) -> None:
    deadline = time.monotonic() + limit
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise AssertionError(log.read_text(errors="replace")) from None
            time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the shipped processes ------------------------------------------------------


def unit_command(unit: str) -> list[str]:
    """The ``ExecStart`` of ``deploy/systemd/<unit>.service``, as written."""
    for line in (UNITS / f"{unit}.service").read_text(encoding="utf-8").splitlines():
        if line.startswith("ExecStart="):
            return shlex.split(line.removeprefix("ExecStart="))
    raise AssertionError(f"{unit}.service has no ExecStart")


def shipped_command(unit: str, port: int | None = None) -> list[str]:
    """The unit's command on this venv, listening on ``port`` instead."""
    command = unit_command(unit)
    assert command[0].startswith(SHIPPED_VENV + "/"), command[0]
    command[0] = str(VENV) + command[0].removeprefix(SHIPPED_VENV)
    if port is not None:
        command[command.index("--port") + 1] = str(port)
    return command


def shipped_env(tmp_path: Path, **values: str) -> dict[str, str]:
    """What the environment file gives the services, for a test (one worker
    unless ``WEB_CONCURRENCY`` is given, with ``REDIS_URL``)."""
    return clean_env() | {
        "HOME": str(tmp_path),
        "SECRET_KEY": "deploy-test",
        "WEBMGR_DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "WARNING",
        "WEB_CONCURRENCY": "1",
        **values,
    }


@contextmanager
def running_unit(tmp_path: Path, unit: str, env: dict[str, str]) -> Iterator[str]:
    """The process of ``unit`` on a free loopback port; yields its URL once
    it answers HTTP. Its output goes to ``<unit>-<port>.log`` in ``tmp_path``."""
    port = free_port()
    log = tmp_path / f"{unit}-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            shipped_command(unit, port),
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, process, log)
        httpx.get(url + "/", timeout=30)  # the workers serve
        yield url
    finally:
        stop(process)


@contextmanager
def running_rq_worker(tmp_path: Path, env: dict[str, str]) -> Iterator[None]:
    """The process of ``ollama-webmgr-worker@.service`` (it needs ``REDIS_URL``)."""
    with (tmp_path / "rq-worker.log").open("wb") as output:
        process = subprocess.Popen(
            shipped_command("ollama-webmgr-worker@"),
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its work horses go with it
        )
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


# --- nginx --------------------------------------------------------------------


@dataclass(frozen=True)
class NginxPorts:
    http: int
    https: int
    gateway: int

    @classmethod
    def free(cls) -> NginxPorts:
        return cls(free_port(), free_port(), free_port())


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and localhost) made by openssl."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    request = "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1"
    san = "subjectAltName=IP:127.0.0.1,DNS:localhost"
    subprocess.run(
        [
            "openssl",
            *request.split(),
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-addext",
            san,
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def render_site(
    directory: Path,
    ports: NginxPorts,
    *,
    web: str,
    gateway: str,
    cert: Path,
    key: Path,
) -> str:
    """The shipped site with only addresses, ports and paths changed.

    ``web`` and ``gateway`` are the upstream ``host:port``. Every replaced text
    must be in the file, so the shipped config cannot drift from this test.
    """
    text = NGINX_SITE.read_text(encoding="utf-8")
    replacements = [
        ("server 127.0.0.1:8000;", f"server {web};"),
        ("server 127.0.0.1:11435;", f"server {gateway};"),
        ("listen 80;", f"listen 127.0.0.1:{ports.http};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{ports.https} ssl http2;"),
        ("listen 11443 ssl http2;", f"listen 127.0.0.1:{ports.gateway} ssl http2;"),
        ("listen [::]:80;", ""),
        ("listen [::]:443 ssl http2;", ""),
        ("listen [::]:11443 ssl http2;", ""),
        ("/etc/letsencrypt/live/webmgr.example.org/fullchain.pem", str(cert)),
        ("/etc/letsencrypt/live/webmgr.example.org/privkey.pem", str(key)),
        ("/var/log/nginx/", f"{directory}/logs/"),
        ("root /var/www/html;", f"root {directory}/acme;"),
    ]
    for old, new in replacements:
        assert old in text, f"{old!r} is no longer in {NGINX_SITE}"
        text = text.replace(old, new)
    return text


def write_nginx_config(directory: Path, site: str) -> Path:
    """A main nginx.conf in ``directory`` that includes ``site`` inside ``http``
    (like Debian's), with pid, logs and temporary files kept there too."""
    for sub in ("logs", "temp", "acme"):
        (directory / sub).mkdir(exist_ok=True)
    (directory / "site.conf").write_text(site, encoding="utf-8")
    # as root, nginx's workers would run as nobody, who cannot enter tmp_path
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = directory / "temp"
    main = (
        f"{user}worker_processes 1;\npid {directory}/nginx.pid;\n"
        f"error_log {directory}/logs/error.log;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        "    include /etc/nginx/mime.types;\n"
        "    default_type application/octet-stream;\n"
        f"    access_log {directory}/logs/access.log;\n"
        f"    client_body_temp_path {temp}/client;\n"
        f"    proxy_temp_path {temp}/proxy;\n"
        f"    fastcgi_temp_path {temp}/fastcgi;\n"
        f"    uwsgi_temp_path {temp}/uwsgi;\n"
        f"    scgi_temp_path {temp}/scgi;\n"
        f"    include {directory}/site.conf;\n"
        "}\n"
    )
    path = directory / "nginx.conf"
    path.write_text(main, encoding="utf-8")
    return path


def nginx_command(directory: Path, config: Path, *options: str) -> list[str]:
    return [
        nginx_binary(),
        "-p",
        str(directory),
        "-e",
        str(directory / "logs" / "error.log"),
        "-c",
        str(config),
        *options,
    ]


@contextmanager
def running_nginx(directory: Path, config: Path, port: int) -> Iterator[None]:
    """nginx in the foreground until the block ends (fast shutdown)."""
    log = directory / "logs" / "error.log"
    process = subprocess.Popen(
        nginx_command(directory, config, "-g", "daemon off;"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process, log)
        yield
    finally:
        stop(process)


# --- timed reading of streams ---------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    """One SSE event (``event``/``id``/``data``) or NDJSON line, and when it came."""

    at: float
    event: str
    id: str | None
    data: str


def timed_sse(response: httpx.Response) -> Iterator[Arrival]:
    """Events of an SSE response as they arrive (comments skipped)."""
    pending = ""
    for chunk in response.iter_text():
        now = time.monotonic()
        pending += chunk
        while "\n\n" in pending:
            block, pending = pending.split("\n\n", 1)
            fields: dict[str, str] = {}
            for line in block.split("\n"):
                name, _, value = line.partition(":")
                if name:
                    fields[name] = fields.get(name, "") + value.removeprefix(" ")
            if "data" in fields:
                yield Arrival(
                    now,
                    fields.get("event", "message"),
                    fields.get("id"),
                    fields["data"],
                )


def timed_lines(response: httpx.Response) -> Iterator[Arrival]:
    """Lines of an NDJSON response as they arrive."""
    for line in response.iter_lines():
        if line:
            yield Arrival(time.monotonic(), "line", None, line)
