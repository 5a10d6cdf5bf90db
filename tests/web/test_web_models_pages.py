"""The model pages over an emulated fleet: markup, French labels, actions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from flask.testing import FlaskClient
from web_support import csrf_token_of, inline_code_problems, parse

from fleet_support import FAST, fleet_services
from ollama_webmgr.runtime.services import Services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import EmulatedFleet, running_fleet
from ollama_webmgr.usecases import model_jobs
from ollama_webmgr.usecases.actor import Actor

HX = {"HX-Request": "true"}


@pytest.fixture
def fleet() -> Iterator[EmulatedFleet]:
    with running_fleet(
        [("smollm2:135m", "all-minilm:latest"), ("smollm2:135m",)], bandwidth=FAST
    ) as running:
        yield running


@pytest.fixture
def services(fleet: EmulatedFleet, tmp_path: Path) -> Iterator[Services]:
    with fleet_services(fleet, tmp_path) as built:
        yield built


@pytest.fixture
def client(services: Services) -> Iterator[FlaskClient]:
    with create_app(services=services).test_client() as test_client:
        yield test_client


@pytest.fixture
def names(services: Services) -> list[str]:
    return [server.name for server in services.servers.all()]


def wait_idle(services: Services) -> None:
    deadline = time.monotonic() + 10
    while services.runner.list(active_only=True):
        assert time.monotonic() < deadline, "jobs did not finish"
        time.sleep(0.01)


def rows(doc: BeautifulSoup) -> dict[str, BeautifulSoup]:
    return {str(tr["data-model"]): tr for tr in doc.select("tr.model-row")}


def test_models_page_lists_the_primary_server_as_a_table_of_cards(
    client: FlaskClient, names: list[str]
) -> None:
    answer = client.get("/models")
    assert answer.status_code == 200
    doc = parse(answer.data)
    assert doc.find("h1").get_text(strip=True) == "Modèles"
    table = doc.select_one("table.models-table")
    assert table is not None
    headers = [th.get_text(strip=True) for th in table.select("thead th")]
    assert headers[:5] == ["Nom", "Taille", "Modifié le", "Digest", "Mise à jour"]
    found = rows(doc)
    assert set(found) == {"smollm2:135m", "all-minilm:latest"}
    row = found["smollm2:135m"]
    cells = [td.get_text(" ", strip=True) for td in row.find_all("td")]
    # no break between number and unit; the emulator's catalogue is scaled (sim/catalog.py):
    # the library's 271 MB are 271 kB of weights plus the unscaled text layers
    assert cells[0] == "Taille 272\u00a0ko"
    stamp = row.find("time")
    assert stamp is not None
    assert stamp["datetime"][:4].isdigit()
    digest = row.find("code").get_text()
    assert len(digest) == 12
    assert "non vérifié" in row.get_text()
    # every row has the mobile labels and its actions sheet
    assert row.select(".cell-label")
    assert row.find(attrs={"role": "dialog"}) is not None
    assert inline_code_problems(doc) == []


def test_row_actions_are_french_and_delete_asks_for_confirmation(
    client: FlaskClient, names: list[str]
) -> None:
    row = rows(parse(client.get("/models").data))["all-minilm:latest"]
    labels = [b.get_text(strip=True) for b in row.select("button, a.btn")]
    for label in (
        "Détails",
        "Vérifier la mise à jour",
        "Mettre à jour",
        "Copier / renommer",
        "Supprimer",
    ):
        assert label in labels
    delete_form = row.find("button", string="Supprimer").find_parent("form")
    assert "Supprimer « all-minilm:latest »" in delete_form["hx-confirm"]
    assert delete_form.find("input", attrs={"name": "csrf_token"})["value"]


def test_all_servers_view_shows_holders_and_drift(
    client: FlaskClient,
    services: Services,
    fleet: EmulatedFleet,
    names: list[str],
) -> None:
    fleet.registry.publish_update("smollm2:135m")
    token = csrf_token_of(client, "/models")
    answer = client.post(
        "/models/-/pull",
        data={"name": "smollm2:135m", "servers": names[0], "csrf_token": token},
    )
    assert answer.status_code == 303
    wait_idle(services)
    doc = parse(client.get("/models?server=all").data)
    assert doc.select_one("#models-server option[selected]")["value"] == "all"
    row = rows(doc)["smollm2:135m"]
    assert names[0] in row.get_text()
    assert names[1] in row.get_text()
    assert "versions différentes" in row.get_text()
    assert "versions différentes" not in rows(doc)["all-minilm:latest"].get_text()


def test_pull_form_starts_jobs_and_the_panel_shows_them(
    client: FlaskClient, services: Services, names: list[str]
) -> None:
    token = csrf_token_of(client, "/models")
    doc = parse(client.get("/models").data)
    form = doc.find("form", id="pull-form")
    assert form.find("legend").get_text() == "Serveurs cibles"
    assert [i["value"] for i in form.select("input[name=servers]")] == [*names, "all"]
    answer = client.post(
        "/models/-/pull",
        data={"name": "tinyllama", "servers": "all", "csrf_token": token},
        headers={**HX, "X-CSRF-Token": token},
    )
    assert answer.status_code == 200
    assert "Téléchargements lancés" in answer.headers["HX-Trigger"].encode().decode(
        "unicode_escape"
    )
    panel = parse(answer.data)
    items = panel.select("[data-job-id]")
    assert len(items) == 2
    assert all(i["data-job-kind"] == "pull_model" for i in items)
    assert all(i.find("progress") is not None for i in items)
    wait_idle(services)
    panel = parse(client.get("/models/-/jobs", headers=HX).data)
    states = [i["data-job-state"] for i in panel.select("[data-job-id]")]
    assert states == ["done", "done"]
    # finished jobs shrink to a row each, in a group that can be dismissed
    assert panel.select("[data-job-id] progress") == []
    finished = panel.select_one("details[data-finished-jobs]")
    assert "Tâches terminées (2)" in finished.summary.get_text()
    assert "terminé" in finished.get_text()


def test_an_invalid_name_in_the_form_is_a_french_toast_and_no_job(
    client: FlaskClient, services: Services
) -> None:
    token = csrf_token_of(client, "/models")
    answer = client.post(
        "/models/-/pull",
        data={"name": "pas valide !", "csrf_token": token},
        headers={**HX, "X-CSRF-Token": token},
    )
    assert answer.status_code == 400
    assert "Nom de modèle invalide." in parse(answer.data).get_text()
    assert services.runner.list() == []


def test_check_then_list_shows_the_update_status(
    client: FlaskClient, services: Services, fleet: EmulatedFleet, names: list[str]
) -> None:
    fleet.registry.publish_update("all-minilm")
    token = csrf_token_of(client, "/models")
    client.post(
        "/models/-/check",
        data={"server": names[0], "csrf_token": token},
        headers={**HX, "X-CSRF-Token": token},
    )
    wait_idle(services)
    doc = parse(client.get(f"/models/-/list?server={names[0]}", headers=HX).data)
    found = rows(doc)
    assert "mise à jour disponible" in found["all-minilm:latest"].get_text()
    assert "à jour" in found["smollm2:135m"].select_one(".status-badge").get_text()


def test_delete_and_rename_from_the_page_refresh_the_list(
    client: FlaskClient, names: list[str]
) -> None:
    token = csrf_token_of(client, "/models")
    headers = {**HX, "X-CSRF-Token": token}
    renamed = client.post(
        "/models/-/copy",
        data={
            "name": "all-minilm:latest",
            "dest": "minilm:mine",
            "rename": "1",
            "server": names[0],
        },
        headers=headers,
    )
    assert renamed.status_code == 200
    assert set(rows(parse(renamed.data))) == {"smollm2:135m", "minilm:mine"}
    deleted = client.post(
        "/models/-/delete",
        data={"name": "minilm:mine", "server": names[0]},
        headers=headers,
    )
    assert set(rows(parse(deleted.data))) == {"smollm2:135m"}


def test_detail_page_shows_show_info_and_holders(
    client: FlaskClient, names: list[str]
) -> None:
    answer = client.get(f"/models/smollm2:135m?server={names[1]}")
    assert answer.status_code == 200
    doc = parse(answer.data)
    assert doc.find("h1").get_text() == "smollm2:135m"
    details = doc.find("section", attrs={"aria-labelledby": "details-title"})
    assert "135\u00a0M" in details.get_text()  # 134.52M parameters
    summaries = [s.get_text() for s in doc.find_all("summary")]
    assert "Modèle de prompt" in summaries
    assert [li["data-holder"] for li in doc.select("[data-holder]")] == names
    assert doc.find("time") is not None
    assert inline_code_problems(doc) == []


def test_detail_of_a_missing_model_is_a_french_404_page(
    client: FlaskClient, names: list[str]
) -> None:
    answer = client.get(f"/models/nope:1b?server={names[0]}")
    assert answer.status_code == 404
    assert "Modèle introuvable" in parse(answer.data).get_text()


def test_an_unreachable_server_shows_a_message_not_an_error_page(
    client: FlaskClient, fleet: EmulatedFleet, names: list[str]
) -> None:
    fleet.nodes[1].server.stop()
    answer = client.get(f"/models?server={names[1]}")
    assert answer.status_code == 200
    alert = parse(answer.data).find(attrs={"data-server-error": names[1]})
    assert "Serveur Ollama injoignable." in alert.get_text()


def test_detail_page_lists_only_the_jobs_about_that_model(
    client: FlaskClient, services: Services, names: list[str]
) -> None:
    [mine] = model_jobs.submit_pull(services, Actor("test"), names[1], "smollm2:135m")
    model_jobs.submit_pull(services, Actor("test"), names[1], "all-minilm")
    wait_idle(services)
    doc = parse(client.get(f"/models/smollm2:135m?server={names[1]}").data)
    shown = [li["data-job-id"] for li in doc.select("[data-job-id]")]
    assert shown == [mine.id]
    item = doc.select_one("[data-job-id]")
    assert item["data-job-state"] == "done"
    assert item.select_one(".status-badge").get_text() == "terminé"


def test_a_server_page_lists_only_its_own_jobs(
    client: FlaskClient, services: Services, names: list[str]
) -> None:
    [mine] = model_jobs.submit_pull(services, Actor("test"), names[0], "all-minilm")
    [other] = model_jobs.submit_pull(services, Actor("test"), names[1], "all-minilm")
    wait_idle(services)
    doc = parse(client.get(f"/models?server={names[0]}").data)
    assert [li["data-job-id"] for li in doc.select("#jobs [data-job-id]")] == [mine.id]
    everything = parse(client.get("/models?server=all").data)
    shown = {li["data-job-id"] for li in everything.select("#jobs [data-job-id]")}
    assert shown == {mine.id, other.id}
    # the panel refreshed by script keeps the page's scope
    panel = parse(client.get(doc.select_one("#jobs")["data-jobs-url"], headers=HX).data)
    assert [li["data-job-id"] for li in panel.select("[data-job-id]")] == [mine.id]


def test_finished_jobs_can_be_dismissed_one_by_one_or_all_at_once(
    client: FlaskClient, services: Services, names: list[str]
) -> None:
    jobs = [
        model_jobs.submit_pull(services, Actor("test"), names[0], name)[0]
        for name in ("all-minilm", "smollm2:135m", "tinyllama")
    ]
    wait_idle(services)
    token = csrf_token_of(client, "/models")
    headers = {**HX, "X-CSRF-Token": token}
    scope = {"scope_server": names[0], "scope_model": ""}
    hidden = client.post(
        f"/models/-/jobs/{jobs[0].id}/hide", data=scope, headers=headers
    )
    rows = [li["data-job-id"] for li in parse(hidden.data).select("[data-job-id]")]
    assert jobs[0].id not in rows
    assert {jobs[1].id, jobs[2].id} <= set(rows)
    [running] = model_jobs.submit_pull(services, Actor("test"), names[0], "qwen2.5:7b")
    cleared = client.post("/models/-/jobs/clear", data=scope, headers=headers)
    doc = parse(cleared.data)
    assert doc.select_one("[data-finished-jobs]") is None
    shown = [li["data-job-id"] for li in doc.select("[data-job-id]")]
    assert shown in ([running.id], [])  # a job still running is never dismissed
    wait_idle(services)
    page = parse(client.get(f"/models?server={names[0]}").data)
    assert [li["data-job-id"] for li in page.select("#jobs [data-job-id]")] == [
        running.id
    ]


def test_a_plain_form_comes_back_to_the_list_with_the_message(
    client: FlaskClient, names: list[str]
) -> None:
    token = csrf_token_of(client, "/models")
    answer = client.post(
        "/models/-/copy",
        data={
            "name": "smollm2:135m",
            "dest": "tiny:copie",
            "server": names[0],
            "csrf_token": token,
        },
    )
    assert answer.status_code == 303
    page = client.get(answer.headers["Location"])
    assert page.headers["Cache-Control"] == "no-store"  # the worker must not replay it
    doc = parse(page.data)
    assert "tiny:copie" in rows(doc)
    toast = doc.select_one("#toasts [data-flash]")
    assert toast.get_text() == "« smollm2:135m » copié en « tiny:copie »."
    assert parse(client.get("/models").data).select_one("#toasts [data-flash]") is None


def test_many_running_jobs_fold_after_three_cards(
    client: FlaskClient, services: Services, fleet: EmulatedFleet, names: list[str]
) -> None:
    fleet.nodes[0].state.bandwidth = 1e6  # they all stay running
    for name in ("qwen2.5:7b", "mistral:7b", "llava:7b", "gemma3:4b", "phi3:mini"):
        model_jobs.submit_pull(services, Actor("test"), names[0], name)
    doc = parse(client.get(f"/models?server={names[0]}").data)
    assert len(doc.select("[data-active-jobs] > [data-job-id]")) == 3
    folded = doc.select_one("details[data-more-jobs]")
    assert folded.summary.get_text() == "2 autres tâches en cours"
    assert len(folded.select("[data-job-id]")) == 2
    for job in services.runner.list(active_only=True):
        services.runner.cancel(job.id)
    wait_idle(services)
