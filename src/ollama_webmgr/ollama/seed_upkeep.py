"""Keeping the seed cache's disk in check (``SeedCache.fill`` calls ``tidy``).

- A seeding whose lease ended loses its file (``SeedCache.listed`` reads them).
- A ``.partial`` untouched for longer than the lease is dropped: the fetch
  that left it is long gone (a fetch writes its partial as bytes come).
- While the blobs (partials included) weigh more than the bound
  (``SEED_CACHE_MAX_SIZE``; 0: none), the least recently used blob no current
  seeding lists is evicted.

A blob's last use is its mtime: set when it is filled, moved when a fill finds
it already there and when the cache serves it (at most every minute). The
mtime is ours to set, unlike the atime, which mounts often leave stale
(``noatime``, ``relatime``).

Nothing is removed without the blob's lock, taken without waiting: a blob
being fetched or checked by a fill is passed over. Once locked, the seedings
are read again before a blob goes: a seeding opened meanwhile lists it before
its fill looks for it, so a fill never finds a blob that is about to vanish.
The blobs of the current seedings are never evicted, even over the bound.
The lock files stay (a few bytes each): removing one another process may hold
open would let two processes hold "the" lock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ollama_webmgr.ollama.seed_cache import SeedCache

_BLOB_PREFIX = "sha256-"
_PARTIAL = ".partial"


@dataclass
class Tidied:
    """What one ``tidy`` removed (hex digests) and the blobs' size after it."""

    evicted: list[str] = field(default_factory=list)
    partials: list[str] = field(default_factory=list)
    size: int = 0


@dataclass(frozen=True)
class _File:
    path: Path
    hexa: str
    size: int
    used: float  # mtime


def tidy(cache: SeedCache, now: float | None = None) -> Tidied:
    """Drop stale partials, then evict unlisted blobs until under the bound."""
    now = time.time() if now is None else now
    done = Tidied()
    listed = cache.listed()
    blobs, partials = _files(cache.root / "blobs")
    for partial in partials:
        if partial.used < now - cache.lease and _remove(cache, partial, None):
            done.partials.append(partial.hexa)
        else:
            done.size += partial.size
    done.size += sum(blob.size for blob in blobs)
    bound = cache.max_size
    if not bound:
        return done
    for blob in sorted(blobs, key=lambda item: item.used):
        if done.size <= bound:
            break
        if blob.hexa not in listed and _remove(cache, blob, listed):
            done.evicted.append(blob.hexa)
            done.size -= blob.size
    return done


def _remove(cache: SeedCache, item: _File, listed: set[str] | None) -> bool:
    """Remove ``item`` under its blob's lock if free; with ``listed``, only
    if no seeding lists it now (``listed`` is brought up to date)."""
    with cache.try_lock(f"blob-{item.hexa}") as locked:
        if not locked:
            return False
        if listed is not None:
            listed |= cache.listed()
            if item.hexa in listed:
                return False
        try:
            item.path.unlink()
        except OSError:  # gone meanwhile, or not ours to remove
            return False
        return True


def _files(folder: Path) -> tuple[list[_File], list[_File]]:
    """The complete blobs and the partials in ``folder``."""
    blobs: list[_File] = []
    partials: list[_File] = []
    if not folder.is_dir():
        return blobs, partials
    for path in folder.iterdir():
        name = path.name
        if not name.startswith(_BLOB_PREFIX):
            continue
        try:
            stat = path.stat()
        except OSError:
            continue  # gone meanwhile (renamed into place, or removed)
        hexa = name.removeprefix(_BLOB_PREFIX).removesuffix(_PARTIAL)
        item = _File(path, hexa, stat.st_size, stat.st_mtime)
        (partials if name.endswith(_PARTIAL) else blobs).append(item)
    return blobs, partials
