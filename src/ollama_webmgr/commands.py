"""The ``ollama-webmgr`` subcommands. Each imports its module lazily."""

from __future__ import annotations

import click

from ollama_webmgr import __version__
from ollama_webmgr.settings import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ollama-webmgr")
def cli() -> None:
    """Manage the models of one Ollama server or a whole fleet."""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address.")
@click.option("--port", default=11434, show_default=True, help="Port (0: any free).")
@click.option(
    "--models",
    default=None,
    help="Comma-separated models installed at start (default: a small set).",
)
@click.option(
    "--bandwidth",
    default="200MB",
    show_default=True,
    help="Simulated download speed per pull, e.g. 50MB, 1GB (per second).",
)
@click.option(
    "--state",
    "state_file",
    default=None,
    type=click.Path(dir_okay=False),
    help="JSON file that keeps the installed models across restarts.",
)
@click.option(
    "--library-port",
    default=None,
    type=int,
    help="Also serve the fake ollama.com and registry on this port.",
)
def sim(
    host: str,
    port: int,
    models: str | None,
    bandwidth: str,
    state_file: str | None,
    library_port: int | None,
) -> None:
    """Run an emulated Ollama server (and optionally a fake ollama.com)."""
    from ollama_webmgr.sim.serve import run_sim

    run_sim(
        host=host,
        port=port,
        models=models,
        bandwidth=bandwidth,
        state_file=state_file,
        library_port=library_port,
    )


@cli.command()
@click.option("--host", default=None, help="Bind address [default: WEBMGR_HOST].")
@click.option(
    "--port", default=None, type=int, help="Port, 0 for any [default: WEBMGR_PORT]."
)
def serve(host: str | None, port: int | None) -> None:
    """Run the web application under gevent."""
    from ollama_webmgr.errors import AssetsNotBuilt
    from ollama_webmgr.logging_setup import configure_logging
    from ollama_webmgr.serving import display_url, exposure_warning, make_server
    from ollama_webmgr.web.app import create_app

    settings = load_settings()
    host = settings.host if host is None else host
    port = settings.port if port is None else port
    configure_logging(settings.log_level)
    try:
        app = create_app(settings)
    except AssetsNotBuilt as exc:
        raise click.ClickException(exc.message) from None
    warning = exposure_warning(host, settings.admin_password)
    if warning:
        click.secho(warning, fg="red", bold=True, err=True)
    server = make_server(app, host, port)
    server.start()
    click.echo(f"ollama-webmgr: {display_url(host, server.server_port)}")
    server.serve_forever()


def load_settings() -> Settings:
    return Settings.from_env()
