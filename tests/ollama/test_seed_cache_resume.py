"""A blob fetch of the seed cache cut midway resumes (the fake registry on a
real socket, its ``drop_after`` knob and ``served`` counter)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.ollama.seed_cache import CHUNK, Blob, SeedCache, SeedError
from ollama_webmgr.sim.catalog import Registry
from ollama_webmgr.sim.library import create_library_app
from ollama_webmgr.sim.serve import serve_in_thread

MODEL = ModelName.parse("llama3.2:latest")  # its weights: ~5 MB at this scale
SCALE = 0.0025


@pytest.fixture
def registry() -> Registry:
    return Registry(scale=SCALE)


@pytest.fixture
def registry_url(registry: Registry) -> Iterator[str]:
    with serve_in_thread(create_library_app(registry)) as running:
        yield running.url


def _weights(cache: SeedCache, registry_url: str) -> Blob:
    seeding = cache.open_seeding("s", MODEL, registry_url)
    return max(seeding.blobs, key=lambda blob: blob.size)


def _path(root: Path, blob: Blob) -> Path:
    return root / "blobs" / blob.digest.replace(":", "-")


def _partial(root: Path, blob: Blob) -> Path:
    return _path(root, blob).with_suffix(".partial")


def _verified(root: Path, blob: Blob) -> bool:
    data = _path(root, blob).read_bytes()
    return len(data) == blob.size and blob.digest.endswith(
        hashlib.sha256(data).hexdigest()
    )


def test_a_dropped_fetch_keeps_its_partial_and_the_next_fill_resumes_it(
    tmp_path: Path, registry: Registry, registry_url: str
) -> None:
    cache = SeedCache(tmp_path)
    weights = _weights(cache, registry_url)
    assert weights.size > 4 * CHUNK
    seeding = cache.open_seeding("s", MODEL, registry_url)
    registry.faults.update({"drop_after": weights.size // 2})
    with pytest.raises(SeedError):
        cache.fill(seeding, registry_url)
    assert registry.faults.drop_after is None  # the drop happened
    kept = _partial(tmp_path, weights).stat().st_size
    assert 0 < kept <= weights.size // 2

    fetched = cache.fill(seeding, registry_url)
    assert _verified(tmp_path, weights)
    assert not _partial(tmp_path, weights).exists()
    # the second fill asked only for the rest
    assert fetched == seeding.size - kept
    assert registry.served.of(weights.digest) <= weights.size + CHUNK
    assert registry.served.total <= seeding.size + CHUNK


def test_a_cancelled_fill_resumes_where_it_stopped(
    tmp_path: Path, registry: Registry, registry_url: str
) -> None:
    cache = SeedCache(tmp_path)
    weights = _weights(cache, registry_url)
    seeding = cache.open_seeding("s", MODEL, registry_url)
    seen: list[int] = []

    def progress(digest: str, completed: int, total: int) -> None:
        if digest == weights.digest:
            seen.append(completed)

    with pytest.raises(SeedError, match="cancelled"):
        cache.fill(
            seeding,
            registry_url,
            progress=progress,
            cancelled=lambda: bool(seen) and seen[-1] >= 2 * CHUNK,
        )
    kept = _partial(tmp_path, weights).stat().st_size
    assert kept >= 2 * CHUNK

    seen.clear()
    cache.fill(seeding, registry_url, progress=progress)
    assert _verified(tmp_path, weights)
    assert registry.served.of(weights.digest) <= weights.size + CHUNK
    # progress counts the kept bytes: it goes on from there, never back to 0
    assert min(seen) > kept


def test_a_partial_that_cannot_be_resumed_is_discarded(
    tmp_path: Path, registry: Registry, registry_url: str
) -> None:
    cache = SeedCache(tmp_path)
    weights = _weights(cache, registry_url)
    seeding = cache.open_seeding("s", MODEL, registry_url)
    partial = _partial(tmp_path, weights)
    partial.parent.mkdir(parents=True)
    # wrong bytes: the resumed whole fails its digest, then the blob comes whole
    partial.write_bytes(b"x" * (weights.size // 4))
    cache.fill(seeding, registry_url)
    assert _verified(tmp_path, weights)
    rest = weights.size - weights.size // 4
    assert registry.served.of(weights.digest) == rest + weights.size

    # larger than the blob: discarded before anything is asked
    _path(tmp_path, weights).unlink()
    registry.served.reset()
    partial.write_bytes(b"x" * (weights.size + 1))
    cache.fill(seeding, registry_url)
    assert _verified(tmp_path, weights)
    assert registry.served.of(weights.digest) == weights.size


def test_a_complete_partial_is_checked_and_kept_without_a_request(
    tmp_path: Path, registry: Registry, registry_url: str
) -> None:
    cache = SeedCache(tmp_path)
    weights = _weights(cache, registry_url)
    seeding = cache.open_seeding("s", MODEL, registry_url)
    cache.fill(seeding, registry_url)
    path = _path(tmp_path, weights)
    path.rename(_partial(tmp_path, weights))  # as if cut before its rename
    registry.served.reset()
    assert cache.fill(seeding, registry_url) == 0
    assert _verified(tmp_path, weights)
    assert registry.served.total == 0


def _ignoring_ranges(app: Any) -> Any:
    """The registry, answering every ranged GET with the whole blob (200)."""

    def wrapped(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        environ.pop("HTTP_RANGE", None)
        return app(environ, start_response)  # type: ignore[no-any-return]

    return wrapped


def test_a_registry_that_ignores_the_range_gives_the_blob_from_the_start(
    tmp_path: Path, registry: Registry
) -> None:
    app = _ignoring_ranges(create_library_app(registry))
    with serve_in_thread(app) as running:
        cache = SeedCache(tmp_path)
        weights = _weights(cache, running.url)
        seeding = cache.open_seeding("s", MODEL, running.url)
        registry.faults.update({"drop_after": weights.size // 2})
        with pytest.raises(SeedError):
            cache.fill(seeding, running.url)
        kept = _partial(tmp_path, weights).stat().st_size
        assert kept > 0
        cache.fill(seeding, running.url)
    assert _verified(tmp_path, weights)
    # the 200 was read from its first byte, not appended to the partial
    assert registry.served.of(weights.digest) <= weights.size // 2 + weights.size


def _ranges_from_zero(app: Any) -> Any:
    """The registry, answering every ranged GET from byte 0 (a 206 of another
    range than asked)."""

    def wrapped(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if "HTTP_RANGE" in environ:
            environ["HTTP_RANGE"] = "bytes=0-"
        return app(environ, start_response)  # type: ignore[no-any-return]

    return wrapped


def test_a_resume_answered_with_another_range_starts_over(
    tmp_path: Path, registry: Registry
) -> None:
    app = _ranges_from_zero(create_library_app(registry))
    with serve_in_thread(app) as running:
        cache = SeedCache(tmp_path)
        weights = _weights(cache, running.url)
        seeding = cache.open_seeding("s", MODEL, running.url)
        registry.faults.update({"drop_after": weights.size // 2})
        with pytest.raises(SeedError):
            cache.fill(seeding, running.url)
        assert _partial(tmp_path, weights).stat().st_size > 0
        fetched = cache.fill(seeding, running.url)
    assert _verified(tmp_path, weights)
    assert fetched >= weights.size  # the weights came whole, not appended
