"""The five JSON documents of ``SystemInfoResponse``, as typed dataclasses.

The agent validates each document before sending (``encode``) and the manager
after receiving (``decode``); both go through the same ``parse`` so the two sides
cannot disagree. Unknown keys are ignored (a newer agent may add some); a missing
key, a wrong type or a negative size is an ``AgentProtocolError``.

Sizes are bytes, frequencies MHz, percentages 0-100, times epoch seconds.

>>> decode_memory('{"total": 8, "available": 2, "used": 6, "percent": 75.0,'
...               ' "swap_total": 0, "swap_used": 0, "swap_percent": 0.0}').percent
75.0
>>> decode_memory('{"total": "8"}')
Traceback (most recent call last):
...
ollama_webmgr.errors.AgentProtocolError: memory document: 'total' must be an integer, got str
"""

from __future__ import annotations

import dataclasses
import json
import types
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from ollama_webmgr.errors import AgentProtocolError

T = TypeVar("T")
GpuSource = Literal["nvml", "rocm-smi", "none"]

#: fields whose numbers are percentages (0..100)
_PERCENT = {"percent": True}


@dataclass(frozen=True)
class SystemDoc:
    hostname: str
    os: str
    kernel: str
    arch: str
    agent_version: str
    boot_time: float | None
    collected_at: float
    #: the port serving the node's models over the registry protocol
    #: (``agent --serve-models``), None when it is off
    models_port: int | None = None


@dataclass(frozen=True)
class CpuDoc:
    model: str
    cores_physical: int | None
    cores_logical: int
    frequency_mhz: float | None
    frequency_max_mhz: float | None
    usage_percent: float = field(metadata=_PERCENT)
    load_average: list[float] = field(default_factory=list)
    #: one figure per logical CPU; only with ``include_hardware_details``
    per_cpu_percent: list[float] | None = None


@dataclass(frozen=True)
class MemoryDoc:
    total: int
    available: int
    used: int
    percent: float = field(metadata=_PERCENT)
    swap_total: int
    swap_used: int
    swap_percent: float = field(metadata=_PERCENT)


@dataclass(frozen=True)
class Volume:
    label: Literal["models", "root"]
    path: str
    total: int | None
    used: int | None
    free: int | None
    percent: float | None = field(metadata=_PERCENT)
    #: why the numbers are missing (folder absent, permission...)
    error: str | None = None


@dataclass(frozen=True)
class DiskDoc:
    volumes: list[Volume]


@dataclass(frozen=True)
class Gpu:
    index: int
    vendor: Literal["nvidia", "amd"]
    name: str
    memory_total: int
    memory_used: int
    utilization_percent: float | None = field(metadata=_PERCENT)
    temperature_c: float | None = None


@dataclass(frozen=True)
class GpuDoc:
    source: GpuSource
    gpus: list[Gpu]
    driver: str | None = None
    #: why no GPU reader worked, when one was expected to
    error: str | None = None


@dataclass(frozen=True)
class SystemInfo:
    """What ``GetSystemInfo`` answered, validated."""

    system: SystemDoc
    cpu: CpuDoc
    memory: MemoryDoc
    disk: DiskDoc
    gpu: GpuDoc

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def to_json(doc: object) -> str:
    """One document as compact JSON (validated by a round trip through ``parse``)."""
    data = dataclasses.asdict(doc)  # type: ignore[call-overload]
    parse(type(doc), data, type(doc).__name__)
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


def parse(cls: type[T], data: object, where: str) -> T:
    """Build dataclass ``cls`` from decoded JSON, checking every field."""
    if not isinstance(data, dict):
        raise AgentProtocolError(f"{where}: expected an object, got {_kind(data)}")
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for item in dataclasses.fields(cls):  # type: ignore[arg-type]
        hint = hints[item.name]
        if item.name not in data:
            if _has_default(item):
                continue
            raise AgentProtocolError(f"{where}: {item.name!r} is missing")
        value = _check(hint, data[item.name], f"{where}: {item.name!r}")
        if item.metadata.get("percent") and value is not None and not 0 <= value <= 100:
            raise AgentProtocolError(f"{where}: {item.name!r} must be within 0..100")
        values[item.name] = value
    return cls(**values)


def _has_default(item: dataclasses.Field[Any]) -> bool:
    return (
        item.default is not dataclasses.MISSING
        or item.default_factory is not dataclasses.MISSING
    )


def _check(hint: Any, value: object, where: str) -> Any:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in get_args(hint):
            return None
        (inner,) = [arg for arg in get_args(hint) if arg is not type(None)]
        return _check(inner, value, where)
    if origin is Literal:
        if value not in get_args(hint):
            allowed = ", ".join(map(repr, get_args(hint)))
            raise AgentProtocolError(f"{where} must be one of {allowed}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise AgentProtocolError(f"{where} must be a list, got {_kind(value)}")
        (inner,) = get_args(hint)
        return [_check(inner, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(hint):
        return parse(hint, value, where)  # type: ignore[arg-type]
    return _scalar(hint, value, where)


def _scalar(hint: Any, value: object, where: str) -> Any:
    if hint is str:
        if not isinstance(value, str):
            raise AgentProtocolError(f"{where} must be a string, got {_kind(value)}")
        return value
    if hint is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise AgentProtocolError(f"{where} must be an integer, got {_kind(value)}")
        if value < 0:
            raise AgentProtocolError(f"{where} must not be negative")
        return value
    if hint is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise AgentProtocolError(f"{where} must be a number, got {_kind(value)}")
        return float(value)
    raise TypeError(f"unsupported schema type {hint!r}")  # a bug in this module


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _decode(cls: type[T], text: str, name: str) -> T:
    where = f"{name} document"
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise AgentProtocolError(f"{where} is not valid JSON ({exc})") from None
    return parse(cls, data, where)


def decode_system(text: str) -> SystemDoc:
    return _decode(SystemDoc, text, "system")


def decode_cpu(text: str) -> CpuDoc:
    return _decode(CpuDoc, text, "cpu")


def decode_memory(text: str) -> MemoryDoc:
    return _decode(MemoryDoc, text, "memory")


def decode_disk(text: str) -> DiskDoc:
    return _decode(DiskDoc, text, "disk")


def decode_gpu(text: str) -> GpuDoc:
    return _decode(GpuDoc, text, "gpu")


def decode_all(system: str, cpu: str, memory: str, disk: str, gpu: str) -> SystemInfo:
    """The five fields of a ``SystemInfoResponse``, validated."""
    return SystemInfo(
        decode_system(system),
        decode_cpu(cpu),
        decode_memory(memory),
        decode_disk(disk),
        decode_gpu(gpu),
    )


def encode_all(info: SystemInfo) -> dict[str, str]:
    """The five JSON strings to send, each validated first."""
    return {
        "system": to_json(info.system),
        "cpu": to_json(info.cpu),
        "memory": to_json(info.memory),
        "disk": to_json(info.disk),
        "gpu": to_json(info.gpu),
    }
