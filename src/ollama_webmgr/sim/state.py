"""The state of one emulated Ollama node, shared by its request handlers.

A node with a ``state_file`` keeps its model files next to it, in Ollama's
layout: ``<state file without .json>/models/{manifests,blobs}`` (or
``models_dir``); without one, pulled blobs live in memory (``MemoryStore``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.sim.blobstore import BlobStore, DiskStore, MemoryStore
from ollama_webmgr.sim.catalog import CatalogModel, Layer, Registry
from ollama_webmgr.sim.faults import Faults

if TYPE_CHECKING:
    from ollama_webmgr.sim.downloading import Download

DEFAULT_KEEP_ALIVE = 300.0  # seconds, OLLAMA_KEEP_ALIVE's default
FOREVER = timedelta(microseconds=(2**63 - 1) // 1000)  # max int64 ns


def local_now() -> datetime:
    return datetime.now().astimezone()


MEDIA = "application/vnd.ollama.image."


@dataclass
class InstalledModel:
    name: ModelName
    catalog: CatalogModel
    manifest: bytes
    modified_at: datetime
    #: bytes of the small layers (template, system, params, license, messages)
    contents: dict[str, bytes] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """sha256 of the manifest bytes, as ``/api/tags`` shows it."""
        return hashlib.sha256(self.manifest).hexdigest()

    def layers(self) -> list[Layer]:
        """The manifest's layers (a created model's differ from its catalog's)."""
        known = {layer.digest: layer for layer in self.catalog.layers()}
        return [
            known.get(item["digest"])
            or Layer(
                item["mediaType"],
                item["digest"],
                item["size"],
                self.contents.get(item["digest"]),
            )
            for item in json.loads(self.manifest)["layers"]
        ]

    @property
    def size(self) -> int:
        """Layer sizes plus the config blob, as ``/api/tags`` reports them."""
        manifest = json.loads(self.manifest)
        layers = sum(int(item["size"]) for item in manifest["layers"])
        return layers + int(manifest["config"]["size"])

    def texts(self, kind: str) -> list[str]:
        """The text of every ``application/vnd.ollama.image.<kind>`` layer."""
        return [
            (layer.content or b"").decode("utf-8", "replace")
            for layer in self.layers()
            if layer.media_type == MEDIA + kind
        ]

    def options(self) -> dict[str, object]:
        """The model's ``params`` layer (its default options)."""
        found = self.texts("params")
        value = json.loads(found[-1]) if found and found[-1] else {}
        return value if isinstance(value, dict) else {}

    @property
    def weights_size(self) -> int:
        sizes = [
            layer.size for layer in self.layers() if layer.media_type == MEDIA + "model"
        ]
        return sum(sizes)

    @property
    def capabilities(self) -> tuple[str, ...]:
        return self.catalog.family.capabilities

    @property
    def context_length(self) -> int:
        return self.catalog.family.context_length

    @property
    def is_embedding(self) -> bool:
        return "completion" not in self.capabilities

    def blob_digests(self) -> set[str]:
        config = json.loads(self.manifest)["config"]["digest"]
        return {layer.digest for layer in self.layers()} | {config}


@dataclass
class Runner:
    """A loaded model, as ``/api/ps`` shows it."""

    model: InstalledModel
    keep_alive: float  # seconds; negative: forever
    expires_at: datetime
    size: int
    size_vram: int
    context_length: int
    in_flight: int = 0  # requests holding the runner (ps: idle when 0)
    ready_at: float = 0.0  # time.monotonic() when the simulated load ends
    active: int = 0  # requests using one of its slots
    parallel: int = 1  # OLLAMA_NUM_PARALLEL (embedding models: 1)
    evicting: bool = False  # chosen to make room: unloads when idle

    def expiry_after(self, moment: datetime) -> datetime:
        if self.keep_alive < 0:
            return moment + FOREVER
        return moment + timedelta(seconds=self.keep_alive)


@dataclass
class SimState:
    """Thread-safe state of one emulated node."""

    registry: Registry = field(default_factory=Registry)
    #: where ``registry.ollama.ai`` is (the fake registry); None: a private one
    registry_url: str | None = None
    bandwidth: float = 200e6  # bytes per second per download
    stall_timeout: float = 30.0  # a blob part silent this long reconnects (Ollama's)
    retry_delay: float = 1.0  # first wait before a failed blob part is retried
    version: str = "0.33.0-rc2"
    token_delay: float = 0.003  # seconds between streamed tokens
    load_delay: float = 0.0  # seconds to "load" a model that is not loaded
    gpu: bool = True
    origins: tuple[str, ...] = ()  # OLLAMA_ORIGINS: CORS origins besides the built-ins
    max_loaded_models: int = 0  # OLLAMA_MAX_LOADED_MODELS (0: 3 per GPU)
    num_parallel: int = 1  # OLLAMA_NUM_PARALLEL
    max_queue: int = 512  # OLLAMA_MAX_QUEUE
    faults: Faults = field(default_factory=Faults)
    state_file: Path | None = None
    models_dir: Path | None = None  # Ollama's $OLLAMA_MODELS (see the docstring)
    installed: dict[tuple[str, str, str, str], InstalledModel] = field(
        default_factory=dict
    )
    runners: dict[tuple[str, str, str, str], Runner] = field(default_factory=dict)
    blobs: set[str] = field(default_factory=set)
    #: uploaded blobs (``POST /api/blobs``): size and first bytes (GGUF header)
    uploads: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    partial: dict[str, int] = field(default_factory=dict)  # bytes kept per blob
    downloads: dict[str, Download] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    hang_release: threading.Event = field(default_factory=threading.Event)
    pending: int = 0  # requests waiting in the scheduler's queue
    loader_busy: bool = False  # a request is making room for or starting a load
    changed: threading.Condition = field(init=False, repr=False)
    store: BlobStore = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)
        if self.models_dir is None and self.state_file is not None:
            self.models_dir = self.state_file.with_suffix("") / "models"
        if self.models_dir is not None:
            self.store = DiskStore(self.models_dir)
        else:
            self.store = MemoryStore()

    @classmethod
    def with_models(
        cls,
        names: list[str] | tuple[str, ...],
        registry: Registry | None = None,
        **options: object,
    ) -> SimState:
        """A node with ``names`` already installed (KeyError if one is unknown)."""
        state = cls(registry=registry or Registry(), **options)  # type: ignore[arg-type]
        for name in names:
            entry = state.registry.lookup(name)
            if entry is None:
                raise KeyError(name)
            state.install(ModelName.parse(name), entry)
        return state

    # --- installed models --------------------------------------------------

    def find(self, raw_name: str) -> InstalledModel | None:
        """The installed model ``raw_name`` designates (case-insensitive)."""
        name = ModelName.parse(raw_name)
        with self.lock:
            return self.installed.get(name.key)

    def install(
        self, name: ModelName, entry: CatalogModel, manifest: bytes | None = None
    ) -> InstalledModel:
        """Write a manifest for ``name`` (``manifest``: the registry's bytes, else
        the catalogue's); blobs not pulled are written whole."""
        with self.lock:
            existing = self.installed.get(name.key)
            shown = existing.name if existing else name
            model = InstalledModel(
                shown,
                entry,
                manifest or entry.manifest_bytes(),
                local_now(),
                _contents(entry),
            )
            self.installed[name.key] = model
            self.blobs |= model.blob_digests()
            self._write_files(model)
            self.save()
            return model

    def install_manifest(
        self,
        name: ModelName,
        entry: CatalogModel,
        manifest: bytes,
        contents: dict[str, bytes],
    ) -> InstalledModel:
        """Write a manifest made by a create (``name`` keeps an existing casing)."""
        with self.lock:
            existing = self.installed.get(name.key)
            shown = existing.name if existing else name
            model = InstalledModel(shown, entry, manifest, local_now(), contents)
            self.installed[name.key] = model
            self._write_files(model)
            self.save()
            return model

    def copy(self, source: InstalledModel, destination: ModelName) -> None:
        with self.lock:
            copied = InstalledModel(
                destination,
                source.catalog,
                source.manifest,
                local_now(),
                source.contents,
            )
            self.installed[destination.key] = copied
            self.store.write_manifest(copied.name, copied.manifest)
            self.save()

    def delete(self, model: InstalledModel) -> None:
        """Remove the manifest and prune blobs no other manifest uses."""
        with self.lock:
            self.installed.pop(model.name.key, None)
            self.store.remove_manifest(model.name)
            self.prune(self.unused_blobs(model.blob_digests()))
            self.save()

    def prune(self, digests: set[str]) -> None:
        """Remove these blobs (their files too)."""
        with self.lock:
            self.blobs -= digests
            for digest in digests:
                self.store.remove(digest)

    def _write_files(self, model: InstalledModel) -> None:
        """On disk: the manifest, and every blob not there yet (not pulled)."""
        if not isinstance(self.store, DiskStore):
            return
        self.store.write_manifest(model.name, model.manifest)
        config = model.catalog.config
        for layer in [*model.layers(), config]:
            if layer.content is None and layer.seed is None:
                continue  # an uploaded file: the emulator kept only its head
            if self.store.size(layer.digest) is None:
                self.store.write_blob(layer.digest, layer.chunks(0, layer.size))

    def unused_blobs(self, digests: set[str]) -> set[str]:
        with self.lock:
            used: set[str] = set()
            for other in self.installed.values():
                used |= other.blob_digests()
            return digests - used

    def listed(self) -> list[InstalledModel]:
        with self.lock:
            models = list(self.installed.values())
        return sorted(models, key=lambda m: m.modified_at, reverse=True)

    # --- runners -----------------------------------------------------------

    def expire_runners(self) -> None:
        """Unload idle runners whose keep_alive ran out (lazily, on read)."""
        now = local_now()
        with self.lock:
            for key, runner in list(self.runners.items()):
                if runner.in_flight == 0 and runner.expires_at <= now:
                    del self.runners[key]

    def running(self) -> list[Runner]:
        self.expire_runners()
        with self.lock:
            runners = list(self.runners.values())
        return sorted(runners, key=lambda r: r.expires_at, reverse=True)

    def unload(self, model: InstalledModel) -> None:
        with self.lock:
            self.runners.pop(model.name.key, None)

    def release_hang(self) -> None:
        """Let requests held by the ``hang`` fault go on."""
        with self.lock:
            self.faults.hang = False
        self.hang_release.set()

    def reset(self) -> None:
        """Back to no faults, no runners, no partial downloads."""
        with self.lock:
            self.release_hang()
            self.faults = Faults()
            self.runners.clear()
            self.partial.clear()
            self.store.clear_partials()

    # --- persistence -------------------------------------------------------

    def save(self) -> None:
        """Write installed models to ``state_file`` (if any)."""
        if self.state_file is None:
            return
        with self.lock:
            data = {
                "models": [
                    {
                        "name": m.name.display,
                        "catalog": m.catalog.name,
                        "revision": m.catalog.revision,
                        "modified_at": m.modified_at.isoformat(),
                        "manifest": m.manifest.decode(),
                        "contents": {
                            digest: data.decode("utf-8", "replace")
                            for digest, data in m.contents.items()
                        },
                    }
                    for m in self.installed.values()
                ]
            }
        self.state_file.write_text(json.dumps(data, indent=2))

    def load(self) -> bool:
        """Read ``state_file`` if it exists; False when there was nothing to read."""
        if self.state_file is None or not self.state_file.exists():
            return False
        data = json.loads(self.state_file.read_text())
        with self.lock:
            for item in data.get("models", []):
                entry = self.registry.lookup(item["catalog"])
                if entry is None:
                    continue
                entry = replace(entry, revision=int(item["revision"]))
                name = ModelName.parse(item["name"])
                manifest = str(item.get("manifest") or "").encode()
                contents = {
                    digest: str(text).encode()
                    for digest, text in dict(item.get("contents") or {}).items()
                }
                model = InstalledModel(
                    name,
                    entry,
                    manifest or entry.manifest_bytes(),
                    datetime.fromisoformat(item["modified_at"]),
                    contents or _contents(entry),
                )
                self.installed[name.key] = model
                self.blobs |= model.blob_digests()
                self._write_files(model)
        return True


def _contents(entry: CatalogModel) -> dict[str, bytes]:
    return {
        layer.digest: layer.content
        for layer in entry.layers()
        if layer.content is not None
    }
