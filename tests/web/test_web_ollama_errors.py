"""Every Ollama error a person can meet on the model pages reads in French: the
texts Ollama sends (contract §4.1, §5.3), and the same errors coming from an
emulated node through the pages and the jobs panel."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from web_support import csrf_token_of, parse

from fleet_support import fleet_services
from ollama_webmgr import errors
from ollama_webmgr.french.messages import describe_error, message_for_code
from ollama_webmgr.runtime.services import Services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import EmulatedFleet, running_fleet

HX = {"HX-Request": "true"}


@pytest.mark.parametrize(
    ("ollama_says", "french"),
    [
        (
            "pull model manifest: file does not exist",
            "n’existe pas dans la bibliothèque",
        ),
        (
            "pull model manifest: 412: \nThe model you are attempting to pull "
            "requires a newer version of Ollama.\n",
            "version plus récente d’Ollama",
        ),
        (
            'pull model manifest: Get "https://registry.ollama.ai/v2/library/x/'
            'manifests/latest": dial tcp 1.2.3.4:443: i/o timeout',
            "ne parvient pas à joindre le registre",
        ),
        ("max retries exceeded: EOF", "ne parvient pas à joindre le registre"),
        ("pull model manifest: 401: unauthorized", "refuse l’accès"),
        (
            "digest mismatch, file must be downloaded again: want sha256:a, got sha256:b",
            "Téléchargement corrompu",
        ),
        (
            "write /root/.ollama/models/blobs/x: no space left on device",
            "Espace disque",
        ),
        ("insecure protocol http", "n’est pas en https"),
        (
            "this model requires MLX support, but the MLX runtime is not available",
            "MLX",
        ),
        (
            "server busy, please try again.  maximum pending requests exceeded",
            "Serveur Ollama occupé",
        ),
        ("model requires more system memory (8.0 GiB) than is available", "Mémoire"),
        ('destination "Bad Name!" is invalid', "Nouveau nom refusé"),
        ('name "x y" is invalid', "Nom de modèle refusé"),
        ("invalid model name", "Nom de modèle refusé"),
        ("request canceled", "Requête annulée"),
    ],
)
def test_ollama_texts_become_french_messages(ollama_says: str, french: str) -> None:
    for kind in (errors.OllamaStreamError, errors.OllamaServerError):
        assert french in describe_error(kind(ollama_says, status=500)).message
    # the same text kept in a failed job's record
    assert french in message_for_code(
        "ollama_stream_error", f"{ollama_says} (status -1)"
    )


def test_an_unknown_text_falls_back_on_its_status() -> None:
    view = describe_error(errors.OllamaNotFound("model 'x:1b' not found", status=404))
    assert view.message == "Modèle introuvable sur le serveur Ollama."
    assert message_for_code("ollama_stream_error", "something new") == (
        "Le serveur Ollama a signalé une erreur."
    )


# -- through the pages, from an emulated node ------------------------------------


@pytest.fixture
def fleet() -> Iterator[EmulatedFleet]:
    with running_fleet([("smollm2:135m", "all-minilm:latest")]) as running:
        yield running


@pytest.fixture
def services(fleet: EmulatedFleet, tmp_path: Path) -> Iterator[Services]:
    with fleet_services(fleet, tmp_path) as built:
        yield built


@pytest.fixture
def client(services: Services) -> Iterator[FlaskClient]:
    with create_app(services=services).test_client() as test_client:
        yield test_client


def _toast(answer: object) -> str:
    trigger = json.loads(answer.headers["HX-Trigger"])  # type: ignore[attr-defined]
    return str(trigger["toast"]["message"])


def _post(client: FlaskClient, token: str, path: str, data: dict[str, str]) -> object:
    return client.post(path, data=data, headers={**HX, "X-CSRF-Token": token})


def _failed_job_message(client: FlaskClient, services: Services) -> str:
    deadline = time.monotonic() + 10
    while services.runner.list(active_only=True):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    panel = parse(client.get("/models/-/jobs", headers=HX).data)
    return panel.select_one("[data-job-state=error] [data-role=message]").get_text()


def test_a_full_disk_while_pulling_says_so(
    client: FlaskClient, services: Services, fleet: EmulatedFleet
) -> None:
    token = csrf_token_of(client, "/models")
    fleet.nodes[0].state.faults.update(
        {
            "fail_next": 1,
            "failure_message": "write /root/.ollama/x: no space left on device",
        }
    )
    _post(client, token, "/models/-/pull", {"name": "tinyllama"})
    assert _failed_job_message(client, services) == (
        "Espace disque insuffisant sur le serveur Ollama."
    )


def test_a_busy_node_refuses_delete_and_copy_in_french(
    client: FlaskClient, fleet: EmulatedFleet
) -> None:
    server = fleet.urls[0].removeprefix("http://")
    token = csrf_token_of(client, "/models")
    fleet.nodes[0].state.faults.update({"status": 503})
    for path, data in (
        ("/models/-/delete", {"name": "all-minilm:latest", "server": server}),
        (
            "/models/-/copy",
            {"name": "all-minilm:latest", "dest": "x:1", "server": server},
        ),
    ):
        answer = _post(client, token, path, data)
        assert answer.status_code == 503  # type: ignore[attr-defined]
        assert _toast(answer).startswith("Serveur Ollama occupé")


def test_a_stream_cut_in_the_middle_of_a_pull_is_french(
    client: FlaskClient, services: Services, fleet: EmulatedFleet
) -> None:
    token = csrf_token_of(client, "/models")
    fleet.nodes[0].state.faults.update({"drop_after": 2})
    _post(client, token, "/models/-/pull", {"name": "tinyllama"})
    message = _failed_job_message(client, services)
    assert message == "Serveur Ollama injoignable."
