"""Deterministic bytes for the catalogue's large layers (weights, projectors).

A layer's bytes are a function of its seed and size only, readable at any
offset (the fake registry serves ranges), so nothing is stored: block ``k`` of
``BLOCK`` bytes is SHAKE-128 of ``seed + k``. The layer's digest is the sha256
of exactly those bytes, computed once per process (``generated_digest``).

>>> data = generated_bytes(b"seed", 100_000, 0, 100_000)
>>> generated_bytes(b"seed", 100_000, 65_530, 65_540) == data[65_530:65_540]
True
>>> generated_digest(b"seed", 100_000) == "sha256:" + hashlib.sha256(data).hexdigest()
True
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator

BLOCK = 1 << 16


def _block(seed: bytes, index: int) -> bytes:
    return hashlib.shake_128(seed + index.to_bytes(8, "big")).digest(BLOCK)


def generated_chunks(seed: bytes, size: int, start: int, end: int) -> Iterator[bytes]:
    """Bytes ``[start, end)`` of the layer, one block-aligned piece at a time."""
    end = min(end, size)
    position = start
    while position < end:
        index, skip = divmod(position, BLOCK)
        piece = _block(seed, index)[skip : skip + end - position]
        position += len(piece)
        yield piece


def generated_bytes(seed: bytes, size: int, start: int, end: int) -> bytes:
    return b"".join(generated_chunks(seed, size, start, end))


@functools.lru_cache(maxsize=512)
def generated_digest(seed: bytes, size: int) -> str:
    """``sha256:<hex>`` of the whole layer (a pure function, hence the cache)."""
    hasher = hashlib.sha256()
    for chunk in generated_chunks(seed, size, 0, size):
        hasher.update(chunk)
    return "sha256:" + hasher.hexdigest()
