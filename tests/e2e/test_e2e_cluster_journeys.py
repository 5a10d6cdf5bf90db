"""The cluster journeys in Chromium, as a person walks them, at 390 and 1280 px.

Servers (add, rename, disable after confirming, agent), Matériel, Santé and
Statistiques (filled the real way: health rounds, a node that goes down, chats
through the gateway), Passerelle settings, API keys and the API documentation.
Each test finds things by role and label, clicks and types, and asserts what the
page shows; its end state is saved in ``test-artifacts/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cluster_support import Cluster, inside_viewport, open_page, running_cluster, until
from e2e_support import PageWatch
from playwright.sync_api import Browser, Page, expect

WIDTHS = ["phone", "desktop"]


@pytest.fixture(scope="module")
def cluster(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    with running_cluster(root / "data", root) as running:
        yield running


@pytest.fixture(params=WIDTHS)
def viewport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def person(
    browser: Browser, cluster: Cluster, viewport: str
) -> Iterator[tuple[Page, PageWatch]]:
    context, page = open_page(browser, cluster.web_url, viewport)
    watch = PageWatch.attach(page)
    yield page, watch
    context.close()


def snapshot(page: Page, artifacts: Path, name: str, viewport: str) -> None:
    page.screenshot(path=artifacts / f"cluster-{name}-{viewport}.png", full_page=True)


def toast(page: Page, text: str | re.Pattern[str]) -> None:
    expect(page.locator("#toasts")).to_contain_text(text)


def confirm(page: Page, question: str) -> None:
    dialog = page.get_by_role("dialog", name="Confirmation")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(question)
    dialog.get_by_role("button", name="Confirmer").click()
    expect(dialog).to_be_hidden()


def test_servers_add_rename_and_disable_after_confirming(
    person: tuple[Page, PageWatch], cluster: Cluster, viewport: str, artifacts: Path
) -> None:
    page, watch = person
    spare = cluster.fleet.nodes[1].url  # a second entry for the same node
    added, renamed = f"ajout-{viewport}", f"salon-{viewport}"
    page.goto("/servers")
    form = page.locator("form[data-add-server]")
    form.get_by_label("Nom").fill(added)
    form.get_by_label("Adresse").fill(spare.replace("127.0.0.1", "localhost"))
    form.get_by_role("button", name="Ajouter").click()
    toast(page, f"Serveur {added} ajouté.")
    card = page.locator(f'[data-server="{added}"]')
    expect(card).to_contain_text("joignable")

    card.get_by_label("Nouveau nom").fill(renamed)
    card.get_by_role("button", name="Renommer").click()
    toast(page, f"Serveur renommé en {renamed}.")
    card = page.locator(f'[data-server="{renamed}"]')
    expect(card.get_by_role("paragraph").first).to_contain_text(renamed)

    card.get_by_role("button", name="Désactiver").click()
    # a person who changes their mind keeps the server
    dialog = page.get_by_role("dialog", name="Confirmation")
    expect(dialog).to_contain_text(f"Désactiver le serveur {renamed} ?")
    dialog.get_by_role("button", name="Annuler").click()
    expect(card.locator("[data-disabled]")).to_have_count(0)
    card.get_by_role("button", name="Désactiver").click()
    confirm(page, f"Désactiver le serveur {renamed} ?")
    toast(page, f"Serveur {renamed} désactivé.")
    card = page.locator(f'[data-server="{renamed}"]')
    expect(card.locator("[data-disabled]")).to_have_text("désactivé")
    expect(card.get_by_role("button", name="Activer")).to_be_visible()
    assert inside_viewport(page, "[data-servers] input, [data-servers] button") == []
    snapshot(page, artifacts, "serveurs", viewport)

    card.get_by_role("button", name="Supprimer").click()
    confirm(page, f"Supprimer le serveur {renamed} de la liste ?")
    expect(page.locator(f'[data-server="{renamed}"]')).to_have_count(0)
    assert watch.problems() == []


def test_an_agent_set_on_servers_shows_its_hardware_on_materiel(
    person: tuple[Page, PageWatch], cluster: Cluster, viewport: str, artifacts: Path
) -> None:
    page, watch = person
    assert cluster.services is not None
    first = cluster.services.servers.all()[0].name
    page.goto("/servers")
    card = page.locator(f'[data-server="{first}"]')
    card.get_by_label("Agent matériel (hôte:port)").fill(
        f"127.0.0.1:{cluster.agent_port}"
    )
    card.get_by_role("button", name="Enregistrer l’agent").click()
    toast(page, f"Agent 127.0.0.1:{cluster.agent_port} enregistré pour {first}")

    page.get_by_role("link", name="Supervision").click()
    page.get_by_role("link", name="Matériel").click()
    node = page.get_by_role("region", name=first)
    expect(node).not_to_contain_text("Aucun agent configuré")
    expect(node).to_contain_text(f"Agent 127.0.0.1:{cluster.agent_port}")
    expect(node.get_by_role("term").filter(has_text="Processeur")).to_be_visible()
    expect(node.locator("dd").first).to_have_text(re.compile(r"^\d+(,\d)? %$"))
    expect(node.locator("dd").nth(1)).to_contain_text("libres")
    snapshot(page, artifacts, "materiel", viewport)
    assert watch.problems() == []


def test_sante_shows_uptime_an_incident_and_the_chart_also_after_a_restart(
    person: tuple[Page, PageWatch], cluster: Cluster, viewport: str, artifacts: Path
) -> None:
    page, watch = person
    assert cluster.services is not None
    down = cluster.services.servers.all()[2].name
    cluster.stop_node(2)  # the health rounds notice it
    page.goto("/servers")
    page.get_by_role("link", name="Supervision").click()
    expect(page.get_by_role("heading", name="Santé des serveurs")).to_be_visible()

    def seen_down() -> bool:
        page.reload()
        return "hors ligne" in page.locator("#uptime").inner_text()

    until(seen_down, "the health rounds to see the node down")
    row = page.get_by_role("row", name=re.compile(down))
    expect(row).to_contain_text("hors ligne")
    expect(row).to_contain_text(re.compile(r"\d+(,\d+)? %"))
    incidents = page.get_by_role("region", name=re.compile("Incidents"))
    expect(incidents).to_contain_text(f"{down} — en cours")
    _the_chart_answers_the_pointer(page, viewport, "%")
    snapshot(page, artifacts, "sante", viewport)

    if viewport == "desktop":  # once: a restart keeps the history
        cluster.stop()
        cluster.start()
        page.goto(cluster.web_url + "/sante")
        expect(page.locator("#empty-state")).to_have_count(0)
        expect(page.get_by_role("row", name=re.compile(down))).to_contain_text("%")
        expect(
            page.get_by_role("region", name=re.compile("Incidents"))
        ).to_contain_text(down)
    assert watch.problems() == []


def _the_chart_answers_the_pointer(page: Page, viewport: str, unit: str) -> None:
    """The first chart is drawn at the page's size and shows the values under
    the mouse (desktop) or the finger (phone)."""
    plot = page.locator(".chart-plot").first
    plot.scroll_into_view_if_needed()
    expect(plot.locator("canvas")).to_be_visible()
    tip = plot.locator(".chart-tooltip")
    # A person points again when nothing shows (the chart may still be laying
    # itself out on a loaded machine): up to 5 tries, measured afresh each time.
    for _attempt in range(5):
        box = plot.locator(".u-over").bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] - 3, box["y"] + box["height"] / 2
        if viewport == "phone":
            page.touchscreen.tap(x, y)
        else:
            page.mouse.move(x - 1, y)
            page.mouse.move(x, y)
        try:
            expect(tip).to_be_visible(timeout=2000)
            break
        except AssertionError:
            continue
    expect(tip).to_be_visible()
    expect(tip).to_contain_text(re.compile(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}"))
    expect(tip).to_contain_text(unit)


def test_statistiques_counts_the_chats_of_each_server(
    person: tuple[Page, PageWatch], cluster: Cluster, viewport: str, artifacts: Path
) -> None:
    page, watch = person
    assert cluster.services is not None
    page.goto("/statistiques")
    before = _requests_per_server(page)
    for n in range(5):  # an Ollama client talking to the gateway
        answer = httpx.post(
            cluster.gateway_url + "/api/chat",
            json={
                "model": "smollm2:135m",
                "messages": [{"role": "user", "content": f"bonjour {n}"}],
                "stream": False,
            },
            timeout=30,
        )
        assert answer.status_code == 200, answer.text

    def counted() -> bool:
        page.reload()
        return sum(_requests_per_server(page).values()) >= sum(before.values()) + 5

    until(counted, "the chats to be counted per server")
    after = _requests_per_server(page)
    assert sum(after.values()) - sum(before.values()) == 5
    served = [name for name, count in after.items() if count > before.get(name, 0)]
    assert served, after
    row = page.get_by_role("row", name=re.compile(served[0]))
    expect(row.get_by_role("cell").first).to_have_text(str(after[served[0]]))
    expect(row.get_by_role("cell").nth(1)).to_have_text(re.compile(r"^\d+ ms$"))
    top = page.get_by_role("figure").filter(has_text="Modèles les plus demandés")
    expect(top).to_contain_text("smollm2:135m")
    _the_chart_answers_the_pointer(page, viewport, "Chat")
    snapshot(page, artifacts, "statistiques", viewport)
    assert watch.problems() == []


def _requests_per_server(page: Page) -> dict[str, int]:
    counts = {}
    for row in page.locator("#per-server tbody tr").all():
        cells = [c.strip() for c in row.locator("th, td").all_inner_texts()]
        counts[cells[0]] = int(cells[1].replace("\u202f", ""))
    return counts


def test_gateway_settings_errors_name_the_field_and_inputs_fit(
    person: tuple[Page, PageWatch], viewport: str, artifacts: Path
) -> None:
    page, watch = person
    page.goto("/servers")
    page.get_by_role("link", name="Passerelle", exact=True).click()
    settings = page.locator("#gateway-settings")
    assert (
        inside_viewport(page, "#gateway-settings input, #gateway-settings select") == []
    )
    waiting = settings.get_by_label("Attente maximale d’une place (en secondes)")
    expect(waiting).to_have_value("30")  # not « 30.0 »
    tries = settings.get_by_label("Serveurs essayés avant d’abandonner")
    tries.fill("zéro")
    settings.get_by_role("button", name="Enregistrer").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("« Serveurs essayés avant d’abandonner »")
    expect(alert).not_to_contain_text("max_attempts")
    tries = page.locator("#gateway-settings").get_by_label(
        "Serveurs essayés avant d’abandonner"
    )
    expect(tries).to_have_value("zéro")
    expect(tries).to_have_attribute("aria-invalid", "true")
    expect(tries).to_have_accessible_description(
        "Un entier supérieur ou égal à 1 attendu."
    )
    snapshot(page, artifacts, "passerelle-erreur", viewport)

    tries.fill("2")
    page.locator("#gateway-settings").get_by_label(
        "Délai de connexion (en secondes)"
    ).fill("2,5")
    page.locator("#gateway-settings").get_by_role("button", name="Enregistrer").click()
    expect(
        page.get_by_role("status").filter(has_text="Réglages enregistrés")
    ).to_be_visible()
    expect(
        page.locator("#gateway-settings").get_by_label(
            "Délai de connexion (en secondes)"
        )
    ).to_have_value("2,5")
    # the refused form was answered 400 (Chromium logs any 4xx document)
    assert [p for p in watch.problems() if "status of 400" not in p] == []


def test_an_api_key_is_created_copied_once_and_revoked(
    person: tuple[Page, PageWatch], viewport: str, artifacts: Path
) -> None:
    page, watch = person
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/passerelle")
    label = f"ci-{viewport}"
    page.get_by_label("Nom de la nouvelle clé").fill(label)
    page.get_by_role("button", name="Créer une clé").click()
    shown = page.locator("#new-key")
    expect(shown).to_contain_text("Copiez cette clé maintenant")
    key = shown.locator("output").inner_text()
    assert len(key) > 20
    shown.get_by_role("button", name="Copier").click()
    toast(page, "Clé copiée dans le presse-papiers.")
    assert page.evaluate("navigator.clipboard.readText()") == key
    assert inside_viewport(page, "#new-key *") == []
    snapshot(page, artifacts, "cle-creee", viewport)

    page.goto("/passerelle")  # shown once: gone at the next visit
    expect(page.locator("#new-key")).to_have_count(0)
    expect(page.get_by_text(key)).to_have_count(0)
    item = page.locator("#gateway-keys li").filter(has_text=label)
    expect(item).to_contain_text(key[:8])
    item.get_by_role("button", name="Révoquer").click()
    confirm(page, f"Révoquer la clé « {label} » ?")
    expect(page.get_by_role("status").filter(has_text="Clé supprimée.")).to_be_visible()
    expect(page.locator("#gateway-keys li").filter(has_text=label)).to_have_count(0)
    assert watch.problems() == []


def test_the_api_documentation_is_found_from_the_gateway_page(
    person: tuple[Page, PageWatch], viewport: str, artifacts: Path
) -> None:
    page, watch = person
    page.goto("/passerelle")
    page.get_by_role("link", name="Documentation de l’API JSON").click()
    expect(page).to_have_url(re.compile(r"/api/docs$"))
    servers = page.locator(".opblock").filter(has_text="/api/servers").first
    expect(servers).to_be_visible()
    servers.locator(".opblock-summary").click()
    expect(page.get_by_role("button", name="Try it out").first).to_be_visible()
    snapshot(page, artifacts, "api-docs", viewport)
    assert (
        page.evaluate("document.documentElement.scrollWidth")
        <= page.viewport_size["width"]
    )
    assert watch.problems() == []
