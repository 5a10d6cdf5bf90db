"""GPU documents: NVIDIA through NVML, AMD through ``rocm-smi``, or none.

"No GPU" is a normal answer (``source: "none"``, empty list). The NVML adapter
turns the library's calls into plain ``NvmlDevice`` values, so the document is
built by pure functions the tests feed with captured readings.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ollama_webmgr.agent.schema import Gpu, GpuDoc
from ollama_webmgr.errors import AgentProtocolError

NO_GPU = GpuDoc(source="none", gpus=[])


@dataclass(frozen=True)
class NvmlDevice:
    """One device as NVML reports it (bytes, percent, °C)."""

    name: str
    memory_total: int
    memory_used: int
    utilization_gpu: float | None
    temperature_c: float | None


def gpus_from_nvml(devices: Sequence[NvmlDevice], driver: str | None) -> GpuDoc:
    """The document for the devices NVML listed (none listed: no GPU)."""
    if not devices:
        return GpuDoc(source="none", gpus=[], driver=driver)
    gpus = [
        Gpu(
            index=i,
            vendor="nvidia",
            name=d.name,
            memory_total=d.memory_total,
            memory_used=min(d.memory_used, d.memory_total),
            utilization_percent=d.utilization_gpu,
            temperature_c=d.temperature_c,
        )
        for i, d in enumerate(devices)
    ]
    return GpuDoc(source="nvml", gpus=gpus, driver=driver)


def read_nvml(nvml: Any) -> tuple[list[NvmlDevice], str | None]:
    """Query an initialised NVML module (``pynvml``) for every device.

    Utilisation and temperature are optional: some boards (and MIG slices)
    refuse them, which must not hide the memory figures.
    """
    count = int(nvml.nvmlDeviceGetCount())
    devices = []
    for i in range(count):
        handle = nvml.nvmlDeviceGetHandleByIndex(i)
        memory = nvml.nvmlDeviceGetMemoryInfo(handle)
        devices.append(
            NvmlDevice(
                name=_text(nvml.nvmlDeviceGetName(handle)),
                memory_total=int(memory.total),
                memory_used=int(memory.used),
                utilization_gpu=_optional(
                    nvml, lambda h=handle: nvml.nvmlDeviceGetUtilizationRates(h).gpu
                ),
                temperature_c=_optional(
                    nvml, lambda h=handle: nvml.nvmlDeviceGetTemperature(h, 0)
                ),
            )
        )
    driver = _optional_text(nvml, nvml.nvmlSystemGetDriverVersion)
    return devices, driver


def _optional(nvml: Any, read: Any) -> float | None:
    try:
        return float(read())
    except nvml.NVMLError:
        return None


def _optional_text(nvml: Any, read: Any) -> str | None:
    try:
        return _text(read())
    except nvml.NVMLError:
        return None


def _text(value: str | bytes) -> str:
    # pynvml returned bytes before version 11
    return value.decode() if isinstance(value, bytes) else str(value)


def nvml_gpus() -> GpuDoc | None:
    """NVIDIA GPUs of this machine, or ``None`` when NVML is not usable here.

    The library missing (``nvidia-ml-py`` not installed) and the driver missing
    (``NVMLError`` at init) both mean "ask someone else", not an error.
    """
    try:
        pynvml: Any = importlib.import_module("pynvml")
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return None
    try:
        devices, driver = read_nvml(pynvml)
    except pynvml.NVMLError as exc:
        return GpuDoc(source="nvml", gpus=[], error=f"NVML: {exc}")
    finally:
        pynvml.nvmlShutdown()
    return gpus_from_nvml(devices, driver)


# -- rocm-smi ------------------------------------------------------------------

_NAME_KEYS = ("Card series", "Card SKU", "Card model", "Device Name")
_USE = "GPU use (%)"
_VRAM_TOTAL = "VRAM Total Memory (B)"
_VRAM_USED = "VRAM Total Used Memory (B)"


def parse_rocm_smi_json(text: str) -> GpuDoc:
    """``rocm-smi --showuse --showmeminfo vram --showproductname --json`` output.

    Every value is a string there; cards are the ``cardN`` keys.
    """
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise AgentProtocolError(f"rocm-smi JSON is not valid: {exc}") from None
    if not isinstance(data, dict):
        raise AgentProtocolError("rocm-smi JSON: an object of cards was expected")
    cards = {
        int(key[4:]): value
        for key, value in data.items()
        if re.fullmatch(r"card\d+", key) and isinstance(value, dict)
    }
    return _amd_doc(cards)


_TEXT_LINE = re.compile(r"^GPU\[(\d+)\]\s*:\s*(.+?):\s*(.*?)\s*$")


def parse_rocm_smi_text(text: str) -> GpuDoc:
    """The same readings from the human-readable ``rocm-smi`` output.

    Lines look like ``GPU[0]\t\t: VRAM Total Memory (B): 25753026560``.
    """
    cards: dict[int, dict[str, str]] = {}
    for line in text.splitlines():
        match = _TEXT_LINE.match(line.strip())
        if match:
            index, key, value = match.groups()
            cards.setdefault(int(index), {}).setdefault(key.strip(), value)
    return _amd_doc(cards)


def _amd_doc(cards: Mapping[int, Mapping[str, Any]]) -> GpuDoc:
    gpus = []
    for index in sorted(cards):
        card = cards[index]
        total = _int(card.get(_VRAM_TOTAL))
        if total is None:
            continue  # not a GPU with VRAM figures (e.g. an APU reporting nothing)
        used = _int(card.get(_VRAM_USED)) or 0
        name = next((str(card[k]) for k in _NAME_KEYS if card.get(k)), "")
        gpus.append(
            Gpu(
                index=index,
                vendor="amd",
                name=name or f"AMD GPU {index}",
                memory_total=total,
                memory_used=min(used, total),
                utilization_percent=_float(card.get(_USE)),
                temperature_c=None,
            )
        )
    return GpuDoc(source="rocm-smi", gpus=gpus) if gpus else NO_GPU


def _int(value: object) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _float(value: object) -> float | None:
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if 0 <= number <= 100 else None
