"""The model list cache with several web processes sharing Redis: two
``Services`` over one fleet and one store stand for two gunicorn workers."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleet_support import SMALL_MODELS, fleet_services
from ollama_webmgr.manager.cache import ModelsCache, RedisVersions
from ollama_webmgr.sim.fleet import EmulatedFleet, running_fleet
from ollama_webmgr.usecases import models
from ollama_webmgr.usecases.actor import Actor
from redis_fixtures import REDIS_URL

pytestmark = pytest.mark.redis
redis = pytest.importorskip("redis")


@pytest.fixture
def fleet() -> Iterator[EmulatedFleet]:
    with running_fleet([SMALL_MODELS]) as emulated:
        yield emulated


def names(listing: models.ServerModels) -> list[str]:
    return sorted(tag.name for tag in listing.models)


def test_a_delete_through_one_worker_is_seen_by_the_other(
    fleet: EmulatedFleet, tmp_path: Path, redis_prefix: str
) -> None:
    shared = {
        "redis_url": REDIS_URL,
        "redis_prefix": redis_prefix,
        "models_cache_ttl": 60.0,
    }
    with (
        fleet_services(fleet, tmp_path, **shared) as first,
        fleet_services(fleet, tmp_path, **shared) as second,
    ):
        assert names(models.list_models(second)) == sorted(SMALL_MODELS)
        assert models.list_models(second).cached  # the next read is a hit
        models.delete_model(first, Actor("test"), None, SMALL_MODELS[0])
        listing = models.list_models(second)
        assert not listing.cached
        assert names(listing) == sorted(SMALL_MODELS[1:])


def test_a_finished_job_watched_by_one_worker_drops_the_others_entry(
    redis_conn: Any, redis_prefix: str
) -> None:
    url = "http://node:11434"
    first = ModelsCache(versions=RedisVersions(redis_conn, redis_prefix))
    second = ModelsCache(versions=RedisVersions(redis_conn, redis_prefix))
    finished: set[str] = set()
    second.put(url, ["old"])
    first.watch(url, "job-1")  # a pull submitted through the first worker
    assert second.get(url, ttl=60, is_finished=finished.__contains__) is None
    second.put(url, ["during the pull"])
    assert second.get(url, ttl=60, is_finished=finished.__contains__) == [
        "during the pull"
    ]
    finished.add("job-1")  # the RQ worker ended it
    assert second.get(url, ttl=60, is_finished=finished.__contains__) is None
    assert first.versions.watched(url) == set()


def test_a_listing_fetched_during_a_delete_is_not_served(
    redis_conn: Any, redis_prefix: str
) -> None:
    url = "http://node:11434"
    reader = ModelsCache(versions=RedisVersions(redis_conn, redis_prefix))
    writer = ModelsCache(versions=RedisVersions(redis_conn, redis_prefix))
    version = reader.version(url)  # the fetch starts...
    writer.invalidate(url)  # ...a delete ends elsewhere...
    reader.put(url, ["deleted model"], version=version)  # ...the fetch ends
    assert reader.get(url, ttl=60) is None


def test_with_redis_unreachable_nothing_stale_is_served() -> None:
    from ollama_webmgr.redis_client import quick_connection

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = quick_connection(f"redis://127.0.0.1:{port}/0")
    cache = ModelsCache(versions=RedisVersions(down, "unreachable"))
    url = "http://node:11434"
    cache.watch(url, "job-1")
    cache.put(url, ["m"], version=cache.version(url))
    assert cache.get(url, ttl=60, is_finished=lambda _: True) is None
    cache.invalidate(url)


def test_with_redis_every_shared_part_is_the_redis_one(
    fleet: EmulatedFleet, tmp_path: Path, redis_prefix: str
) -> None:
    from ollama_webmgr.gateway.limiter import Slots
    from ollama_webmgr.gateway.redis_slots import RedisSlots
    from ollama_webmgr.jobs.bus import MemoryBus
    from ollama_webmgr.jobs.redis_bus import RedisBus
    from ollama_webmgr.jobs.rq_runner import RQRunner
    from ollama_webmgr.jobs.runner import ThreadRunner
    from ollama_webmgr.manager.cache import LocalVersions

    shared = {"redis_url": REDIS_URL, "redis_prefix": redis_prefix}
    with fleet_services(fleet, tmp_path, **shared) as services:
        assert isinstance(services.runner, RQRunner)  # never the ThreadRunner
        assert isinstance(services.bus, RedisBus)
        assert isinstance(services.gateway.app.slots, RedisSlots)
        assert isinstance(services.models_cache.versions, RedisVersions)
    with fleet_services(fleet, tmp_path / "alone") as services:
        assert isinstance(services.runner, ThreadRunner)
        assert isinstance(services.bus, MemoryBus)
        assert type(services.gateway.app.slots) is Slots
        assert isinstance(services.models_cache.versions, LocalVersions)
