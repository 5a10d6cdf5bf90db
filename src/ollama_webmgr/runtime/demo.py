"""``ollama-webmgr demo``: everything on one machine, offline.

Three emulated Ollama nodes with different models (ports 11501-11503) and the
fake ollama.com + registry (11510) where one model has a newer revision, so the
« mise à jour disponible » badge shows; then ``serve`` (web 8000, gateway 11435)
over them with a store in ``./data/demo``. A busy emulator port falls back to
any free one; the web and gateway ports are the user's choice.

The nodes are named ``noeud-1`` … ``noeud-3`` in the application as in the
banner (a name given on the Serveurs page is kept), and each keeps its models
in ``<data-dir>/nodes/noeud-N.json``: what was pulled, copied or deleted during
a demo is still so at the next start, as the job history says; its model
files are in ``<data-dir>/nodes/noeud-N/models`` in Ollama's layout. Model sizes
are the library's divided by 1,000 (real bytes, see ``sim/catalog.py``).
"""

from __future__ import annotations

import socket
from pathlib import Path

import click

from ollama_webmgr.ollama.urls import display_address
from ollama_webmgr.runtime.launch import Bound, run_serve
from ollama_webmgr.runtime.services import Services
from ollama_webmgr.settings import Settings
from ollama_webmgr.sim.catalog import DEFAULT_SCALE
from ollama_webmgr.sim.fleet import EmulatedFleet, start_fleet
from ollama_webmgr.usecases.fleet import Fleet

NODE_MODELS = (
    ("llama3.2:latest", "qwen2.5:0.5b", "nomic-embed-text:latest"),
    ("llama3.2:latest", "gemma3:1b", "smollm2:135m"),
    ("deepseek-r1:1.5b", "phi3:mini", "all-minilm:latest"),
)
UPDATED_MODEL = "llama3.2:latest"
LIBRARY_OFFSET = 9  # 11501 -> 11510
#: bytes/s: a pull lasts long enough to watch its progress (the catalogue is
#: scaled, see sim/catalog.py: llama3.2's "2 GB" are 2 MB, pulled in ~25 s)
DEMO_BANDWIDTH = 80e6 * DEFAULT_SCALE


def _is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def node_name(index: int) -> str:
    """The demo's name of its node ``index`` (0-based), as servers are named.

    >>> node_name(0)
    'noeud-1'
    """
    return f"noeud-{index + 1}"


def start_demo_fleet(
    host: str, base_port: int, data_dir: str | None = None
) -> EmulatedFleet:
    """The nodes on fixed ports when all are free, else on any free ports; with
    ``data_dir``, each keeps its models in ``nodes/noeud-N.json`` there.

    (werkzeug exits the process on a busy port, so they are checked first.)
    """
    ports = [base_port + i for i in range(len(NODE_MODELS))]
    library_port = base_port + LIBRARY_OFFSET
    if not base_port or not all(_is_free(host, p) for p in [*ports, library_port]):
        ports, library_port = [], 0
    state_files = []
    if data_dir is not None:
        nodes = Path(data_dir) / "nodes"
        nodes.mkdir(parents=True, exist_ok=True)
        state_files = [nodes / f"{node_name(i)}.json" for i in range(len(NODE_MODELS))]
    fleet = start_fleet(
        NODE_MODELS,
        host=host,
        ports=ports,
        library_port=library_port,
        bandwidth=DEMO_BANDWIDTH,
        state_files=state_files,
    )
    fleet.registry.publish_update(UPDATED_MODEL)
    return fleet


def demo_settings(fleet: EmulatedFleet, data_dir: str) -> Settings:
    primary, *others = fleet.urls
    return Settings(
        ollama_base_url=primary,
        ollama_servers=tuple(others),
        library_url=fleet.library_url,
        registry_url=fleet.library_url,
        data_dir=str(Path(data_dir).resolve()),
        log_level="WARNING",
    )


def name_nodes(services: Services, fleet: EmulatedFleet) -> list[str]:
    """Give each node its demo name unless the person renamed it; the names."""
    by_url = {s.url: s for s in services.servers.all()}
    manager = Fleet(services.servers, services.db, services.settings.servers)
    names = []
    for index, url in enumerate(fleet.urls):
        server = by_url[url]
        if server.name == display_address(server.url):  # never renamed
            server = manager.update(server.name, new_name=node_name(index))
        names.append(server.name)
    return names


def banner(bound: Bound, fleet: EmulatedFleet, names: list[str]) -> str:
    """What the demo prints once everything answers (French: users read it)."""
    lines = [
        "",
        "Démo ollama-webmgr prête (Ctrl+C pour arrêter).",
        f"  Application : {bound.web_url}",
    ]
    if bound.gateway_url:
        lines.append(f"  Passerelle compatible Ollama : {bound.gateway_url}")
    lines.append("  Nœuds émulés (modèles gardés d’une démo à l’autre) :")
    for name, node, models in zip(names, fleet.nodes, NODE_MODELS, strict=True):
        lines.append(f"    {name} : {node.url}  (au départ : {', '.join(models)})")
    lines.append(f"  Faux ollama.com et registre : {fleet.library_url}")
    lines.append(f"  Mise à jour disponible publiée pour : {UPDATED_MODEL}")
    if bound.gateway_url:
        lines += [
            "",
            "Pour utiliser la passerelle avec un client Ollama :",
            f"  OLLAMA_HOST={bound.gateway_url} ollama list",
        ]
    return "\n".join(lines)


def run_demo(
    *, host: str, port: int, gateway_port: int, base_port: int, data_dir: str
) -> None:
    fleet = start_demo_fleet(host, base_port, data_dir)
    names: list[str] = []
    try:
        run_serve(
            demo_settings(fleet, data_dir),
            host=host,
            port=port,
            gateway_port=gateway_port,
            prepare=lambda services: names.extend(name_nodes(services, fleet)),
            announce=lambda bound: click.echo(banner(bound, fleet, names)),
        )
    finally:
        fleet.stop()
