"""The seed cache keeps under its bound: what a fill evicts, what it keeps
(the fake registry on a real socket, the cache's files on disk)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.ollama.seed_cache import (
    DEFAULT_MAX_SIZE,
    SeedCache,
    Seeding,
)
from ollama_webmgr.ollama.seed_upkeep import tidy
from ollama_webmgr.sim.catalog import Registry
from ollama_webmgr.sim.library import create_library_app
from ollama_webmgr.sim.serve import serve_in_thread

OLD = ModelName.parse("qwen2.5:0.5b")
USED = ModelName.parse("nomic-embed-text:latest")
NEW = ModelName.parse("gemma3:1b")
LEASE = 2.0  # seconds: the first seedings end during the test


@pytest.fixture
def registry_url() -> Iterator[str]:
    with serve_in_thread(create_library_app(Registry())) as running:
        yield running.url


def _files(root: Path, seeding: Seeding) -> list[Path]:
    return [root / "blobs" / b.digest.replace(":", "-") for b in seeding.blobs]


def _held(root: Path, seeding: Seeding) -> bool:
    return all(path.exists() for path in _files(root, seeding))


def _weights(root: Path, seeding: Seeding) -> Path:
    return max(_files(root, seeding), key=lambda path: path.stat().st_size)


def _held_size(root: Path) -> int:
    return sum(path.stat().st_size for path in (root / "blobs").iterdir())


def _aged(root: Path, seeding: Seeding, seconds_ago: float) -> None:
    when = time.time() - seconds_ago
    for path in _files(root, seeding):
        os.utime(path, (when, when))


def _seed(cache: SeedCache, seed_id: str, name: ModelName, url: str) -> Seeding:
    seeding = cache.open_seeding(seed_id, name, url)
    cache.fill(seeding, url)
    return seeding


def _ended(*seedings: Seeding) -> None:
    time.sleep(max(0.0, max(s.expires for s in seedings) - time.time()) + 0.05)


def test_over_the_bound_the_least_recently_used_ended_seeding_goes(
    tmp_path: Path, registry_url: str
) -> None:
    short = SeedCache(tmp_path, lease=LEASE, max_size=0)
    old = _seed(short, "old", OLD, registry_url)
    used = _seed(short, "used", USED, registry_url)
    _aged(tmp_path, used, 3000)  # filled long ago…
    _aged(tmp_path, old, 2000)
    # …but served since, which counts as a use (the newest one)
    for blob in used.blobs:
        assert short.blob_path("library", "nomic-embed-text", blob.digest)
    _ended(old, used)

    new_size = SeedCache(tmp_path).open_seeding("peek", NEW, registry_url).size
    bound = used.size + new_size + old.size // 2  # one of the two must go
    cache = SeedCache(tmp_path, max_size=bound)
    old_weights = _weights(tmp_path, old)
    new = _seed(cache, "new", NEW, registry_url)
    # blob by blob, the least recently used first, until under the bound: the
    # old model's weights went, and that was enough
    assert not old_weights.exists()
    assert _held_size(tmp_path) <= bound
    assert _held(tmp_path, used)
    assert _held(tmp_path, new)
    assert not (tmp_path / "seeds" / "old.json").exists()  # expired: dropped
    assert not (tmp_path / "seeds" / "used.json").exists()
    assert (tmp_path / "seeds" / "new.json").exists()


def test_a_current_seeding_and_a_locked_blob_are_never_evicted(
    tmp_path: Path, registry_url: str
) -> None:
    short = SeedCache(tmp_path, lease=LEASE, max_size=0)
    old = _seed(short, "old", OLD, registry_url)
    current = _seed(SeedCache(tmp_path, max_size=0), "current", USED, registry_url)
    _ended(old)
    weights = max(old.blobs, key=lambda blob: blob.size)

    cache = SeedCache(tmp_path, max_size=1)  # far under what is held
    with cache.try_lock(f"blob-{weights.digest.removeprefix('sha256:')}") as locked:
        assert locked
        new = _seed(cache, "new", NEW, registry_url)
    assert _held(tmp_path, new)  # this fill's own seeding
    assert _held(tmp_path, current)  # a seeding whose lease is running
    shared = set(_files(tmp_path, new)) | set(_files(tmp_path, current))
    held = {path.name for path in set(_files(tmp_path, old)) - shared if path.exists()}
    # only the blob being fetched or checked by another fill stayed
    assert held == {weights.digest.replace(":", "-")}

    # the lock released, the next pass evicts it
    done = tidy(cache)
    assert done.evicted == [weights.digest.removeprefix("sha256:")]
    assert done.size == sum(b.size for b in [*new.blobs, *current.blobs])


def test_stale_partials_go_and_recent_ones_stay(
    tmp_path: Path, registry_url: str
) -> None:
    cache = SeedCache(tmp_path, lease=60.0, max_size=0)  # no bound: only the partials
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    stale = blobs / ("sha256-" + "a" * 64 + ".partial")
    recent = blobs / ("sha256-" + "b" * 64 + ".partial")
    stale.write_bytes(b"left by a fetch long gone")
    recent.write_bytes(b"a fetch cut a moment ago")
    long_ago = time.time() - 61.0
    os.utime(stale, (long_ago, long_ago))
    seeding = _seed(cache, "one", OLD, registry_url)
    assert not stale.exists()
    assert recent.exists()
    assert _held(tmp_path, seeding)


def test_the_bound_is_published_to_the_processes_without_settings(
    tmp_path: Path,
) -> None:
    assert SeedCache(tmp_path).max_size == DEFAULT_MAX_SIZE
    SeedCache(tmp_path).publish_max_size(5 << 30)
    assert SeedCache(tmp_path).max_size == 5 << 30  # a job's cache, a gateway's
    assert SeedCache(tmp_path, max_size=7).max_size == 7
    SeedCache(tmp_path).publish_max_size(0)
    assert SeedCache(tmp_path).max_size == 0  # no bound


def test_no_bound_evicts_nothing(tmp_path: Path, registry_url: str) -> None:
    short = SeedCache(tmp_path, lease=LEASE, max_size=0)
    old = _seed(short, "old", OLD, registry_url)
    _ended(old)
    _seed(SeedCache(tmp_path, max_size=0), "new", NEW, registry_url)
    assert _held(tmp_path, old)


def test_the_web_app_publishes_its_setting(tmp_path: Path) -> None:
    from fleet_support import FAST, SMALL_MODELS, fleet_services
    from ollama_webmgr.runtime.webapp import create_app
    from ollama_webmgr.sim.fleet import running_fleet

    with (
        running_fleet([SMALL_MODELS], bandwidth=FAST) as fleet,
        fleet_services(fleet, tmp_path, seed_cache_max_size=3 << 30) as services,
    ):
        create_app(services=services)
        # what a seeding job builds: the directory only
        assert SeedCache(services.settings.seed_cache_path).max_size == 3 << 30
