"""The emulator's model catalogue and the registry it pulls from.

Real library names with realistic sizes, families and quantizations. Every model
has a Docker v2 manifest whose bytes are built deterministically; as in Ollama,
a model's ``digest`` is the sha256 of those bytes, so the fake registry, the
emulated nodes and the update check all agree on it. Publishing a new
``revision`` of a tag changes its weights layer, hence its manifest and digest.

Sizes are scaled, never faked: the weights and projector layers of a model are
its library size times the registry's ``scale`` (``DEFAULT_SCALE``, 1/1000: a
"4.7 GB" model is 4.7 MB of real bytes), so pulls move every byte a manifest
announces and stay fast on a test machine. Their bytes are generated from the
layer's seed (``blobgen``) and their digest is the sha256 of those bytes. The
small layers (template, params, license, config) are real text, never scaled.
``Registry(scale=1.0)`` gives the library's real sizes (slow: gigabytes to hash).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from ollama_webmgr.errors import InvalidModelName
from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.sim.blobgen import generated_chunks, generated_digest
from ollama_webmgr.sim.registry_faults import RegistryFaults, ServedBytes
from ollama_webmgr.sim.wire import go_json

MANIFEST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_MEDIA_TYPE = "application/vnd.docker.container.image.v1+json"
MB = 1_000_000
GB = 1_000_000_000
#: a catalogue size of N bytes is N × scale bytes on the wire (see the docstring)
DEFAULT_SCALE = 0.001


@dataclass(frozen=True, slots=True)
class Layer:
    media_type: str
    digest: str  # "sha256:<64 hex>"
    size: int
    content: bytes | None = None  # small layers (template, params...) carry their bytes
    seed: bytes | None = None  # large layers: their bytes come from ``blobgen``

    def as_json(self) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}

    def chunks(self, start: int, end: int) -> Iterator[bytes]:
        """Bytes ``[start, end)`` of the blob (nothing for a layer without bytes)."""
        if self.content is not None:
            yield self.content[start:end]
        elif self.seed is not None:
            yield from generated_chunks(self.seed, self.size, start, end)


def scaled(size: int, scale: float) -> int:
    """A catalogue size on the wire: at least one byte.

    >>> scaled(4_683_073_184, 0.001), scaled(10, 0.001), scaled(10, 1.0)
    (4683073, 1, 10)
    """
    return max(1, round(size * scale))


def generated_layer(media_type: str, seed: bytes, size: int) -> Layer:
    return Layer(media_type, generated_digest(seed, size), size, None, seed)


@dataclass(frozen=True, slots=True)
class Family:
    """What the variants of one library model share."""

    model: str
    family: str
    families: tuple[str, ...] | None
    capabilities: tuple[str, ...]
    description: str
    template: str = "{{ .Prompt }}"
    license: str = ""
    stop: tuple[str, ...] = ()
    context_length: int = 4096
    embedding_length: int = 2048
    projector_size: int = 0
    format: str = "gguf"


@dataclass(frozen=True, slots=True)
class Variant:
    tag: str
    parameter_size: str
    quantization_level: str
    weights_size: int
    aliases: tuple[str, ...] = ()  # other tags with the same manifest ("latest")


_LLAMA_TEMPLATE = (
    "<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\n{{ .Prompt }}<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n"
)
_CHATML_TEMPLATE = (
    "{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
    "<|im_start|>user\n{{ .Prompt }}<|im_end|>\n<|im_start|>assistant\n"
)
_GEMMA_TEMPLATE = (
    "<start_of_turn>user\n{{ .Prompt }}<end_of_turn>\n<start_of_turn>model\n"
)

# fmt: off
CATALOG: dict[str, tuple[Family, tuple[Variant, ...]]] = {
    f.model: (f, v)
    for f, v in [
        (
            Family(
                "llama3.2", "llama", ("llama",), ("completion", "tools"),
                "Meta's Llama 3.2 small models, 1B and 3B.",
                _LLAMA_TEMPLATE, "LLAMA 3.2 COMMUNITY LICENSE (emulated)",
                ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
                131072, 3072,
            ),
            (
                Variant("3b", "3.2B", "Q4_K_M", 2_019_377_376, ("latest",)),
                Variant("1b", "1.2B", "Q8_0", 1_321_082_688),
            ),
        ),
        (
            Family(
                "qwen2.5", "qwen2", ("qwen2",), ("completion", "tools"),
                "Qwen2.5 models pretrained on a large multilingual dataset.",
                _CHATML_TEMPLATE, "Apache License 2.0 (emulated)",
                ("<|im_start|>", "<|im_end|>"), 32768, 3584,
            ),
            (
                Variant("7b", "7.6B", "Q4_K_M", 4_683_073_184, ("latest",)),
                Variant("0.5b", "494.03M", "Q4_K_M", 397_807_936),
                Variant("1.5b", "1.5B", "Q4_K_M", 986_048_096),
                Variant("14b", "14.8B", "Q4_K_M", 8_988_110_976),
            ),
        ),
        (
            Family(
                "mistral", "llama", ("llama",), ("completion", "tools"),
                "The 7B model released by Mistral AI.",
                "[INST] {{ .Prompt }} [/INST]", "Apache License 2.0 (emulated)",
                ("[INST]", "[/INST]"), 32768, 4096,
            ),
            (Variant("7b", "7.2B", "Q4_K_M", 4_372_812_000, ("latest",)),),
        ),
        (
            Family(
                "gemma3", "gemma3", ("gemma3",), ("completion", "vision"),
                "Google's Gemma 3, runs on a single GPU.",
                _GEMMA_TEMPLATE, "Gemma Terms of Use (emulated)",
                ("<end_of_turn>",), 131072, 2560,
            ),
            (
                Variant("4b", "4.3B", "Q4_K_M", 3_338_801_804, ("latest",)),
                Variant("1b", "999.89M", "Q4_K_M", 815_319_791),
                Variant("12b", "12.2B", "Q4_K_M", 8_149_190_253),
            ),
        ),
        (
            Family(
                "deepseek-r1", "qwen2", ("qwen2",), ("completion", "thinking"),
                "Open reasoning models.",
                _CHATML_TEMPLATE, "MIT License (emulated)",
                ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"), 131072, 3584,
            ),
            (
                Variant("8b", "8.2B", "Q4_K_M", 5_225_376_047, ("latest",)),
                Variant("1.5b", "1.8B", "Q4_K_M", 1_117_320_480),
                Variant("7b", "7.6B", "Q4_K_M", 4_683_073_184),
            ),
        ),
        (
            Family(
                "phi3", "phi3", ("phi3",), ("completion",),
                "Microsoft's lightweight Phi-3 models.",
                "<|user|>\n{{ .Prompt }}<|end|>\n<|assistant|>\n",
                "MIT License (emulated)", ("<|end|>", "<|user|>"), 131072, 3072,
            ),
            (Variant("mini", "3.8B", "Q4_0", 2_176_177_120, ("latest",)),),
        ),
        (
            Family(
                "llava", "llama", ("llama", "clip"), ("completion", "vision"),
                "Vision and language assistant.",
                "[INST] {{ .Prompt }} [/INST]", "Apache License 2.0 (emulated)",
                ("[INST]", "[/INST]"), 32768, 4096, projector_size=624_434_368,
            ),
            (Variant("7b", "7B", "Q4_0", 4_109_853_248, ("latest",)),),
        ),
        (
            Family(
                "smollm2", "llama", ("llama",), ("completion", "tools"),
                "Compact language models in three sizes.",
                _CHATML_TEMPLATE, "Apache License 2.0 (emulated)",
                ("<|im_start|>", "<|im_end|>"), 8192, 2048,
            ),
            (
                Variant("1.7b", "1.7B", "Q8_0", 1_820_414_944, ("latest",)),
                Variant("360m", "361.82M", "F16", 725_566_512),
                Variant("135m", "134.52M", "F16", 270_898_672),
            ),
        ),
        (
            Family(
                "tinyllama", "llama", ("llama",), ("completion",),
                "A compact 1.1B model trained on 3 trillion tokens.",
                "<|user|>\n{{ .Prompt }}</s>\n<|assistant|>\n",
                "Apache License 2.0 (emulated)", ("<|user|>", "</s>"), 2048, 2048,
            ),
            (Variant("1.1b", "1B", "Q4_0", 637_699_456, ("latest",)),),
        ),
        (
            Family(
                "nomic-embed-text", "nomic-bert", ("nomic-bert",), ("embedding",),
                "A high-performing open embedding model.",
                "{{ .Prompt }}", "Apache License 2.0 (emulated)", (), 2048, 768,
            ),
            (Variant("v1.5", "137M", "F16", 274_290_656, ("latest",)),),
        ),
        (
            Family(
                "all-minilm", "bert", ("bert",), ("embedding",),
                "Embedding models trained on very large sentence-level datasets.",
                "{{ .Prompt }}", "Apache License 2.0 (emulated)", (), 512, 384,
            ),
            (Variant("22m", "23M", "F16", 45_949_216, ("latest",)),),
        ),
        (
            Family(
                "gpt-oss", "gptoss", ("gptoss",), ("completion", "tools", "thinking"),
                "Open-weight reasoning models.",
                "<|start|>user<|message|>{{ .Prompt }}<|end|><|start|>assistant",
                "Apache License 2.0 (emulated)", ("<|end|>",), 131072, 2880,
            ),
            (Variant("20b", "20.9B", "MXFP4", 13_780_154_624, ("latest",)),),
        ),
    ]
}
# fmt: on

#: installed on an emulated node when no --models is given
DEFAULT_MODELS = (
    "llama3.2:latest",
    "qwen2.5:0.5b",
    "nomic-embed-text:latest",
    "gemma3:1b",
)


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _content_layer(media_type: str, content: bytes) -> Layer:
    return Layer(media_type, _sha(content), len(content), content)


@dataclass(frozen=True, slots=True)
class CatalogModel:
    """One tag of one library model, at one revision."""

    family: Family
    variant: Variant
    tag: str
    revision: int = 0
    #: a model created from an uploaded GGUF file: its weights, and nothing else
    uploaded: Layer | None = None
    scale: float = DEFAULT_SCALE

    @property
    def name(self) -> str:
        return f"{self.family.model}:{self.tag}"

    @property
    def weights(self) -> Layer:
        if self.uploaded is not None:
            return self.uploaded
        seed = (
            f"weights:{self.family.model}:{self.variant.tag}:{self.revision}".encode()
        )
        return generated_layer(
            "application/vnd.ollama.image.model",
            seed,
            scaled(self.variant.weights_size, self.scale),
        )

    def layers(self) -> list[Layer]:
        family = self.family
        layers = [self.weights]
        if self.uploaded is not None:
            return layers
        if family.projector_size:
            seed = f"projector:{family.model}".encode()
            layers.append(
                generated_layer(
                    "application/vnd.ollama.image.projector",
                    seed,
                    scaled(family.projector_size, self.scale),
                )
            )
        layers.append(
            _content_layer(
                "application/vnd.ollama.image.template", family.template.encode()
            )
        )
        if family.license:
            layers.append(
                _content_layer(
                    "application/vnd.ollama.image.license", family.license.encode()
                )
            )
        if family.stop:
            # written by Go's json.Encoder: HTML-escaped, with a trailing newline
            params = go_json({"stop": list(family.stop)}) + b"\n"
            layers.append(_content_layer("application/vnd.ollama.image.params", params))
        return layers

    @property
    def config(self) -> Layer:
        body = {
            "model_format": self.family.format,
            "model_family": self.family.family,
            "model_families": list(self.family.families or ()),
            "model_type": self.variant.parameter_size,
            "file_type": self.variant.quantization_level,
            "capabilities": list(self.family.capabilities),
            "context_length": self.family.context_length,
            "embedding_length": self.family.embedding_length,
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {
                "type": "layers",
                "diff_ids": [layer.digest for layer in self.layers()],
            },
        }
        return _content_layer(
            CONFIG_MEDIA_TYPE, json.dumps(body, separators=(",", ":")).encode()
        )

    def manifest_bytes(self) -> bytes:
        """The registry's manifest, compact JSON, exactly the bytes a pull writes."""
        body = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": self.config.as_json(),
            "layers": [layer.as_json() for layer in self.layers()],
        }
        return json.dumps(body, separators=(",", ":")).encode()

    @property
    def digest(self) -> str:
        """64 hex, no prefix: what ``/api/tags`` shows."""
        return hashlib.sha256(self.manifest_bytes()).hexdigest()

    @property
    def size(self) -> int:
        """Sum of the layer sizes plus the config blob, as ``/api/tags`` reports."""
        return sum(layer.size for layer in self.layers()) + self.config.size


def find_variant(model: str, tag: str) -> tuple[Family, Variant] | None:
    """Catalogue entry for ``model:tag`` (case-insensitive, aliases resolved)."""
    for key, (family, variants) in CATALOG.items():
        if key.casefold() != model.casefold():
            continue
        for variant in variants:
            if tag.casefold() in {
                variant.tag.casefold(),
                *(a.casefold() for a in variant.aliases),
            }:
                return family, variant
    return None


@dataclass
class Registry:
    """What the (fake) registry currently publishes: revisions per model and tag.

    Shared by the emulated nodes and the fake registry app (it serves the
    manifests and the blobs), so a test can publish an update with
    ``publish_update``, break blob downloads with ``faults`` and read the blob
    bytes sent in ``served``. Only library models are known; thread-safe.
    """

    revisions: dict[tuple[str, str], int] = field(default_factory=dict)
    scale: float = DEFAULT_SCALE
    faults: RegistryFaults = field(default_factory=RegistryFaults)
    served: ServedBytes = field(default_factory=ServedBytes)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def lookup(self, raw_name: str) -> CatalogModel | None:
        """The model a pull of ``raw_name`` would get now, or None (unknown upstream)."""
        try:
            name = ModelName.parse(raw_name)
        except InvalidModelName:
            return None
        if (
            name.host.casefold() != "registry.ollama.ai"
            or name.namespace.casefold() != "library"
        ):
            return None
        found = find_variant(name.model, name.tag)
        if found is None:
            return None
        family, variant = found
        with self._lock:
            revision = self.revisions.get((family.model, variant.tag), 0)
        tag = (
            name.tag.lower()
            if name.tag.casefold() != variant.tag.casefold()
            else variant.tag
        )
        return CatalogModel(family, variant, tag, revision, scale=self.scale)

    def publish_update(self, raw_name: str) -> CatalogModel:
        """Publish a new revision of a model (all its aliases change too)."""
        current = self.lookup(raw_name)
        if current is None:
            raise KeyError(raw_name)
        key = (current.family.model, current.variant.tag)
        with self._lock:
            self.revisions[key] = self.revisions.get(key, 0) + 1
        updated = self.lookup(raw_name)
        assert updated is not None
        return updated

    def models(self) -> list[tuple[Family, tuple[Variant, ...]]]:
        return list(CATALOG.values())

    def blob(self, model: str, digest: str) -> Layer | None:
        """A blob of any tag of library ``model``, this revision or an older one."""
        found = CATALOG.get(model) or next(
            (v for k, v in CATALOG.items() if k.casefold() == model.casefold()), None
        )
        if found is None:
            return None
        family, variants = found
        for variant in variants:
            current = self.lookup(f"{family.model}:{variant.tag}")
            assert current is not None
            for revision in range(current.revision, -1, -1):
                entry = replace(current, revision=revision)
                for layer in [*entry.layers(), entry.config]:
                    if layer.digest == digest:
                        return layer
        return None
