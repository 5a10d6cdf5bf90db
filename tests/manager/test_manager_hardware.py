"""The running product polls node agents; the history API shows what they said."""

from __future__ import annotations

from pathlib import Path

from fleet_support import SMALL_MODELS, fleet_settings
from ollama_webmgr.agent.server import create_server
from ollama_webmgr.cluster.hardware import set_agent_address
from ollama_webmgr.ollama.urls import display_address
from ollama_webmgr.runtime.services import build_services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import running_fleet
from ollama_webmgr.store.database import DatabaseManager, Where, open_database
from waiting import wait_until


def test_started_services_poll_the_agents_and_the_api_shows_it(
    tmp_path: Path,
) -> None:
    agent, port = create_server("127.0.0.1", 0, models_dir=str(tmp_path))
    try:
        with running_fleet([SMALL_MODELS]) as fleet:
            address = display_address(fleet.urls[0])
            settings = fleet_settings(fleet, tmp_path, hardware_interval=60.0)
            db = open_database(settings.store_url)
            set_agent_address(db, address, f"127.0.0.1:{port}")
            db.close()
            services = build_services(settings)
            try:
                services.start()
                wait_until(lambda: _collected(services.db, address), timeout=10)
                nodes = (
                    create_app(services=services)
                    .test_client()
                    .get("/api/v1/nodes/hardware")
                    .json["nodes"]
                )
            finally:
                services.close()
    finally:
        agent.stop(grace=None).wait()
    (node,) = nodes
    assert node["agent_address"] == f"127.0.0.1:{port}"
    assert node["hardware_info"]["stale"] is False
    assert node["hardware_info"]["cpu"]["cores_logical"] >= 1
    assert node["vram_used"] == 0


def _collected(db: DatabaseManager, address: str) -> bool:
    found = db.find("servers", [Where("address", "==", address)], limit=1)
    return bool(found and (found[0].get("hardware_info") or {}).get("collected_at"))
