"""The seed cache's files against the fake registry on a real socket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.ollama.seed_cache import SeedCache, SeedError
from ollama_webmgr.sim.catalog import Registry
from ollama_webmgr.sim.library import create_library_app
from ollama_webmgr.sim.serve import serve_in_thread

MODEL = ModelName.parse("all-minilm:latest")


@pytest.fixture
def registry() -> Registry:
    return Registry()


@pytest.fixture
def registry_url(registry: Registry) -> Iterator[str]:
    with serve_in_thread(create_library_app(registry)) as running:
        yield running.url


def test_blobs_are_fetched_once_and_verified(
    tmp_path: Path, registry: Registry, registry_url: str
) -> None:
    cache = SeedCache(tmp_path)
    seeding = cache.open_seeding("one", MODEL, registry_url)
    assert cache.fill(seeding, registry_url) == seeding.size
    again = cache.open_seeding("two", MODEL, registry_url)
    assert cache.fill(again, registry_url) == 0
    assert registry.served.total == seeding.size
    blob = seeding.blobs[0]
    path = cache.blob_path("library", "all-minilm", blob.digest)
    assert path is not None
    assert path.stat().st_size == blob.size


def test_a_corrupted_blob_is_refused_and_not_kept(
    tmp_path: Path, registry: Registry, registry_url: str
) -> None:
    cache = SeedCache(tmp_path)
    seeding = cache.open_seeding("one", MODEL, registry_url)
    registry.faults.update({"corrupt": True})
    with pytest.raises(SeedError, match="digest mismatch"):
        cache.fill(seeding, registry_url)
    assert not list((tmp_path / "blobs").iterdir())


def test_nothing_is_served_once_the_lease_ended(
    tmp_path: Path, registry_url: str
) -> None:
    cache = SeedCache(tmp_path, lease=-1.0)  # already over
    seeding = cache.open_seeding("one", MODEL, registry_url)
    cache.fill(seeding, registry_url)
    assert cache.manifest_for("library", "all-minilm", "latest") is None
    assert cache.blob_path("library", "all-minilm", seeding.blobs[0].digest) is None
    assert not list((tmp_path / "seeds").glob("*.json"))  # the lease file went


def test_an_unknown_model_or_a_bad_id_is_refused(
    tmp_path: Path, registry_url: str
) -> None:
    cache = SeedCache(tmp_path)
    with pytest.raises(SeedError, match="unknown to the registry"):
        cache.open_seeding("one", ModelName.parse("nothing-here:1b"), registry_url)
    with pytest.raises(SeedError, match="invalid seeding id"):
        cache.open_seeding("../x", MODEL, registry_url)
