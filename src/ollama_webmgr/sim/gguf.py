"""The header of a GGUF file: what a create from an uploaded model file reads.

The emulator keeps only the first bytes of an upload; the metadata
(``general.architecture``, ``general.parameter_count``, ``general.file_type``,
``<arch>.context_length``...) comes first in a GGUF file, before the tensor
data. A header cut short keeps the keys read so far.

>>> import struct
>>> def text(s): return struct.pack("<Q", len(s)) + s.encode()
>>> data = (b"GGUF" + struct.pack("<IQQ", 3, 0, 2)
...     + text("general.architecture") + struct.pack("<I", 8) + text("llama")
...     + text("llama.context_length") + struct.pack("<II", 4, 2048))
>>> info = read_info(data)
>>> info.architecture, info.context_length, info.parameter_size, info.file_type
('llama', 2048, '0', 'unknown')
>>> read_info(b"PK\\x03\\x04") is None
True
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

MAGIC = b"GGUF"
# GGUF value types -> struct format (8: string, 9: array)
_SCALARS = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}
# Ollama's FileType names (fs/ggml/type.go), by llama_ftype number
_FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
    10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S",
    15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS",
    20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S",
    25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M",
    30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
    38: "MXFP4", 39: "NVFP4",
}  # fmt: skip


class _Truncated(Exception):
    pass


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, fmt: str) -> Any:
        size = struct.calcsize("<" + fmt)
        if self.at + size > len(self.data):
            raise _Truncated
        (value,) = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += size
        return value

    def text(self) -> str:
        length = self.take("Q")
        if self.at + length > len(self.data):
            raise _Truncated
        value = self.data[self.at : self.at + length].decode("utf-8", "replace")
        self.at += length
        return value

    def value(self, kind: int) -> Any:
        if kind in _SCALARS:
            return self.take(_SCALARS[kind])
        if kind == 8:
            return self.text()
        if kind == 9:
            item_kind, count = self.take("I"), self.take("Q")
            return [self.value(item_kind) for _ in range(count)]
        raise _Truncated  # unknown type: nothing more can be read


def read_metadata(data: bytes) -> dict[str, Any] | None:
    """The key/values of a GGUF header, or None when ``data`` is not GGUF."""
    if data[:4] != MAGIC:
        return None
    reader = _Reader(data)
    reader.at = 4
    found: dict[str, Any] = {}
    try:
        version = reader.take("I")
        count_fmt = "I" if version == 1 else "Q"
        reader.take(count_fmt)  # tensors
        for _ in range(reader.take(count_fmt)):
            key = reader.text()
            found[key] = reader.value(reader.take("I"))
    except _Truncated:
        pass
    return found


def human_number(value: int) -> str:
    """Ollama's ``format.HumanNumber`` (parameter sizes: ``3.2B``, ``135M``)."""
    for scale, unit, decimals in ((1e9, "B", 1), (1e6, "M", 2), (1e3, "K", 0)):
        if value >= scale:
            number = value / scale
            if unit == "K" or number == int(number):
                return f"{number:.0f}{unit}"
            return f"{number:.{decimals}f}{unit}"
    return str(value)


@dataclass(frozen=True)
class ModelInfo:
    architecture: str
    parameter_size: str
    file_type: str
    context_length: int
    embedding_length: int
    embedding_only: bool
    kind: str


def read_info(data: bytes) -> ModelInfo | None:
    """What ``details`` and ``model_info`` say about a GGUF file (None: not GGUF)."""
    meta = read_metadata(data)
    if meta is None:
        return None
    arch = str(meta.get("general.architecture") or "unknown")
    file_type = meta.get("general.file_type")
    return ModelInfo(
        architecture=arch,
        parameter_size=human_number(int(meta.get("general.parameter_count") or 0)),
        file_type=_FILE_TYPES.get(file_type, "unknown") if file_type else "unknown",
        context_length=int(meta.get(f"{arch}.context_length") or 0),
        embedding_length=int(meta.get(f"{arch}.embedding_length") or 0),
        embedding_only=f"{arch}.pooling_type" in meta,
        kind=str(meta.get("general.type") or "model"),
    )
