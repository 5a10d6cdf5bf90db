"""The ``ollama-webmgr`` subcommands. Each imports its module lazily."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from ollama_webmgr import __version__
from ollama_webmgr.settings import Settings

if TYPE_CHECKING:
    from ollama_webmgr.sim.faults import Faults


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ollama-webmgr")
def cli() -> None:
    """Manage the models of one Ollama server or a whole fleet."""


def _bandwidth(ctx: click.Context, param: click.Parameter, value: str) -> float:
    from ollama_webmgr.sim.serve import parse_bandwidth

    try:
        return parse_bandwidth(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def _models(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> list[str] | None:
    if value is None:
        return None
    from ollama_webmgr.sim.catalog import Registry
    from ollama_webmgr.sim.serve import check_models

    names = [name.strip() for name in value.split(",") if name.strip()]
    try:
        return check_models(names, Registry())
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def _faults(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> Faults | None:
    if value is None:
        return None
    import json

    from ollama_webmgr.sim.faults import Faults

    try:
        data = json.loads(value)
        if not isinstance(data, dict):
            raise ValueError("a JSON object is expected")
        return Faults.from_json(data)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address.")
@click.option("--port", default=11434, show_default=True, help="Port (0: any free).")
@click.option(
    "--models",
    default=None,
    callback=_models,
    help="Comma-separated models installed at start (default: a small set).",
)
@click.option(
    "--bandwidth",
    default="200MB",
    show_default=True,
    callback=_bandwidth,
    help="Simulated download speed per pull, e.g. 50MB, 1GB (per second).",
)
@click.option(
    "--state",
    "state_file",
    default=None,
    type=click.Path(dir_okay=False),
    help="JSON file that keeps the installed models across restarts (wins over --models).",
)
@click.option(
    "--faults",
    default=None,
    callback=_faults,
    help='Fault knobs as JSON, e.g. \'{"latency": 0.2, "fail_next": 3}\'.',
)
@click.option(
    "--library-port",
    default=None,
    type=click.IntRange(0, 65535),
    help="Also serve the fake ollama.com and registry on this port (0: any free).",
)
@click.option(
    "--ollama-version",
    default="0.33.0-rc2",
    show_default=True,
    help="Version reported by /api/version.",
)
@click.option(
    "--origins",
    envvar="OLLAMA_ORIGINS",
    default="",
    help="CORS origins allowed besides Ollama's built-ins, comma-separated"
    " (env OLLAMA_ORIGINS, as Ollama).",
)
def sim(
    host: str,
    port: int,
    models: list[str] | None,
    bandwidth: float,
    state_file: str | None,
    faults: Faults | None,
    ollama_version: str,
    library_port: int | None,
    origins: str,
) -> None:
    """Run an emulated Ollama server (fault knobs also at /_sim/faults)."""
    from ollama_webmgr.sim.serve import run_sim

    run_sim(
        host=host,
        port=port,
        models=models,
        bandwidth=bandwidth,
        state_file=state_file,
        faults=faults,
        version=ollama_version,
        library_port=library_port,
        origins=tuple(o.strip() for o in origins.split(",") if o.strip()),
    )


@cli.command()
@click.option(
    "--queue",
    default=None,
    help="RQ queue to work on (default: ollama-<REDIS_PREFIX>, ollama-webmgr).",
)
@click.option("--burst", is_flag=True, help="Stop once the queue is empty.")
def worker(queue: str | None, burst: bool) -> None:
    """Run jobs (pulls, update checks, forced ejects) from Redis (needs REDIS_URL)."""
    settings = load_settings()
    if not settings.redis_url:
        raise click.UsageError(
            "REDIS_URL is not set: without Redis, jobs run inside the web process"
            " and no worker is needed."
        )
    from ollama_webmgr.jobs.rq_runner import run_worker

    run_worker(settings.redis_url, queue=queue or settings.job_queue, burst=burst)


def _workers_option(function: Callable[..., None]) -> Callable[..., None]:
    """``--workers`` and the hidden ``--worker-fds`` of ``serve`` and ``gateway``."""
    function = click.option(
        "--workers",
        default=None,
        type=click.IntRange(min=1),
        help="Worker processes on the same ports [default: WEB_CONCURRENCY, else"
        " 1]; more than 1 needs REDIS_URL.",
    )(function)
    return click.option("--worker-fds", default=None, hidden=True)(function)


def _workers(workers: int | None) -> int:
    if workers is not None:
        return workers
    from ollama_webmgr.deployment import workers_from_env
    from ollama_webmgr.errors import SettingsError

    try:
        return workers_from_env()
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address.")
@click.option(
    "--port",
    default=None,
    type=int,
    help="Port (default: GATEWAY_PORT, 11435).",
)
@_workers_option
def gateway(
    host: str, port: int | None, workers: int | None, worker_fds: str | None
) -> None:
    """Run the Ollama-compatible gateway alone over the configured servers.

    A supervisor process runs the workers and stores their request records.
    """
    from ollama_webmgr.errors import SettingsError, WebmgrError
    from ollama_webmgr.logging_setup import configure_logging
    from ollama_webmgr.supervise import run_gateway_worker, supervise_gateway

    settings = load_settings()
    configure_logging(settings.log_level)
    port = settings.gateway_port if port is None else port
    try:
        if worker_fds:
            run_gateway_worker(settings, host, port, worker_fds)
        else:
            supervise_gateway(settings, host, port, _workers(workers))
    except SettingsError:
        raise  # one line and status 2 (``cli.main``)
    except WebmgrError as exc:  # e.g. a store that cannot be opened
        raise click.ClickException(exc.message) from None


@cli.command()
@click.option("--host", default=None, help="Bind address [default: WEBMGR_HOST].")
@click.option(
    "--port", default=None, type=int, help="Port, 0 for any [default: WEBMGR_PORT]."
)
@click.option(
    "--gateway-port",
    default=None,
    type=int,
    help="Gateway port, 0 for any [default: GATEWAY_PORT].",
)
@click.option("--no-gateway", is_flag=True, help="Run the web application alone.")
@_workers_option
def serve(
    host: str | None,
    port: int | None,
    gateway_port: int | None,
    no_gateway: bool,
    workers: int | None,
    worker_fds: str | None,
) -> None:
    """Run the web application and the gateway under gevent."""
    from ollama_webmgr.launch import run_serve
    from ollama_webmgr.logging_setup import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level)
    run_serve(
        settings,
        host=settings.host if host is None else host,
        port=settings.port if port is None else port,
        gateway_port=None
        if no_gateway
        else (settings.gateway_port if gateway_port is None else gateway_port),
        workers=_workers(workers),
        worker_fds=worker_fds,
    )


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address.")
@click.option("--port", default=8000, show_default=True, help="Web app port (0: any).")
@click.option(
    "--gateway-port", default=11435, show_default=True, help="Gateway port (0: any)."
)
@click.option(
    "--base-port",
    default=11501,
    show_default=True,
    help="First emulated node port (then +1, +2; the fake ollama.com on +9; 0: any).",
)
@click.option(
    "--data-dir",
    default="data/demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the demo keeps its store.",
)
def demo(
    host: str, port: int, gateway_port: int, base_port: int, data_dir: str
) -> None:
    """Three emulated Ollama nodes, the application and the gateway (offline)."""
    from ollama_webmgr.demo import run_demo
    from ollama_webmgr.logging_setup import configure_logging

    configure_logging("WARNING")
    run_demo(
        host=host,
        port=port,
        gateway_port=gateway_port,
        base_port=base_port,
        data_dir=data_dir,
    )


def load_settings() -> Settings:
    return Settings.from_env()


@cli.group()
def db() -> None:
    """Inspect or migrate the persistence store (DATABASE_URL)."""


@db.command("migrate")
@click.option(
    "--from", "src", required=True, help="Source URL (e.g. tinydb:///x.json)."
)
@click.option("--to", "dst", required=True, help="Target URL (e.g. sqlite:///x.db).")
def db_migrate(src: str, dst: str) -> None:
    """Copy every table from one store to another and verify the counts."""
    from ollama_webmgr.errors import StoreError
    from ollama_webmgr.store.migrate import migrate

    try:
        counts = migrate(src, dst)
    except StoreError as exc:
        raise click.ClickException(exc.message) from None
    for table, (before, after) in counts.items():
        click.echo(f"{table:<22} {before:>10} -> {after:>10}")
    click.echo("ok: every count matches")


@db.command("info")
@click.option("--url", default=None, help="Store URL (default: DATABASE_URL).")
def db_info(url: str | None) -> None:
    """Show the backend, its size, the rows per table and the oldest sample."""
    from ollama_webmgr.errors import StoreError
    from ollama_webmgr.store.info import describe

    try:
        click.echo(describe(url or load_settings().store_url))
    except StoreError as exc:
        raise click.ClickException(exc.message) from None


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address.")
@click.option("--port", default=50051, show_default=True, help="Port (0: any free).")
@click.option(
    "--ollama-models-dir",
    "models_dir",
    envvar="OLLAMA_MODELS",
    default="~/.ollama/models",
    show_default=True,
    help="Ollama's models folder, whose disk is reported (env: OLLAMA_MODELS).",
)
@click.option(
    "--token",
    default=None,
    help="Shared token callers must send (default: AGENT_TOKEN; none: open).",
)
def agent(host: str, port: int, models_dir: str, token: str | None) -> None:
    """Run the node agent: gRPC GetSystemInfo (CPU, RAM, disks, GPUs) + health."""
    import os

    try:
        from ollama_webmgr.agent.server import run_agent
    except ImportError as exc:
        raise click.ClickException(
            f"the agent needs the 'agent' extra (pip install 'ollama-webmgr[agent]'): {exc}"
        ) from None
    from ollama_webmgr.errors import AgentUnavailable

    try:
        run_agent(
            host,
            port,
            models_dir=os.path.expanduser(models_dir),
            token=token or load_settings().agent_token,
        )
    except AgentUnavailable as exc:
        raise click.ClickException(exc.message) from None
