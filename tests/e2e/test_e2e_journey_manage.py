"""Journeys that change a server's models: copy and rename (from the list's
action sheet and from the model's page), delete after a confirmation, delete of
a model loaded in memory, update check then « Tout mettre à jour ». Each is
walked at 390 px and at 1280 px, on models of its own."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from journey_support import Person, Site, serve_site
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

INSTALLED = (
    "smollm2:135m",
    "all-minilm:latest",
    "qwen2.5:0.5b",
    "nomic-embed-text:latest",
    "tinyllama:latest",
    "gemma3:1b",
)


@pytest.fixture(scope="module")
def site(
    chromium_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    models = [INSTALLED, ("smollm2:135m",)]
    with serve_site(tmp_path_factory.mktemp("manage"), models) as running:
        yield running


def test_copy_from_the_action_sheet_lists_the_new_name(
    person: Person, site: Site
) -> None:
    copy = f"qwen-copie-{person.device}:v1"
    page = person.page
    page.goto(f"/models?server={site.nodes[0]}")
    sheet = person.open_actions("qwen2.5:0.5b")
    person.shot("copy-sheet")
    sheet.get_by_label("Nouveau nom").fill(copy)
    sheet.get_by_role("button", name="Copier / renommer").click()
    expect(person.model_row(copy)).to_be_visible()
    expect(person.model_row("qwen2.5:0.5b")).to_be_visible()  # a copy, not a move
    expect(person.toasts()).to_contain_text(f"« qwen2.5:0.5b » copié en « {copy} ».")
    expect(sheet).to_be_hidden()
    expect(
        page.get_by_role("heading", name=f"Modèles de {site.nodes[0]}")
    ).to_be_visible()
    person.shot("copy-done")

    # A name already taken is refused, in French, and nothing is overwritten.
    sheet = person.open_actions("smollm2:135m")
    sheet.get_by_label("Nouveau nom").fill(copy)
    sheet.get_by_role("button", name="Copier / renommer").click()
    expect(person.toasts()).to_contain_text(
        "Un modèle porte déjà ce nom sur ce serveur"
    )
    person.refused(409)
    assert copy in site.installed(0)
    person.no_problem()


def test_rename_from_the_model_page_lands_on_the_list_with_the_new_name(
    person: Person, site: Site
) -> None:
    source = f"source-{person.device}:v1"
    renamed = f"renomme-{person.device}:v2"
    page = person.page
    # The model to rename: a copy made from the list.
    page.goto(f"/models?server={site.nodes[0]}")
    sheet = person.open_actions("all-minilm:latest")
    sheet.get_by_label("Nouveau nom").fill(source)
    sheet.get_by_role("button", name="Copier / renommer").click()
    expect(person.model_row(source)).to_be_visible()

    person.open_actions(source).get_by_role("link", name="Détails").click()
    expect(page.get_by_role("heading", name=source, level=1)).to_be_visible()
    page.get_by_role("button", name="Actions").click()
    sheet = page.get_by_role("dialog", name=f"Actions : {source}")
    sheet.get_by_label("Nouveau nom").fill(renamed)
    sheet.get_by_label("Supprimer l’original (renommer)").check()
    sheet.get_by_role("button", name="Copier / renommer").click()
    # Back on that server's list: the new name is there, the old one is gone.
    expect(
        page.get_by_role("heading", name=f"Modèles de {site.nodes[0]}")
    ).to_be_visible()
    expect(person.model_row(renamed)).to_be_visible()
    expect(person.model_row(source)).to_have_count(0)
    expect(person.toasts()).to_contain_text(f"« {source} » renommé en « {renamed} ».")
    assert "Erreur" not in page.title()
    person.shot("rename-from-detail")
    person.no_problem()


def test_delete_asks_for_confirmation_then_removes_the_model(
    person: Person, site: Site
) -> None:
    victim = f"jetable-{person.device}:v1"
    page = person.page
    page.goto(f"/models?server={site.nodes[0]}")
    sheet = person.open_actions("smollm2:135m")
    sheet.get_by_label("Nouveau nom").fill(victim)
    sheet.get_by_role("button", name="Copier / renommer").click()
    expect(person.model_row(victim)).to_be_visible()

    sheet = person.open_actions(victim)
    sheet.get_by_role("button", name="Supprimer").click()
    dialog = page.get_by_role("dialog", name="Confirmation")
    expect(dialog).to_contain_text(
        f"Supprimer « {victim} » du serveur {site.nodes[0]} ?"
    )
    person.shot("delete-confirm")
    dialog.get_by_role("button", name="Annuler").click()
    expect(person.model_row(victim)).to_be_visible()  # nothing happened

    person.open_actions(victim).get_by_role("button", name="Supprimer").click()
    person.confirm(f"Supprimer « {victim} »")
    expect(person.model_row(victim)).to_have_count(0)
    expect(person.toasts()).to_contain_text(
        f"« {victim} » supprimé de {site.nodes[0]}."
    )
    person.no_problem()


def test_deleting_a_loaded_model_warns_and_unloads_it(
    person: Person, site: Site
) -> None:
    model = {"phone": "tinyllama:latest", "desktop": "gemma3:1b"}[person.device]
    site.load(0, model)
    page = person.page
    page.goto(f"/models?server={site.nodes[0]}")
    expect(person.model_row(model)).to_contain_text("en mémoire")
    sheet = person.open_actions(model)
    expect(sheet).to_contain_text("Chargé en mémoire : il sera d’abord déchargé.")
    sheet.get_by_role("button", name="Supprimer").click()
    person.confirm(f"« {model} » est chargé en mémoire sur {site.nodes[0]}")
    expect(person.toasts()).to_contain_text(
        f"« {model} » déchargé de la mémoire puis supprimé de {site.nodes[0]}."
    )
    expect(person.model_row(model)).to_have_count(0)
    # « En cours » no longer lists it: it left memory with the delete.
    page.get_by_role("link", name="En cours").click()
    expect(
        page.get_by_role("heading", name="Modèles en cours d’exécution")
    ).to_be_visible()
    expect(page.locator(f"#running [data-model='{model}']")).to_have_count(0)
    assert model not in site.loaded(0)
    person.shot("delete-loaded")
    person.no_problem()


def test_update_check_then_update_everything(person: Person, site: Site) -> None:
    page = person.page
    site.fleet.registry.publish_update("smollm2:135m")
    page.goto(f"/models?server={site.nodes[1]}")
    page.get_by_role("button", name="Vérifier les mises à jour").click()
    expect(person.toasts()).to_contain_text("Vérification des mises à jour lancée.")
    row = person.model_row("smollm2:135m")
    expect(row.get_by_text("mise à jour disponible")).to_be_visible(timeout=30_000)
    expect(person.toasts()).to_contain_text("Vérification des mises à jour terminée")
    person.shot("update-available")

    page.get_by_role("button", name="Tout mettre à jour").click()
    person.confirm(
        f"Télécharger toutes les mises à jour disponibles sur {site.nodes[1]} ?"
    )
    expect(person.toasts()).to_contain_text(re.compile(r"1 mise à jour lancée\."))
    expect(person.toasts()).to_contain_text(
        f"Téléchargement terminé : smollm2:135m sur {site.nodes[1]}", timeout=30_000
    )
    expect(row.get_by_text("à jour", exact=True)).to_be_visible()
    # Only this server's jobs are listed on its page.
    panel = page.locator("#jobs")
    for job in panel.locator("[data-job-id]").all():
        assert job.get_attribute("data-job-server") == site.nodes[1]
    person.shot("updated")
    # Finished tasks can be cleared at once.
    person.finished_jobs().get_by_role("button", name="Tout masquer").click()
    expect(page.locator("[data-finished-jobs]")).to_have_count(0)
    person.no_problem()
