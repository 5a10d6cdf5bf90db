"""« Où ce modèle tient-il ? »: a model's size against each node's free memory.

A model runs fully on the GPU when its weights plus some room for the context
fit in the free VRAM; otherwise Ollama splits it or runs it on the CPU, which
works when the RAM can hold it, only slower. ``OVERHEAD`` is that room (the KV
cache of a default 2k-4k context is a few hundred MB for 7B models): an
estimate, shown as such.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

OVERHEAD = 1.2
Verdict = Literal["vram", "ram", "none", "unknown"]
LABELS: dict[str, str] = {
    "vram": "tient en VRAM",
    "ram": "en RAM seulement",
    "none": "ne tient pas",
    "unknown": "matériel inconnu",
}


@dataclass(frozen=True)
class NodeCapacity:
    """What a node has free, in bytes (``None``: not known, e.g. no agent).

    ``vram_used`` is what Ollama's ``/api/ps`` reports loaded, the only figure
    available without an agent.
    """

    name: str
    vram_free: int | None = None
    ram_free: int | None = None
    disk_free: int | None = None
    vram_used: int | None = None
    has_model: bool = False


@dataclass(frozen=True)
class Fit:
    node: NodeCapacity
    verdict: Verdict
    disk_ok: bool | None  # None: unknown; True when the model is already there

    @property
    def label(self) -> str:
        return LABELS[self.verdict]


def fit_hint(model_size: int, nodes: Sequence[NodeCapacity]) -> list[Fit]:
    """Per node: does a model of ``model_size`` bytes fit in VRAM, in RAM, or not?

    >>> GB = 10**9
    >>> fits = fit_hint(4 * GB, [
    ...     NodeCapacity("gpu", vram_free=8 * GB, ram_free=32 * GB, disk_free=GB),
    ...     NodeCapacity("cpu", vram_free=0, ram_free=16 * GB, disk_free=50 * GB),
    ...     NodeCapacity("pi", ram_free=2 * GB, disk_free=50 * GB),
    ...     NodeCapacity("bare", vram_used=3 * GB)])
    >>> [(f.node.name, f.label, f.disk_ok) for f in fits]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('gpu', 'tient en VRAM', False), ('cpu', 'en RAM seulement', True),
     ('pi', 'ne tient pas', True), ('bare', 'matériel inconnu', None)]
    """
    needed = model_size * OVERHEAD
    result = []
    for node in nodes:
        if node.vram_free is None and node.ram_free is None:
            verdict: Verdict = "unknown"
        elif node.vram_free is not None and node.vram_free >= needed:
            verdict = "vram"
        elif node.ram_free is not None and node.ram_free >= needed:
            verdict = "ram"
        else:
            verdict = "none"
        if node.has_model:
            disk_ok: bool | None = True
        elif node.disk_free is None:
            disk_ok = None
        else:
            disk_ok = node.disk_free >= model_size
        result.append(Fit(node, verdict, disk_ok))
    return result
