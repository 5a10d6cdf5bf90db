"""Where an emulated node keeps the blobs it pulls: in memory, or on disk as Ollama.

``DiskStore(models_dir)`` uses Ollama's layout (contract §6.1), so a node agent
reads the same files as on a real node: ``manifests/<host>/<ns>/<model>/<tag>``
(the registry's bytes, verbatim), ``blobs/sha256-<hex>``, and while a blob
downloads ``blobs/sha256-<hex>-partial`` plus one JSON file per part,
``-partial-<N>``, recording ``N``, ``Offset``, ``Size``, ``Completed`` (Ollama's
own field names) so that a later pull resumes where the parts stopped.
``MemoryStore`` keeps the same things in memory (no data directory), and only a
blob's sha256 once it is complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ollama_webmgr.ollama.names import ModelName


@dataclass
class Part:
    n: int
    offset: int
    size: int
    completed: int = 0

    @property
    def starts_at(self) -> int:
        return self.offset + self.completed

    @property
    def stops_at(self) -> int:
        return self.offset + self.size

    @property
    def done(self) -> bool:
        return self.completed >= self.size


def split(total: int, parts: int, minimum: int) -> list[Part]:
    """Ollama's split: ``parts`` parts, none under ``minimum`` (the last may be).

    >>> [(p.offset, p.size) for p in split(10, 4, 3)]
    [(0, 3), (3, 3), (6, 3), (9, 1)]
    >>> [(p.offset, p.size) for p in split(1000, 4, 100)]
    [(0, 250), (250, 250), (500, 250), (750, 250)]
    """
    size = max(minimum, -(-total // parts), 1)
    return [
        Part(n, offset, min(size, total - offset))
        for n, offset in enumerate(range(0, total, size))
    ]


class BlobStore(Protocol):
    def size(self, digest: str) -> int | None:
        """Size of the complete blob, None when it is not there."""

    def parts(self, digest: str) -> list[Part]:
        """The parts of a partial download kept earlier ([] when none)."""

    def begin(self, digest: str, total: int, parts: list[Part]) -> None:
        """Make room for a partial download and record its parts."""

    def write(self, digest: str, offset: int, data: bytes) -> None: ...

    def save_parts(self, digest: str, parts: list[Part]) -> None: ...

    def finish(self, digest: str) -> None:
        """The partial download is complete: it becomes the blob."""

    def actual_digest(self, digest: str) -> str:
        """``sha256:<hex>`` of the blob's bytes (Ollama's verify step)."""

    def remove(self, digest: str) -> None:
        """Forget the blob (and any partial download of it)."""

    def write_manifest(self, name: ModelName, manifest: bytes) -> None: ...

    def remove_manifest(self, name: ModelName) -> None: ...

    def clear_partials(self) -> None: ...


class MemoryStore:
    """Partial downloads in memory; complete blobs as their size and sha256."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._partial: dict[str, tuple[bytearray, list[Part]]] = {}
        self._complete: dict[str, tuple[int, str]] = {}

    def size(self, digest: str) -> int | None:
        with self._lock:
            found = self._complete.get(digest)
        return found[0] if found else None

    def parts(self, digest: str) -> list[Part]:
        with self._lock:
            found = self._partial.get(digest)
        return (
            [Part(p.n, p.offset, p.size, p.completed) for p in found[1]]
            if found
            else []
        )

    def begin(self, digest: str, total: int, parts: list[Part]) -> None:
        with self._lock:
            if digest not in self._partial:
                self._partial[digest] = (bytearray(total), [])
        self.save_parts(digest, parts)

    def write(self, digest: str, offset: int, data: bytes) -> None:
        buffer = self._partial[digest][0]
        buffer[offset : offset + len(data)] = data

    def save_parts(self, digest: str, parts: list[Part]) -> None:
        copies = [Part(p.n, p.offset, p.size, p.completed) for p in parts]
        with self._lock:
            found = self._partial.get(digest)
            if found is not None:  # else forgotten meanwhile (a reset)
                self._partial[digest] = (found[0], copies)

    def finish(self, digest: str) -> None:
        with self._lock:
            buffer, _ = self._partial.pop(digest)
            self._complete[digest] = (len(buffer), hashlib.sha256(buffer).hexdigest())

    def actual_digest(self, digest: str) -> str:
        with self._lock:
            return "sha256:" + self._complete[digest][1]

    def remove(self, digest: str) -> None:
        with self._lock:
            self._partial.pop(digest, None)
            self._complete.pop(digest, None)

    def write_manifest(self, name: ModelName, manifest: bytes) -> None:
        pass  # the node's state holds manifests

    def remove_manifest(self, name: ModelName) -> None:
        pass

    def clear_partials(self) -> None:
        with self._lock:
            self._partial.clear()


class DiskStore:
    """Ollama's ``$OLLAMA_MODELS`` layout under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self.manifests = root / "manifests"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.manifests.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        return self.blobs / digest.replace(":", "-")

    def _partial(self, digest: str) -> Path:
        return self.blobs / (digest.replace(":", "-") + "-partial")

    def size(self, digest: str) -> int | None:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            return None

    def parts(self, digest: str) -> list[Part]:
        partial = self._partial(digest)
        if not partial.exists():
            return []
        found = []
        for path in partial.parent.glob(partial.name + "-*"):
            data = json.loads(path.read_text())
            found.append(
                Part(data["N"], data["Offset"], data["Size"], data["Completed"])
            )
        return sorted(found, key=lambda part: part.n)

    def begin(self, digest: str, total: int, parts: list[Part]) -> None:
        partial = self._partial(digest)
        with partial.open("ab") as file:
            file.truncate(total)
        self.save_parts(digest, parts)

    def write(self, digest: str, offset: int, data: bytes) -> None:
        with self._partial(digest).open("r+b") as file:
            file.seek(offset)
            file.write(data)

    def save_parts(self, digest: str, parts: list[Part]) -> None:
        partial = self._partial(digest)
        for part in parts:
            record = {
                "N": part.n,
                "Offset": part.offset,
                "Size": part.size,
                "Completed": part.completed,
            }
            path = partial.with_name(f"{partial.name}-{part.n}")
            path.write_text(json.dumps(record) + "\n")

    def finish(self, digest: str) -> None:
        partial = self._partial(digest)
        for path in partial.parent.glob(partial.name + "-*"):
            path.unlink()
        partial.replace(self.path(digest))

    def actual_digest(self, digest: str) -> str:
        hasher = hashlib.sha256()
        with self.path(digest).open("rb") as file:
            while chunk := file.read(1 << 20):
                hasher.update(chunk)
        return "sha256:" + hasher.hexdigest()

    def remove(self, digest: str) -> None:
        partial = self._partial(digest)
        for path in [
            self.path(digest),
            partial,
            *partial.parent.glob(partial.name + "-*"),
        ]:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def manifest_path(self, name: ModelName) -> Path:
        return self.manifests / name.host / name.namespace / name.model / name.tag

    def write_manifest(self, name: ModelName, manifest: bytes) -> None:
        path = self.manifest_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(manifest)

    def remove_manifest(self, name: ModelName) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.manifest_path(name).unlink()

    def write_blob(self, digest: str, chunks: Iterable[bytes]) -> None:
        """Store a blob whole (models installed without a pull)."""
        with self.path(digest).open("wb") as file:
            for chunk in chunks:
                file.write(chunk)

    def clear_partials(self) -> None:
        for path in self.blobs.glob("sha256-*-partial*"):
            path.unlink()
