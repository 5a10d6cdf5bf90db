"""Create from ``files``: GGUF files uploaded with ``POST /api/blobs/:digest``.

As Ollama's ``convertModelFromFiles``: the type comes from the names
(``.safetensors``, ``.gguf``) or, for other names, from the blob's magic bytes;
no known type is a 400 ``unknown type``. Each GGUF file streams ``parsing GGUF``
and becomes the model's weights layer (an adapter or projector file is not
emulated); the details (family, parameter size, quantization, context length)
come from its metadata. A blob that is a model's weights on this node (what a
pull left) counts as that model's GGUF. Safetensors conversion is not emulated.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from ollama_webmgr.sim.blobs import upload
from ollama_webmgr.sim.catalog import CatalogModel, Family, Layer, Variant
from ollama_webmgr.sim.gguf import MAGIC, ModelInfo, read_info
from ollama_webmgr.sim.state import SimState

BLOB_DIR = "/root/.ollama/models/blobs"
MODEL_MEDIA = "application/vnd.ollama.image.model"
Status = dict[str, object]


class Refusal(Exception):
    """The first thing a create produced is an error: a status, no stream."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _kind(state: SimState, files: dict[str, str], weights: set[str]) -> str:
    for path, digest in files.items():
        if path.endswith(".safetensors"):
            return "safetensors"
        if path.endswith(".gguf"):
            return "gguf"
        held = upload(state, digest)
        if digest in weights or (held is not None and held[1][:4] == MAGIC):
            return "gguf"
    return ""


def _catalog(info: ModelInfo, digest: str, size: int) -> CatalogModel:
    arch = info.architecture
    family = Family(
        model=arch,
        family=arch,
        families=(arch,),
        capabilities=("embedding",) if info.embedding_only else ("completion",),
        description="",
        context_length=info.context_length or 4096,
        embedding_length=info.embedding_length or 2048,
    )
    variant = Variant("latest", info.parameter_size, info.file_type, size)
    weights = Layer(MODEL_MEDIA, digest, size)
    return CatalogModel(family, variant, "latest", 0, weights, scale=1.0)  # real bytes


def from_files(
    state: SimState, files: dict[str, Any]
) -> Generator[Status, None, CatalogModel | None]:
    """Statuses of reading ``files``; the model they make (None after an error line).

    ``Refusal`` when no file is of a known type (nothing was sent yet).
    """
    weights = {m.catalog.weights.digest: m.catalog for m in state.listed()}
    if not files or _kind(state, files, set(weights)) != "gguf":
        raise Refusal("unknown type", 400)
    made: CatalogModel | None = None
    for path in sorted(files):
        digest = "sha256:" + str(files[path])[7:]
        yield {"status": "parsing GGUF"}
        if digest in weights:
            made = made or weights[digest]
            continue
        held = upload(state, digest)
        if held is None:
            hexa = digest[7:]
            yield {"error": f"open {BLOB_DIR}/sha256-{hexa}: no such file or directory"}
            return None
        info = read_info(held[1])
        if info is None:
            yield {"error": "supplied file was not in GGUF format"}
            return None
        made = made or _catalog(info, digest, held[0])
    return made
