from __future__ import annotations

from pathlib import Path

from fleet_support import SMALL_MODELS, fleet_services
from ollama_webmgr.sim.fleet import running_fleet


def test_services_reach_every_node_of_the_fleet(tmp_path: Path) -> None:
    with (
        running_fleet([SMALL_MODELS, SMALL_MODELS[:1]]) as fleet,
        fleet_services(fleet, tmp_path) as services,
    ):
        names = [server.name for server in services.servers.all()]
        assert len(names) == 2
        models = [
            sorted(tag.name for tag in services.clients.get(name).tags())
            for name in names
        ]
        assert models == [sorted(SMALL_MODELS), [SMALL_MODELS[0]]]
        assert services.clients.get(names[0]) is services.clients.get(names[0])


def test_library_and_registry_point_at_the_fake_site(tmp_path: Path) -> None:
    with (
        running_fleet([SMALL_MODELS]) as fleet,
        fleet_services(fleet, tmp_path) as services,
    ):
        page = services.library.search("smollm2")
        assert [model.name for model in page.models] == ["smollm2"]
        node = services.servers.all()[0].name
        tag = services.clients.get(node).tags()[0]
        check = services.registry.check_update(tag.name, tag.digest)
        assert check.status == "up_to_date"
