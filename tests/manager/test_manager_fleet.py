"""``Fleet`` and ``load_registry`` over a real SQLite store (no network: the
reachability check is the constructor's seam)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ollama_webmgr.cluster.saved_fleet import load_registry
from ollama_webmgr.cluster.servers import ServerRegistry
from ollama_webmgr.errors import (
    InvalidServerUrl,
    ServerCheckFailed,
    ServerNameTaken,
    UnknownServer,
)
from ollama_webmgr.gateway.config import GatewayConfig
from ollama_webmgr.gateway.snapshot import apply_snapshot
from ollama_webmgr.store.database import DatabaseManager, Where, open_database
from ollama_webmgr.usecases import gateway_settings as gs
from ollama_webmgr.usecases.fleet import Fleet, ServerCheck

ENV = ("http://a:11434", "http://b:11434")


def reachable(url: str) -> ServerCheck:
    return ServerCheck(url, "0.12.0", 1.0)


def unreachable(url: str) -> ServerCheck:
    raise ServerCheckFailed(f"{url} is down")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[DatabaseManager]:
    store = open_database(f"sqlite:///{tmp_path / 'fleet.sqlite3'}")
    yield store
    store.close()


def fleet_of(db: DatabaseManager, configured: tuple[str, ...] = ENV) -> Fleet:
    return Fleet(load_registry(configured, db), db, configured, check=reachable)


def test_a_server_added_then_configured_keeps_its_ui_name(db: DatabaseManager) -> None:
    fleet_of(db).add("gpu", "http://c:11434")
    # The operator later lists it in OLLAMA_SERVERS: it becomes a configured one.
    later = fleet_of(db, (*ENV, "http://c:11434"))
    names = [s.name for s in later.registry.all()]
    assert names == ["a:11434", "b:11434", "gpu"]
    assert later.is_configured(later.get("gpu"))


def test_a_server_dropped_from_the_environment_is_not_resurrected(
    db: DatabaseManager,
) -> None:
    fleet_of(db).update("b:11434", enabled=False)
    later = fleet_of(db, ENV[:1])
    assert [s.name for s in later.registry.all()] == ["a:11434"]


def test_a_ui_server_whose_name_is_taken_at_start_gets_a_suffix(
    db: DatabaseManager,
) -> None:
    fleet_of(db).add("c:11434", "http://d:11434")
    # Later a configured server arrives whose default name is "c:11434" too.
    later = fleet_of(db, (*ENV, "http://c:11434"))
    servers = {s.name: s.url for s in later.registry.all()}
    assert servers["c:11434"] == "http://c:11434"
    assert servers["c:11434-2"] == "http://d:11434"


def test_unreachable_or_invalid_addresses_are_not_saved(db: DatabaseManager) -> None:
    fleet = Fleet(load_registry(ENV, db), db, ENV, check=unreachable)
    with pytest.raises(ServerCheckFailed):
        fleet.add("c", "http://c:11434")
    with pytest.raises(InvalidServerUrl):
        fleet.add("c", "http://c:11434/path")
    assert len(fleet_of(db).registry.all()) == 2


def test_renames_are_checked_against_every_name(db: DatabaseManager) -> None:
    fleet = fleet_of(db)
    with pytest.raises(ServerNameTaken):
        fleet.update("a:11434", new_name="b:11434")
    with pytest.raises(UnknownServer):
        fleet.update("zzz", enabled=True)
    assert fleet.update("a:11434", new_name=" a:11434 ").name == "a:11434"


def test_a_drained_server_stays_drained_after_a_rename_and_a_restart(
    db: DatabaseManager,
) -> None:
    fleet = fleet_of(db)
    fleet.add("gpu", "http://c:11434")
    fleet.registry.set_draining("gpu", True)
    gs.save_draining(db, fleet.registry)
    fleet.update("gpu", new_name="gpu-big")
    assert fleet.registry.get("gpu-big").draining
    later = fleet_of(db)  # a restart: registry and drain state read back
    gs.load_draining(db, later.registry)
    assert [s.name for s in later.registry.all() if s.draining] == ["gpu-big"]


def test_drained_names_saved_by_older_versions_become_addresses(
    db: DatabaseManager,
) -> None:
    fleet_of(db).update("b:11434", new_name="cpu")
    db.upsert("config", ["key"], {"key": gs.DRAIN_KEY, "value": {"servers": ["cpu"]}})
    registry = fleet_of(db).registry
    gs.load_draining(db, registry)
    assert [s.name for s in registry.all() if s.draining] == ["cpu"]
    stored = db.find("config", [Where("key", "==", gs.DRAIN_KEY)])[0]["value"]
    assert stored == {"addresses": ["b:11434"]}
    renamed = fleet_of(db)
    renamed.update("cpu", new_name="cpu-2")
    again = fleet_of(db).registry
    gs.load_draining(db, again)
    assert [s.name for s in again.all() if s.draining] == ["cpu-2"]


def test_a_snapshot_carries_what_a_storeless_worker_needs_and_changes_are_seen(
    db: DatabaseManager,
) -> None:
    """What a supervisor pushes to its gateway workers: the fleet with its UI
    edits, the settings as stored, key hashes, drained addresses; applied to an
    empty registry it gives the registry a process reading the store has."""
    watch = gs.SnapshotWatch(db, ENV)
    assert watch.poll() is None  # nothing changed since the watch was made
    fleet = fleet_of(db)
    fleet.update("b:11434", new_name="cpu", weight=3)
    assert watch.poll() is not None  # the fleet changed
    assert watch.poll() is None
    fleet.registry.set_draining("cpu", True)
    gs.save_draining(db, fleet.registry)
    gs.save_gateway_config(db, GatewayConfig(), {"strategy": "round_robin"})
    created = gs.create_api_key(db, GatewayConfig(), "ci")
    snapshot = watch.poll()
    assert snapshot is not None
    assert watch.poll() is None
    assert snapshot.draining == ("b:11434",)
    assert snapshot.key_hashes == frozenset({created.entry["hash"]})
    assert snapshot.settings["strategy"] == "round_robin"
    config, registry = GatewayConfig(), ServerRegistry()
    apply_snapshot(snapshot, config, registry)
    assert config.strategy == "round_robin"
    assert config.api_key_hashes == snapshot.key_hashes
    assert [(s.name, s.weight, s.draining) for s in registry.all()] == [
        ("a:11434", 1, False),
        ("cpu", 3, True),
    ]
    # the names older versions saved are read as addresses
    db.upsert("config", ["key"], {"key": gs.DRAIN_KEY, "value": {"servers": ["cpu"]}})
    assert gs.read_snapshot(db, ENV).draining == ("b:11434",)
