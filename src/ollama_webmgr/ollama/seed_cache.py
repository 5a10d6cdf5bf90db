"""The pull-through cache that seeds a fleet: one download from the registry.

When a model goes to several nodes, each seeding job (``jobs/seeding.py``)
opens a *seeding* here: the manifest is fetched from the registry once per
seeding (the first job to take the seeding's lock fetches it, the others read
it), then every blob it lists is fetched once into a content-addressed
directory (``blobs/sha256-<hex>``, sha256 verified before it is renamed into
place). The nodes then pull ``<cache>/<ns>/<model>:<tag>`` from the registry
protocol ``seed_registry`` serves over this directory.

Everything lives in files under one directory (the data dir's
``seed-cache``), so the web workers that serve the blobs and the job (a
thread of the web process or an RQ worker on the same machine) agree without
talking. Locks are ``flock``s taken without blocking and retried: a blocked
system call would hold every greenlet of a gevent process.

With a ``rate`` (bytes/s), every download from the registry draws from one
``Budget`` (``ollama/bandwidth.py``) shared by all the processes filling this
cache: the internet line's cap. Its connections then take a small socket
receive buffer and read in small chunks, so that the registry cannot push
megabytes into the kernel ahead of the cap; and each connection pays a deposit
before it opens for the bytes the registry may send ahead of our reads (the
receive window and what is in flight: ``PREPAID``, and one chunk), so that the burst at the
start of each blob is never on top of the cap (the deposit is not given back:
about ``PREPAID / rate`` seconds of the line per blob).

A blob fetch cut midway (the connection dropped, the registry gone, the job
cancelled) keeps its ``.partial``; the next fill of that blob asks for the
rest (``Range: bytes=<n>-``) and continues the hash over the bytes kept. Only
the process holding the blob's lock touches its partial.

Only what a seeding lists is served, and only while its lease lasts: the
cache is no open proxy. Blobs stay after the lease (a later seeding of the
same model finds them) until the cache grows past its bound: after each fill,
``ollama/seed_upkeep.py`` evicts the least recently used blobs no current
seeding lists.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from ollama_webmgr.ollama.bandwidth import Budget, Snapshot
from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.ollama.registry import MANIFEST_ACCEPT, ollama_user_agent
from ollama_webmgr.ollama.seed_upkeep import tidy

LEASE = 6 * 3600.0  # seconds a seeding stays served after its last job touched it
#: the cache's bound when none was published (``SEED_CACHE_MAX_SIZE``'s default)
DEFAULT_MAX_SIZE = 20 << 30
#: a served blob's mtime (its last use, for eviction) is moved at most this often
TOUCH_EVERY = 60.0
CHUNK = 1 << 20
#: the kernel's receive buffer of a capped download (it doubles it)
CAPPED_RCVBUF = 1 << 15
#: bytes a capped connection pays for before it opens: what the registry can
#: send ahead of our reads (the doubled receive buffer, as much in flight),
#: plus the chunk read before it is paid for (``Budget.quantum``)
PREPAID = 4 * CAPPED_RCVBUF
#: the registry's budget in ``<cache>/bandwidth`` (``ollama/bandwidth.py``)
REGISTRY_BUDGET = "registry"
_SEED_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
_DIGEST = re.compile(r"^sha256:([0-9a-f]{64})$")
_ALIAS = re.compile(r"^(.+)--node-([0-9a-f]{8})$")
_NAMESPACE_MAX = 80  # what Ollama accepts
_log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # digest, completed, total


class SeedError(Exception):
    """The registry could not give the cache what a seeding needs."""


@dataclass(frozen=True)
class Blob:
    digest: str
    size: int


def manifest_blobs(manifest: bytes) -> list[Blob]:
    """The blobs a manifest lists: its layers, then its config.

    >>> manifest_blobs(b'{"layers": [{"digest": "sha256:a", "size": 3}],'
    ...                b' "config": {"digest": "sha256:c", "size": 1}}')
    [Blob(digest='sha256:a', size=3), Blob(digest='sha256:c', size=1)]
    """
    body = json.loads(manifest)
    listed = [*body.get("layers", []), body["config"]]
    return [Blob(str(item["digest"]), int(item["size"])) for item in listed]


@dataclass(frozen=True)
class Seeding:
    """One model being seeded: its manifest (the registry's bytes) and blobs."""

    seed_id: str
    name: ModelName
    manifest: bytes
    expires: float

    @property
    def blobs(self) -> list[Blob]:
        return manifest_blobs(self.manifest)

    @property
    def size(self) -> int:
        return sum(blob.size for blob in self.blobs)

    @property
    def digest(self) -> str:
        """What ``/api/tags`` shows for the model once pulled (contract §6.2)."""
        return hashlib.sha256(self.manifest).hexdigest()

    def serves(self, namespace: str, model: str, tag: str) -> bool:
        wanted = (namespace.casefold(), model.casefold(), tag.casefold())
        own = self.name.key[1:]
        return wanted == own and time.time() < self.expires


def node_namespace(namespace: str, node_url: str) -> str:
    """The namespace one node pulls a seeded model under: the model's, tagged
    with a token of the node, so that the cache knows which node asks (several
    nodes may share an address: one host, a NAT). Too long: the namespace as is.

    >>> node_namespace("library", "http://10.0.0.7:11434")
    'library--node-1a752f72'
    >>> split_namespace("library--node-1a752f72"), split_namespace("library")
    (('library', '1a752f72'), ('library', None))
    """
    token = hashlib.sha256(node_url.encode()).hexdigest()[:8]
    alias = f"{namespace}--node-{token}"
    return alias if len(alias) <= _NAMESPACE_MAX else namespace


def split_namespace(namespace: str) -> tuple[str, str | None]:
    """The model's namespace and the node's token (None: no token)."""
    found = _ALIAS.match(namespace)
    return (found.group(1), found.group(2)) if found else (namespace, None)


class SeedCache:
    """The cache's directory: seedings, blobs, locks."""

    def __init__(
        self,
        root: Path,
        *,
        lease: float = LEASE,
        rate: float | None = None,
        max_size: int | None = None,
    ) -> None:
        self.root = root
        self.lease = lease
        #: what every download from the registry draws from (no cap: unlimited)
        self.budget = Budget(self.bandwidth_dir, REGISTRY_BUDGET, rate)
        self._max_size = max_size

    @property
    def max_size(self) -> int:
        """The cache's bound in bytes (0: none): the one given, else the one the
        web app published from its settings (the jobs and the gateway build
        their cache without settings), else ``DEFAULT_MAX_SIZE``."""
        if self._max_size is not None:
            return self._max_size
        try:
            return max(0, int(self._max_size_file.read_text()))
        except (OSError, ValueError):
            return DEFAULT_MAX_SIZE

    def publish_max_size(self, max_size: int) -> None:
        """Make ``max_size`` the bound of every process using this directory."""
        data = str(max(0, max_size)).encode()
        with contextlib.suppress(OSError):
            if self._max_size_file.read_bytes() == data:
                return  # the usual case: another worker of the web app wrote it
        _atomic_write(self._max_size_file, data, unique=True)

    @property
    def _max_size_file(self) -> Path:
        return self.root / "max-size"

    @property
    def bandwidth_dir(self) -> Path:
        return self.root / "bandwidth"

    def node_budget(self, address: str, rate: float | None) -> Budget:
        """The budget of what the cache serves to one node (its address)."""
        return Budget(self.bandwidth_dir, f"node-{address}", rate)

    def registry_use(self) -> Snapshot:
        """The registry downloads running now, from every process."""
        return self.budget.snapshot()

    # -- the seeding jobs' side --

    def open_seeding(
        self, seed_id: str, name: ModelName, registry_url: str, timeout: float = 30.0
    ) -> Seeding:
        """The seeding ``seed_id``: its manifest fetched now unless a job of the
        same seeding already did (the lease is renewed either way)."""
        if not _SEED_ID.match(seed_id):
            raise SeedError(f"invalid seeding id {seed_id!r}")
        with self._lock(f"seed-{seed_id}"):
            found = self._read_seeding(seed_id)
            if found is not None and found.name.key == name.key:
                manifest = found.manifest
            else:
                manifest = _fetch_manifest(registry_url, name, timeout)
            seeding = Seeding(seed_id, name, manifest, time.time() + self.lease)
            self._write_seeding(seeding)
        return seeding

    def fill(
        self,
        seeding: Seeding,
        registry_url: str,
        *,
        progress: Progress | None = None,
        cancelled: Callable[[], bool] = lambda: False,
        timeout: float = 30.0,
        waiting: Callable[[], None] | None = None,
    ) -> int:
        """Fetch the blobs the cache lacks; the bytes this call took from the registry.

        ``waiting`` is called (often) while another job fetches a blob this one needs.
        """
        fetched = 0
        for blob in seeding.blobs:
            hexa = _hex(blob.digest)
            with self._lock(f"blob-{hexa}", cancelled, waiting):
                if self._blob(hexa).exists():
                    _touch(self._blob(hexa))  # used again: last to be evicted
                    if progress:
                        progress(blob.digest, blob.size, blob.size)
                    continue
                url = _blob_url(registry_url, seeding.name, blob.digest)
                fetched += self._download(url, blob, progress, cancelled, timeout)
        try:
            tidy(self)
        except OSError as error:  # the blobs are there: the fill succeeded
            _log.warning("seed cache upkeep failed: %s", error)
        return fetched

    # -- the upkeep's side (``ollama/seed_upkeep.py``) --

    def listed(self) -> set[str]:
        """The hex digests of the blobs a current seeding lists (reading the
        seedings drops the files of those whose lease ended)."""
        return {_hex(blob.digest) for s in self._seedings() for blob in s.blobs}

    @contextlib.contextmanager
    def try_lock(self, name: str) -> Iterator[bool]:
        """The lock ``name`` if free now (True), else nothing (False): no wait."""
        folder = self.root / "locks"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / name, "a+b") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    # -- the serving side --

    def manifest_for(self, namespace: str, model: str, tag: str) -> bytes | None:
        """The manifest of a model being seeded (the newest seeding), else None."""
        namespace, _ = split_namespace(namespace)
        found = [s for s in self._seedings() if s.serves(namespace, model, tag)]
        if not found:
            return None
        return max(found, key=lambda seeding: seeding.expires).manifest

    def blob_path(self, namespace: str, model: str, digest: str) -> Path | None:
        """The file of a blob a current seeding of that model lists and the cache holds."""
        match = _DIGEST.match(digest)
        if match is None:
            return None
        namespace, _ = split_namespace(namespace)
        for seeding in self._seedings():
            if not seeding.serves(namespace, model, seeding.name.tag):
                continue
            if any(blob.digest == digest for blob in seeding.blobs):
                path = self._blob(match.group(1))
                if not path.exists():
                    return None
                _touch(path, TOUCH_EVERY)  # served: its last use, for eviction
                return path
        return None

    # -- files --

    def _blob(self, hexa: str) -> Path:
        return self.root / "blobs" / f"sha256-{hexa}"

    def _seeding_file(self, seed_id: str) -> Path:
        return self.root / "seeds" / f"{seed_id}.json"

    def _read_seeding(self, seed_id: str) -> Seeding | None:
        try:
            data = json.loads(self._seeding_file(seed_id).read_text())
            return Seeding(
                seed_id,
                ModelName.parse(str(data["model"])),
                base64.b64decode(data["manifest"]),
                float(data["expires"]),
            )
        except (OSError, ValueError, KeyError):
            return None

    def _write_seeding(self, seeding: Seeding) -> None:
        data = {
            "model": seeding.name.display,
            "manifest": base64.b64encode(seeding.manifest).decode(),
            "expires": seeding.expires,
        }
        _atomic_write(self._seeding_file(seeding.seed_id), json.dumps(data).encode())

    def _seedings(self) -> list[Seeding]:
        folder = self.root / "seeds"
        if not folder.is_dir():
            return []
        current = []
        for path in folder.glob("*.json"):
            seeding = self._read_seeding(path.stem)
            if seeding is not None and time.time() < seeding.expires:
                current.append(seeding)
            elif seeding is not None:
                path.unlink(missing_ok=True)  # its lease ended: nothing serves it
        return current

    @contextlib.contextmanager
    def _lock(
        self,
        name: str,
        cancelled: Callable[[], bool] = lambda: False,
        waiting: Callable[[], None] | None = None,
    ) -> Iterator[None]:
        while True:
            with self.try_lock(name) as locked:
                if locked:
                    yield
                    return
            if cancelled():
                raise SeedError("cancelled")
            if waiting:
                waiting()
            time.sleep(0.05)  # another job fetches it: wait its end

    def _download(
        self,
        url: str,
        blob: Blob,
        progress: Progress | None,
        cancelled: Callable[[], bool],
        timeout: float,
    ) -> int:
        """One blob from the registry to the cache, verified; the bytes taken.

        Called under the blob's lock. A partial kept by a fetch cut midway is
        resumed; one that cannot be (larger than the blob, or the whole ending
        with a wrong digest) is discarded and the blob fetched again once.
        """
        target = self._blob(_hex(blob.digest))
        target.parent.mkdir(parents=True, exist_ok=True)
        taken = 0
        while True:
            partial = _Partial.kept(_partial_of(target), blob.size)
            if partial.size < blob.size or not partial.path.exists():
                try:
                    got = self._fetch(url, blob, partial, progress, cancelled, timeout)
                except _RangeRefused:
                    partial.path.unlink(missing_ok=True)
                    continue  # the registry will not resume it: from the start
                taken += got
            actual = f"sha256:{partial.hasher.hexdigest()}"
            if actual == blob.digest:
                os.replace(partial.path, target)
                return taken
            partial.path.unlink(missing_ok=True)
            if partial.fresh:  # all of it came now: the registry's bytes are wrong
                raise SeedError(f"digest mismatch: want {blob.digest}, got {actual}")

    def _fetch(
        self,
        url: str,
        blob: Blob,
        partial: _Partial,
        progress: Progress | None,
        cancelled: Callable[[], bool],
        timeout: float,
    ) -> int:
        """The rest of a blob appended to its partial (all of it when the
        registry ignores the range); the bytes taken."""
        start = partial.size
        capped = self.budget.rate is not None
        deposit = min(blob.size - start, PREPAID + self.budget.quantum) if capped else 0
        headers = {"User-Agent": ollama_user_agent(None)}
        if start:
            headers["Range"] = f"bytes={start}-"
        try:
            with (
                self.budget.flow(blob.digest) as flow,
                _client(capped, timeout) as client,
            ):
                # what the registry sends ahead of our reads, paid before it can:
                # a deposit (the reads pay for themselves), lost at the end
                flow.took(deposit)
                with client.stream("GET", url, headers=headers) as response:
                    if not _resumes(response, start):
                        if start and response.status_code in (206, 416):
                            raise _RangeRefused  # another range, or none of it
                        if response.status_code != 200:
                            raise SeedError(f"{url}: HTTP {response.status_code}")
                        partial.restart()  # the whole blob came instead
                    with open(partial.path, "ab" if partial.size else "wb") as out:
                        size = self.budget.quantum if capped else CHUNK
                        for chunk in response.iter_bytes(size):
                            out.write(chunk)  # kept, even when cancelled now
                            partial.took(chunk)
                            if progress:
                                progress(blob.digest, partial.size, blob.size)
                            if cancelled():
                                raise SeedError("cancelled")
                            flow.took(len(chunk))
        except httpx.HTTPError as error:
            raise SeedError(f"{url}: {error}") from None
        return partial.size - (0 if partial.fresh else start)


class _RangeRefused(Exception):
    """The registry answered a resume with another range than asked, or 416."""


@dataclass
class _Partial:
    """A blob's ``.partial`` file: the hash over its bytes, their count, and
    whether they all came in this fill (``fresh``)."""

    path: Path
    hasher: hashlib._Hash
    size: int = 0
    fresh: bool = True

    @classmethod
    def kept(cls, path: Path, blob_size: int) -> _Partial:
        """The partial a cut fetch left (one larger than its blob is discarded)."""
        partial = cls(path, hashlib.sha256())
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return partial
        if size > blob_size:
            path.unlink()
            return partial
        with open(path, "rb") as data:
            while piece := data.read(CHUNK):
                partial.hasher.update(piece)
                time.sleep(0)  # gigabytes to hash: let a gevent hub run meanwhile
        partial.size, partial.fresh = size, size == 0
        return partial

    def restart(self) -> None:
        self.hasher, self.size, self.fresh = hashlib.sha256(), 0, True

    def took(self, chunk: bytes) -> None:
        self.hasher.update(chunk)
        self.size += len(chunk)


def _resumes(response: httpx.Response, start: int) -> bool:
    """Whether ``response`` is the blob's rest from byte ``start`` (a 206)."""
    if not start or response.status_code != 206:
        return False
    found = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
    return found is not None and int(found.group(1)) == start


def _partial_of(target: Path) -> Path:
    return target.with_suffix(".partial")


def _touch(path: Path, every: float = 0.0) -> None:
    """Mark a blob used now (its mtime: what eviction orders by), at most
    every ``every`` seconds."""
    with contextlib.suppress(OSError):
        if time.time() - path.stat().st_mtime >= every:
            os.utime(path)


def _client(capped: bool, timeout: float) -> httpx.Client:
    """The registry's client; capped, with a small receive buffer (so the
    registry's own count of what it sent follows the cap)."""
    options = [(socket.SOL_SOCKET, socket.SO_RCVBUF, CAPPED_RCVBUF)] if capped else []
    transport = httpx.HTTPTransport(socket_options=options)
    # the real registry sends blobs to a CDN
    return httpx.Client(transport=transport, timeout=timeout, follow_redirects=True)


def _hex(digest: str) -> str:
    match = _DIGEST.match(digest)
    if match is None:
        raise SeedError(f"not a sha256 digest: {digest!r}")
    return match.group(1)


def _blob_url(registry_url: str, name: ModelName, digest: str) -> str:
    return f"{registry_url.rstrip('/')}/v2/{name.repository}/blobs/{digest}"


def _fetch_manifest(registry_url: str, name: ModelName, timeout: float) -> bytes:
    url = f"{registry_url.rstrip('/')}/v2/{name.repository}/manifests/{name.tag}"
    headers = {"Accept": MANIFEST_ACCEPT, "User-Agent": ollama_user_agent(None)}
    try:
        response = httpx.get(url, headers=headers, timeout=timeout)
    except httpx.HTTPError as error:
        raise SeedError(f"{url}: {error}") from None
    if response.status_code == 404:
        raise SeedError(f"{name.display}: unknown to the registry")
    if response.status_code != 200:
        raise SeedError(f"{url}: HTTP {response.status_code}")
    return response.content


def _atomic_write(path: Path, data: bytes, *, unique: bool = False) -> None:
    """``data`` in ``path`` at once; ``unique``: written without a lock (a
    temporary file of this process's own)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp" if unique else ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
