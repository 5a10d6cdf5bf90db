"""One definition of the primary server: the first *enabled* one.

With the first server disabled, a pull and an eject that name no server both
go to the second one, from either face (they once disagreed: the pull went to
the disabled server).
"""

from __future__ import annotations

import pytest
from usecases_support import SMALL, Site, load, loaded, names

from ollama_webmgr.sim.fleet import EmulatedFleet
from ollama_webmgr.usecases import fleet as fleet_uc
from ollama_webmgr.usecases.actor import Actor
from ollama_webmgr.usecases.servers import chosen_server, primary_server

SETUP = Actor("test")


@pytest.fixture
def first_disabled(site: Site) -> list[str]:
    servers = names(site.services)
    fleet_uc.change_server(site.services, SETUP, servers[0], enabled=False)
    return servers


def test_the_primary_is_the_first_enabled_server(
    site: Site, first_disabled: list[str]
) -> None:
    registry = site.services.servers
    assert primary_server(registry).name == first_disabled[1]
    assert chosen_server(registry, None).name == first_disabled[1]
    assert chosen_server(registry, "").name == first_disabled[1]
    assert chosen_server(registry, first_disabled[0]).name == first_disabled[0]


@pytest.mark.parametrize("face", ["web", "api"])
def test_a_pull_without_a_server_goes_to_the_first_enabled_one(
    site: Site, first_disabled: list[str], face: str
) -> None:
    if face == "web":
        answer = site.form("/models/-/pull", {"name": "all-minilm"})
    else:
        answer = site.call("POST", "/api/models/pull", {"name": "all-minilm"})
    assert answer.status_code in (200, 202)
    [job] = site.services.runner.list()
    assert job.params["server"] == first_disabled[1]


@pytest.mark.parametrize("face", ["web", "api"])
def test_an_eject_without_a_server_goes_to_the_first_enabled_one(
    fleet: EmulatedFleet, site: Site, first_disabled: list[str], face: str
) -> None:
    load(fleet.urls[0])
    load(fleet.urls[1])
    if face == "web":
        answer = site.form("/running/eject", {"name": SMALL})
    else:
        answer = site.call("POST", "/api/eject", {"name": SMALL})
    assert answer.status_code == 200
    assert loaded(fleet.urls[0]) == [SMALL]  # the disabled server kept it
    assert loaded(fleet.urls[1]) == []
    [entry] = [e for e in site.audit() if e["action"] == "eject"]
    assert entry["details"] == {"server": first_disabled[1], "ejected": True}
