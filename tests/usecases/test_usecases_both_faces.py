"""Each use case both faces offer: the same effect and the same audit entry
whether a person posts the page's form or a program calls the JSON API.

Every test runs once per face; the expected effect and audit entry are written
once, so a face that does more or less than the other fails.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from usecases_support import SMALL, TEST_ACTOR, Site, load, loaded, names
from werkzeug.test import TestResponse

from fleet_support import closed_port_url
from ollama_webmgr.cluster.saved_fleet import load_registry
from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.ollama.urls import display_address
from ollama_webmgr.sim.fleet import EmulatedFleet
from ollama_webmgr.store.database import Where
from ollama_webmgr.usecases import fleet as fleet_uc
from ollama_webmgr.usecases import gateway_settings as gs
from ollama_webmgr.usecases.actor import Actor
from ollama_webmgr.usecases.fleet import fleet_of
from ollama_webmgr.web.gateway_page import FIELDS, input_value

FACES = ("web", "api")
SETUP = Actor("test")
Act = Callable[[Site], TestResponse]


def _through(face: str, web: Act, api: Act, site: Site) -> TestResponse:
    answer = (web if face == "web" else api)(site)
    assert answer.status_code < 400, answer.data[:300]
    return answer


def _entry(action: str, target: str, details: dict[str, object]) -> dict[str, object]:
    return {"who": TEST_ACTOR, "action": action, "target": target, "details": details}


# -- running models ------------------------------------------------------------


@pytest.mark.parametrize("face", FACES)
def test_eject(fleet: EmulatedFleet, site: Site, face: str) -> None:
    second = names(site.services)[1]
    load(fleet.urls[1])
    _through(
        face,
        lambda s: s.form("/running/eject", {"name": SMALL, "server": second}),
        lambda s: s.call("POST", "/api/eject", {"name": SMALL, "server": second}),
        site,
    )
    assert loaded(fleet.urls[1]) == []
    assert site.audit() == [_entry("eject", SMALL, {"server": second, "ejected": True})]


# -- gateway settings, drain switches, API keys ----------------------------------


def _settings_form(site: Site, **typed: str) -> dict[str, str]:
    """The settings form as the page fills it, with ``typed`` changed."""
    values = gs.editable_values(site.services.gateway.app.config)
    form = {name: input_value(values[name]) for name, _label in FIELDS}
    form["origins"] = ", ".join(values["origins"])
    form["strategy"] = values["strategy"]
    if values["sticky"]:
        form["sticky"] = "on"
    return {**form, **typed}


@pytest.mark.parametrize("face", FACES)
def test_gateway_settings(site: Site, face: str) -> None:
    _through(
        face,
        lambda s: s.form(
            "/passerelle/config", _settings_form(s, max_attempts="5", sticky="on")
        ),
        lambda s: s.call(
            "PUT", "/api/gateway/config", {"max_attempts": 5, "sticky": True}
        ),
        site,
    )
    config = site.services.gateway.app.config
    [stored] = site.services.db.find("config", [Where("key", "==", gs.CONFIG_KEY)])
    assert (config.max_attempts, config.sticky) == (5, True)
    assert (stored["value"]["max_attempts"], stored["value"]["sticky"]) == (5, True)
    assert site.audit() == [
        _entry("gateway.config", "gateway", {"max_attempts": 5, "sticky": True})
    ]


@pytest.mark.parametrize("face", FACES)
def test_drain(site: Site, face: str) -> None:
    first = names(site.services)[0]
    _through(
        face,
        lambda s: s.form("/passerelle/drain", {"server": first, "draining": "1"}),
        lambda s: s.call(
            "POST", "/api/gateway/drain", {"server": first, "draining": True}
        ),
        site,
    )
    server = site.services.servers.get(first)
    [stored] = site.services.db.find("config", [Where("key", "==", gs.DRAIN_KEY)])
    assert server.draining
    assert stored["value"]["addresses"] == [display_address(server.url)]
    assert site.audit() == [_entry("gateway.drain", first, {"draining": True})]


@pytest.mark.parametrize("face", FACES)
def test_api_key_creation(site: Site, face: str) -> None:
    _through(
        face,
        lambda s: s.form("/passerelle/keys", {"label": " ci "}),
        lambda s: s.call("POST", "/api/gateway/keys", {"label": " ci "}),
        site,
    )
    [key] = gs.api_keys(site.services)
    assert key["label"] == "ci"
    assert len(site.services.gateway.app.config.api_key_hashes) == 1
    assert site.audit() == [_entry("gateway.key.create", key["id"], {})]


@pytest.mark.parametrize("face", FACES)
def test_api_key_revocation(site: Site, face: str) -> None:
    key_id = gs.issue_api_key(site.services, SETUP, "ci").entry["id"]
    _through(
        face,
        lambda s: s.form(f"/passerelle/keys/{key_id}/delete"),
        lambda s: s.call("DELETE", f"/api/gateway/keys/{key_id}"),
        site,
    )
    assert gs.api_keys(site.services) == []
    assert site.services.gateway.app.config.api_key_hashes == frozenset()
    assert site.audit()[1:] == [_entry("gateway.key.delete", key_id, {})]


# -- the fleet -----------------------------------------------------------------


@pytest.mark.parametrize("face", FACES)
def test_server_addition(fleet: EmulatedFleet, site: Site, face: str) -> None:
    url = fleet.urls[2]
    _through(
        face,
        lambda s: s.form("/servers/add", {"name": "gpu-3", "url": url}),
        lambda s: s.call("POST", "/api/servers", {"name": "gpu-3", "url": url}),
        site,
    )
    saved = load_registry(site.services.settings.servers, site.services.db)
    assert names(site.services)[-1] == "gpu-3"
    assert saved.get("gpu-3").url == url
    assert site.audit() == [_entry("server_add", "gpu-3", {"url": url})]


@pytest.mark.parametrize("face", FACES)
def test_server_rename(site: Site, face: str) -> None:
    second = names(site.services)[1]
    _through(
        face,
        lambda s: s.form(f"/servers/{second}/rename", {"new_name": "gpu-b"}),
        lambda s: s.call("PATCH", f"/api/servers/{second}", {"name": "gpu-b"}),
        site,
    )
    saved = load_registry(site.services.settings.servers, site.services.db)
    assert names(site.services)[1] == [s.name for s in saved.all()][1] == "gpu-b"
    assert site.audit() == [
        _entry("server_update", second, {"changes": {"name": "gpu-b"}})
    ]


@pytest.mark.parametrize("face", FACES)
def test_server_switch_off(site: Site, face: str) -> None:
    second = names(site.services)[1]
    _through(
        face,
        lambda s: s.form(f"/servers/{second}/toggle"),
        lambda s: s.call("PATCH", f"/api/servers/{second}", {"enabled": False}),
        site,
    )
    saved = load_registry(site.services.settings.servers, site.services.db)
    assert not site.services.servers.get(second).enabled
    assert not saved.get(second).enabled
    assert site.audit() == [
        _entry("server_update", second, {"changes": {"enabled": False}})
    ]


@pytest.mark.parametrize("face", FACES)
def test_server_agent(site: Site, face: str) -> None:
    second = names(site.services)[1]
    agent = closed_port_url().removeprefix("http://")
    _through(
        face,
        lambda s: s.form(f"/servers/{second}/agent", {"agent": agent}),
        lambda s: s.call("PUT", f"/api/servers/{second}/agent", {"agent": agent}),
        site,
    )
    server = site.services.servers.get(second)
    assert fleet_of(site.services).agent_of(server) == agent
    assert site.audit() == [_entry("server_agent", second, {"agent": agent})]


@pytest.mark.parametrize("face", FACES)
def test_server_removal(fleet: EmulatedFleet, site: Site, face: str) -> None:
    fleet_uc.add_server(site.services, SETUP, "gpu-3", fleet.urls[2])
    _through(
        face,
        lambda s: s.form("/servers/gpu-3/delete"),
        lambda s: s.call("DELETE", "/api/servers/gpu-3"),
        site,
    )
    saved = load_registry(site.services.settings.servers, site.services.db)
    assert "gpu-3" not in names(site.services)
    assert "gpu-3" not in [s.name for s in saved.all()]
    assert site.audit()[1:] == [_entry("server_remove", "gpu-3", {})]


# -- models --------------------------------------------------------------------


@pytest.mark.parametrize("face", FACES)
def test_model_copy(fleet: EmulatedFleet, site: Site, face: str) -> None:
    first = names(site.services)[0]
    _through(
        face,
        lambda s: s.form(
            "/models/-/copy", {"name": SMALL, "dest": "smollm2:mine", "server": first}
        ),
        lambda s: s.call(
            "POST",
            "/api/models/copy",
            {"source": SMALL, "dest": "smollm2:mine", "server": first},
        ),
        site,
    )
    installed = {tag.name for tag in site.services.clients.get(first).tags()}
    assert {SMALL, "smollm2:mine"} <= installed
    assert site.audit() == [
        _entry("model.copy", SMALL, {"server": first, "destination": "smollm2:mine"})
    ]


@pytest.mark.parametrize("face", FACES)
def test_model_delete(fleet: EmulatedFleet, site: Site, face: str) -> None:
    first = names(site.services)[0]
    load(fleet.urls[0])
    _through(
        face,
        lambda s: s.form("/models/-/delete", {"name": SMALL, "server": first}),
        lambda s: s.call("DELETE", f"/api/models/{SMALL}?server={first}"),
        site,
    )
    installed = {tag.name for tag in site.services.clients.get(first).tags()}
    assert SMALL not in installed
    assert loaded(fleet.urls[0]) == []
    assert site.audit() == [
        _entry("model.delete", SMALL, {"server": first, "unloaded": True})
    ]


@pytest.mark.parametrize("face", FACES)
def test_model_pull(site: Site, face: str) -> None:
    first = names(site.services)[0]
    _through(
        face,
        lambda s: s.form("/models/-/pull", {"name": "all-minilm", "server": first}),
        lambda s: s.call(
            "POST", "/api/models/pull", {"name": "all-minilm", "server": first}
        ),
        site,
    )
    [job] = site.services.runner.list()
    name = ModelName.parse("all-minilm").display
    assert (job.kind, job.params["server"], job.params["model"]) == (
        "pull_model",
        first,
        name,
    )
    assert site.audit() == [
        _entry("model.pull", name, {"server": first, "job": job.id})
    ]
