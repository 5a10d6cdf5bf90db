"""The once-per-fleet chores: one process on duty among those sharing Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleet_support import SMALL_MODELS, closed_port_url, fleet_services
from ollama_webmgr.manager.duty import Duty
from ollama_webmgr.redis_client import quick_connection
from ollama_webmgr.sim.fleet import EmulatedFleet, running_fleet
from redis_fixtures import REDIS_URL


def test_alone_a_process_is_always_on_duty() -> None:
    duty = Duty()
    assert duty.held
    assert duty.renew()


def test_one_of_two_processes_holds_the_lease_and_hands_it_over(
    redis_conn: Any, redis_prefix: str
) -> None:
    first, second = Duty(redis_conn, redis_prefix), Duty(redis_conn, redis_prefix)
    assert first.renew()
    assert first.renew()
    assert not second.renew()
    assert not second.held
    first.release()
    assert not first.held
    assert second.renew()
    assert not first.renew()


def test_a_process_standing_aside_never_takes_the_chores(
    redis_conn: Any, redis_prefix: str
) -> None:
    gateway, web = Duty(redis_conn, redis_prefix), Duty(redis_conn, redis_prefix)
    assert gateway.renew()
    gateway.stand_aside()  # hands over what it held
    assert not gateway.held
    assert web.renew()
    web.release()
    assert not gateway.renew()
    alone = Duty()
    alone.stand_aside()  # without Redis nobody else would do them
    assert alone.renew()


def test_the_lease_of_a_dead_process_runs_out(
    redis_conn: Any, redis_prefix: str
) -> None:
    dead = Duty(redis_conn, redis_prefix, ttl=0.3)
    other = Duty(redis_conn, redis_prefix, ttl=0.3)
    assert dead.renew()
    assert not other.renew()
    time.sleep(0.5)  # ``dead`` never renews again
    assert other.renew()
    assert not dead.renew()


def test_without_redis_every_process_does_the_chores() -> None:
    duty = Duty(quick_connection(closed_port_url().replace("http", "redis")), "x")
    assert duty.renew()
    assert duty.held


@pytest.fixture
def fleet() -> Iterator[EmulatedFleet]:
    with running_fleet([SMALL_MODELS]) as emulated:
        yield emulated


def test_only_the_process_on_duty_writes_the_health_history(
    fleet: EmulatedFleet, tmp_path: Path, redis_prefix: str
) -> None:
    shared = {"redis_url": REDIS_URL, "redis_prefix": redis_prefix}
    with (
        fleet_services(fleet, tmp_path, **shared) as first,
        fleet_services(fleet, tmp_path, **shared) as second,
    ):
        first.start(jobs=False)  # its first health round is recorded
        recorded = first.db.series_counts()["server_stats"]
        assert recorded > 0
        assert first.duty.held
        second.start(jobs=False)  # probes too, records nothing
        assert not second.duty.held
        assert second.db.series_counts()["server_stats"] == recorded
        first.stop()  # hands the lease over
        assert second.duty.renew()
        second.gateway.monitor.check_all()
        assert second.db.series_counts()["server_stats"] > recorded
