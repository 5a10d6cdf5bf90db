"""Small GGUF files written with llama.cpp's own ``gguf`` library (an independent
writer: the emulator reads them with its own parser)."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np


def write_gguf(path: Path, *, context_length: int = 2048) -> Path:
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(context_length)
    writer.add_embedding_length(64)
    writer.add_block_count(1)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_uint64("general.parameter_count", 1_100_000)
    writer.add_tensor("token_embd.weight", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
