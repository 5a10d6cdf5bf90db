"""A pull served by another node: the finished job says « depuis <serveur> ».

Two emulated nodes keeping their models on disk; node A's agent serves its
models (``--serve-models``); the model is pulled to node B from the models
page at 390 px, and its bytes come from node A.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from journey_support import Person, Site, serve_site
from playwright.sync_api import expect

from peer_support import node_agent, pull_on_node

pytestmark = pytest.mark.e2e

MODEL = "all-minilm:latest"


@pytest.fixture(scope="module")
def site(
    chromium_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("peer-seed")
    options = [{"models_dir": root / name / "models"} for name in ("a", "b")]
    with serve_site(root, [("smollm2:135m",)] * 2, node_options=options) as site:
        yield site


@pytest.mark.parametrize("device", ["phone"])
def test_the_job_says_the_bytes_came_from_the_other_node(
    person: Person, site: Site
) -> None:
    node_a, node_b = site.nodes
    pull_on_node(site.fleet.urls[0], MODEL)
    models_dir = site.fleet.nodes[0].state.models_dir
    assert isinstance(models_dir, Path)
    with node_agent(models_dir) as agent:
        answer = httpx.put(
            f"{site.url}/api/servers/{node_a}/agent",
            json={"agent": agent.address},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        site.fleet.registry.served.reset()
        page = person.page
        page.goto(f"/models?server={node_b}")
        page.get_by_role("button", name="Télécharger un modèle").click()
        sheet = page.get_by_role("dialog", name="Télécharger un modèle")
        sheet.get_by_label("Nom du modèle").fill(MODEL)
        sheet.get_by_role("button", name="Télécharger", exact=True).click()
        expect(person.toasts()).to_contain_text(
            f"Téléchargement terminé : {MODEL}", timeout=30_000
        )
        row = person.finished_jobs().locator(f"[data-job-model='{MODEL}']")
        origin = row.locator("[data-role='origin']")
        expect(origin).to_contain_text(f"depuis {node_a} · ")
        expect(origin).to_contain_text("économisés")
        origin.scroll_into_view_if_needed()
        person.shot("pull-from-peer")
    assert site.fleet.registry.served.total == 0
    person.no_problem()
