"""The ``ollama-webmgr`` subcommands. Each imports its module lazily.

Everything the command line prints is French, Click's own words included
(``cli_french``); errors of the product are worded here (``french_error``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from ollama_webmgr import __version__, cli_french
from ollama_webmgr.settings import Settings

if TYPE_CHECKING:
    from ollama_webmgr.sim.faults import Faults

cli_french.install()
HOST_HELP = "Adresse d’écoute."


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    subcommand_metavar=cli_french.SUBCOMMAND_METAVAR,
)
@click.version_option(__version__, prog_name="ollama-webmgr")
def cli() -> None:
    """Gérer les modèles d’un serveur Ollama ou d’une flotte entière."""


def _bandwidth(ctx: click.Context, param: click.Parameter, value: str) -> float:
    from ollama_webmgr.sim.serve import parse_bandwidth

    try:
        return parse_bandwidth(value)
    except ValueError:
        raise click.BadParameter(
            f"débit invalide « {value} » (exemples : 500KB, 50MB, 1GB)"
        ) from None


def _models(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> list[str] | None:
    if value is None:
        return None
    from ollama_webmgr.sim.catalog import Registry
    from ollama_webmgr.sim.serve import check_models

    names = [name.strip() for name in value.split(",") if name.strip()]
    registry = Registry()
    try:
        return check_models(names, registry)
    except ValueError:
        unknown = [name for name in names if registry.lookup(name) is None]
        known = ", ".join(
            f"{family.model}:{variant.tag}"
            for family, variants in registry.models()
            for variant in variants
        )
        raise click.BadParameter(
            f"modèle inconnu de l’émulateur : {', '.join(unknown)} ;"
            f" modèles connus : {known}"
        ) from None


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
            raise ValueError("un objet JSON est attendu")
        return Faults.from_json(data)
    except ValueError as error:
        raise click.BadParameter(f"pannes invalides ({error})") from None


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help=HOST_HELP)
@click.option(
    "--port", default=11434, show_default=True, help="Port (0 : un port libre)."
)
@click.option(
    "--models",
    default=None,
    callback=_models,
    help="Modèles installés au départ, séparés par des virgules (par défaut : quelques"
    " petits modèles).",
)
@click.option(
    "--bandwidth",
    default="200MB",
    show_default=True,
    callback=_bandwidth,
    help="Débit simulé d’un téléchargement par seconde, p. ex. 50MB, 1GB.",
)
@click.option(
    "--state",
    "state_file",
    default=None,
    type=click.Path(dir_okay=False),
    help="Fichier JSON qui garde les modèles installés d’un lancement à l’autre"
    " (l’emporte sur --models).",
)
@click.option(
    "--faults",
    default=None,
    callback=_faults,
    help='Pannes simulées en JSON, p. ex. \'{"latency": 0.2, "fail_next": 3}\'.',
)
@click.option(
    "--library-port",
    default=None,
    type=click.IntRange(0, 65535),
    help="Servir aussi le faux ollama.com et son registre sur ce port (0 : un port"
    " libre).",
)
@click.option(
    "--ollama-version",
    default="0.33.0-rc2",
    show_default=True,
    help="Version annoncée par /api/version.",
)
@click.option(
    "--origins",
    envvar="OLLAMA_ORIGINS",
    default="",
    help="Origines CORS permises en plus de celles d’Ollama, séparées par des"
    " virgules (variable OLLAMA_ORIGINS, comme Ollama).",
)
@click.option(
    "--max-loaded-models",
    envvar="OLLAMA_MAX_LOADED_MODELS",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Modèles chargés à la fois avant d’en décharger un (0 : 3 par GPU, comme"
    " Ollama ; variable OLLAMA_MAX_LOADED_MODELS).",
)
@click.option(
    "--num-parallel",
    envvar="OLLAMA_NUM_PARALLEL",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="Requêtes servies à la fois par un modèle chargé (variable"
    " OLLAMA_NUM_PARALLEL).",
)
@click.option(
    "--max-queue",
    envvar="OLLAMA_MAX_QUEUE",
    default=512,
    show_default=True,
    type=click.IntRange(0),
    help="Requêtes en attente d’un chargement avant la réponse 503 « server busy »"
    " (variable OLLAMA_MAX_QUEUE).",
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
    max_loaded_models: int,
    num_parallel: int,
    max_queue: int,
) -> None:
    """Lancer un serveur Ollama émulé (réglages aussi sur /_sim/faults et /_sim/scheduler)."""
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
        limits={
            "max_loaded_models": max_loaded_models,
            "num_parallel": num_parallel,
            "max_queue": max_queue,
        },
    )


@cli.command()
@click.option(
    "--queue",
    default=None,
    help="File RQ à traiter (par défaut : ollama-<REDIS_PREFIX>, ollama-webmgr).",
)
@click.option("--burst", is_flag=True, help="S’arrêter une fois la file vide.")
def worker(queue: str | None, burst: bool) -> None:
    """Exécuter les tâches (téléchargements, mises à jour, éjections) depuis Redis."""
    settings = load_settings()
    if not settings.redis_url:
        raise click.UsageError(
            "REDIS_URL n’est pas défini : sans Redis, les tâches tournent dans le"
            " processus web et aucun worker n’est nécessaire."
        )
    from ollama_webmgr.jobs.rq_runner import run_worker

    run_worker(settings.redis_url, queue=queue or settings.job_queue, burst=burst)


def _workers_option(function: Callable[..., None]) -> Callable[..., None]:
    """``--workers`` and the hidden ``--worker-fds`` of ``serve`` and ``gateway``."""
    function = click.option(
        "--workers",
        default=None,
        type=click.IntRange(min=1),
        help="Processus workers sur les mêmes ports [par défaut : WEB_CONCURRENCY,"
        " sinon 1] ; plus d’un exige REDIS_URL.",
    )(function)
    return click.option("--worker-fds", default=None, hidden=True)(function)


def _workers(workers: int | None) -> int:
    if workers is not None:
        return workers
    from ollama_webmgr.errors import SettingsError
    from ollama_webmgr.runtime.deployment import workers_from_env

    try:
        return workers_from_env()
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help=HOST_HELP)
@click.option(
    "--port",
    default=None,
    type=int,
    help="Port (par défaut : GATEWAY_PORT, 11435).",
)
@_workers_option
def gateway(
    host: str, port: int | None, workers: int | None, worker_fds: str | None
) -> None:
    """Lancer seule la passerelle compatible Ollama devant les serveurs configurés.

    Un processus superviseur lance les workers et enregistre leurs requêtes.
    """
    from ollama_webmgr.errors import SettingsError, WebmgrError
    from ollama_webmgr.logging_setup import configure_logging
    from ollama_webmgr.runtime.supervise import run_gateway_worker, supervise_gateway

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
        raise click.ClickException(cli_french.french_error(exc)) from None


@cli.command()
@click.option(
    "--host", default=None, help="Adresse d’écoute [par défaut : WEBMGR_HOST]."
)
@click.option(
    "--port",
    default=None,
    type=int,
    help="Port, 0 pour un port libre [par défaut : WEBMGR_PORT].",
)
@click.option(
    "--gateway-port",
    default=None,
    type=int,
    help="Port de la passerelle, 0 pour un port libre [par défaut : GATEWAY_PORT].",
)
@click.option("--no-gateway", is_flag=True, help="Lancer l’application web seule.")
@_workers_option
def serve(
    host: str | None,
    port: int | None,
    gateway_port: int | None,
    no_gateway: bool,
    workers: int | None,
    worker_fds: str | None,
) -> None:
    """Lancer l’application web et la passerelle (gevent)."""
    from ollama_webmgr.logging_setup import configure_logging
    from ollama_webmgr.runtime.launch import run_serve

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
@click.option("--host", default="127.0.0.1", show_default=True, help=HOST_HELP)
@click.option(
    "--port",
    default=8000,
    show_default=True,
    help="Port de l’application web (0 : un port libre).",
)
@click.option(
    "--gateway-port",
    default=11435,
    show_default=True,
    help="Port de la passerelle (0 : un port libre).",
)
@click.option(
    "--base-port",
    default=11501,
    show_default=True,
    help="Port du premier nœud émulé (puis +1, +2 ; le faux ollama.com sur +9 ;"
    " 0 : des ports libres).",
)
@click.option(
    "--data-dir",
    default="data/demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Dossier de la démo : sa base et les modèles de ses nœuds.",
)
def demo(
    host: str, port: int, gateway_port: int, base_port: int, data_dir: str
) -> None:
    """Trois nœuds Ollama émulés, l’application et la passerelle (hors ligne)."""
    from ollama_webmgr.logging_setup import configure_logging
    from ollama_webmgr.runtime.demo import run_demo

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


@cli.group(subcommand_metavar=cli_french.SUBCOMMAND_METAVAR)
def db() -> None:
    """Examiner ou migrer la base de données (DATABASE_URL)."""


@db.command("migrate")
@click.option(
    "--from",
    "src",
    required=True,
    help="Base source, qui doit exister (p. ex. tinydb:///x.json).",
)
@click.option("--to", "dst", required=True, help="Base cible (p. ex. sqlite:///x.db).")
def db_migrate(src: str, dst: str) -> None:
    """Copier toutes les tables d’une base vers une autre, puis vérifier les comptes."""
    from ollama_webmgr.errors import StoreError
    from ollama_webmgr.store.migrate import migrate

    try:
        counts = migrate(src, dst)
    except StoreError as exc:
        raise click.ClickException(cli_french.french_error(exc)) from None
    click.echo(f"{'table':<22} {'source':>10}    {'cible':>10}")
    for table, (before, after) in counts.items():
        click.echo(f"{table:<22} {before:>10} -> {after:>10}")
    click.echo("ok : chaque table a autant de lignes dans la cible que dans la source.")


@db.command("info")
@click.option(
    "--url", default=None, help="Adresse de la base (par défaut : DATABASE_URL)."
)
def db_info(url: str | None) -> None:
    """Afficher le moteur, la taille, les lignes par table et le plus ancien échantillon."""
    from ollama_webmgr.errors import StoreError
    from ollama_webmgr.store.info import describe

    try:
        click.echo(describe(url or load_settings().store_url))
    except StoreError as exc:
        raise click.ClickException(cli_french.french_error(exc)) from None


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help=HOST_HELP)
@click.option(
    "--port", default=50051, show_default=True, help="Port (0 : un port libre)."
)
@click.option(
    "--ollama-models-dir",
    "models_dir",
    envvar="OLLAMA_MODELS",
    default="~/.ollama/models",
    show_default=True,
    help="Dossier des modèles d’Ollama, dont le disque est suivi (variable"
    " OLLAMA_MODELS).",
)
@click.option(
    "--token",
    default=None,
    help="Jeton que les appelants doivent présenter (par défaut : AGENT_TOKEN ;"
    " aucun : ouvert).",
)
@click.option(
    "--serve-models",
    "serve_models",
    type=click.IntRange(0, 65535),
    envvar="AGENT_SERVE_MODELS",
    default=None,
    help="Servir aussi les modèles du nœud, en lecture seule, sur ce port de"
    " --host (protocole du registre, sans jeton) : les autres nœuds les"
    " téléchargent sur le réseau local (variable AGENT_SERVE_MODELS ; par"
    " défaut : non).",
)
def agent(
    host: str, port: int, models_dir: str, token: str | None, serve_models: int | None
) -> None:
    """Lancer l’agent du nœud : GetSystemInfo en gRPC (processeur, mémoire, disques, GPU)."""
    import os

    try:
        from ollama_webmgr.agent.server import run_agent
    except ImportError as exc:
        raise click.ClickException(
            "l’agent a besoin du supplément « agent »"
            f" (pip install 'ollama-webmgr[agent]') : {exc}"
        ) from None
    from ollama_webmgr.errors import AgentUnavailable

    try:
        run_agent(
            host,
            port,
            models_dir=os.path.expanduser(models_dir),
            token=token or load_settings().agent_token,
            serve_models=serve_models,
        )
    except AgentUnavailable as exc:
        raise click.ClickException(cli_french.french_error(exc)) from None
