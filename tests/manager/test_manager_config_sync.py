"""Settings edited through one process reach another sharing the store (two
``Services`` over one store stand for two web workers, or the web app and a
separate gateway): the fleet, the gateway settings, drained servers."""

from __future__ import annotations

from pathlib import Path

from fleet_support import SMALL_MODELS, fleet_services
from ollama_webmgr.runtime.background import ConfigSync
from ollama_webmgr.sim.fleet import running_fleet
from ollama_webmgr.usecases import gateway_settings
from ollama_webmgr.usecases.fleet import Fleet


def test_drain_and_limits_set_in_one_process_apply_in_the_other(
    tmp_path: Path,
) -> None:
    with (
        running_fleet([SMALL_MODELS, SMALL_MODELS]) as fleet,
        fleet_services(fleet, tmp_path) as web,
        fleet_services(fleet, tmp_path) as gateway,
    ):
        sync = ConfigSync(gateway)
        name = web.servers.all()[1].name
        web.servers.set_draining(name, True)
        gateway_settings.save_draining(web.db, web.servers)
        gateway_settings.save_gateway_config(
            web.db, web.gateway.app.config, {"default_limit": 1}
        )
        assert not gateway.servers.get(name).draining
        sync()
        assert gateway.servers.get(name).draining
        assert gateway.gateway.app.config.default_limit == 1
        assert [v.name for v in gateway.gateway.app.views(None) if v.usable] == [
            web.servers.all()[0].name
        ]
        web.servers.set_draining(name, False)
        gateway_settings.save_draining(web.db, web.servers)
        sync()
        assert not gateway.servers.get(name).draining


def test_servers_added_renamed_and_removed_in_one_process_reach_the_other(
    tmp_path: Path,
) -> None:
    with (
        running_fleet([SMALL_MODELS, SMALL_MODELS, SMALL_MODELS]) as fleet,
        fleet_services(fleet, tmp_path, ollama_servers=(fleet.urls[1],)) as web,
        fleet_services(fleet, tmp_path, ollama_servers=(fleet.urls[1],)) as gateway,
    ):
        sync = ConfigSync(gateway)
        edits = Fleet(web.servers, web.db, web.settings.servers)
        first = web.servers.all()[0].name
        edits.add("extra", fleet.urls[2])
        edits.update(first, new_name="primary", weight=3)
        sync()
        servers = {s.name: s for s in gateway.servers.all()}
        assert set(servers) == {"primary", web.servers.all()[1].name, "extra"}
        assert servers["primary"].weight == 3
        assert servers["extra"].url == fleet.urls[2]
        assert "extra" in {v.name for v in gateway.gateway.app.views(None)}
        edits.remove("extra")
        sync()
        assert "extra" not in {s.name for s in gateway.servers.all()}
