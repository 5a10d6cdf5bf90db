"""The ``ollama-webmgr`` subcommands. Each imports its module lazily."""

from __future__ import annotations

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
    "--ollama-version",
    default="0.33.0-rc2",
    show_default=True,
    help="Version reported by /api/version.",
)
def sim(
    host: str,
    port: int,
    models: list[str] | None,
    bandwidth: float,
    state_file: str | None,
    faults: Faults | None,
    ollama_version: str,
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
    )


def load_settings() -> Settings:
    return Settings.from_env()
