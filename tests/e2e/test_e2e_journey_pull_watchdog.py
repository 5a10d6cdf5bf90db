"""A pull that stalls: its card says it was restarted by itself, and why.

Walked at 390 px (where a long reason has to wrap). The stall window is 1 s
here (``PULL_STALL_TIMEOUT``), the emulated node stalls for 2.5 s.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from journey_support import Person, Site, job_card, serve_site
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

MODEL = "qwen2.5:0.5b"  # 398 MB
# each attempt that finds the node still stalled is restarted again
RESTARTED = re.compile(r"relancé automatiquement \(\d\) : aucun octet reçu depuis 1 s")


@pytest.fixture(scope="module")
def site(
    chromium_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    models = [("smollm2:135m",)]
    overrides = {"pull_stall_timeout": 1.0, "pull_max_restarts": 3}
    with serve_site(tmp_path_factory.mktemp("watchdog"), models, overrides) as site:
        yield site


@pytest.mark.parametrize("device", ["phone"])
def test_a_stalled_pull_says_it_restarted_by_itself_then_ends(
    person: Person, site: Site
) -> None:
    node = site.fleet.nodes[0].state
    entry = site.fleet.registry.lookup(MODEL)
    assert entry is not None  # its size is the catalogue's, scaled
    node.bandwidth = entry.size / 3
    node.faults.update({"pull_stall_after": entry.size // 4, "pull_stall_for": 2.5})
    page = person.page
    page.goto(f"/models?server={site.nodes[0]}")
    page.get_by_role("button", name="Télécharger un modèle").click()
    sheet = page.get_by_role("dialog", name="Télécharger un modèle")
    sheet.get_by_label("Nom du modèle").fill(MODEL)
    sheet.get_by_role("button", name="Télécharger", exact=True).click()
    card = job_card(page, f"Téléchargement de {MODEL}")
    expect(card).to_contain_text(RESTARTED, timeout=10_000)
    person.shot("pull-restarted")
    expect(person.toasts()).to_contain_text(
        f"Téléchargement terminé : {MODEL}", timeout=30_000
    )
    # the finished job keeps the story
    row = person.finished_jobs().locator(f"[data-job-model='{MODEL}']")
    expect(row).to_contain_text("terminé")
    expect(row).to_contain_text(RESTARTED)
    person.no_problem()
