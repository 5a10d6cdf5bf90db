"""Helpers of the agent tests: readers over captured outputs, a running agent."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import grpc

from ollama_webmgr.agent.gpu import gpus_from_nvml, parse_rocm_smi_json, read_nvml
from ollama_webmgr.agent.hardware import (
    cpu_doc,
    parse_cpuinfo,
    parse_meminfo,
    parse_proc_stat,
    volume_from_statvfs,
)
from ollama_webmgr.agent.live import Readers
from ollama_webmgr.agent.schema import DiskDoc, GpuDoc, SystemDoc
from ollama_webmgr.agent.server import create_server

FIXTURES = Path(__file__).parent / "fixtures"


def text(name: str) -> str:
    return (FIXTURES / name).read_text()


class NVMLError(Exception):
    """What pynvml raises (a board refusing a query)."""


@dataclass
class _Memory:
    total: int
    used: int


@dataclass
class _Rates:
    gpu: int


class CapturedNvml:
    """The pynvml calls ``read_nvml`` makes, answered from a captured JSON file.

    NVML is absent on the test machines, so its recorded answers stand in for
    the library; a ``null`` reading raises ``NVMLError`` as a refusing board does.
    """

    NVMLError = NVMLError

    def __init__(self, fixture: str) -> None:
        self.data: dict[str, Any] = json.loads(text(fixture))

    def _device(self, handle: int) -> dict[str, Any]:
        device: dict[str, Any] = self.data["devices"][handle]
        return device

    def nvmlDeviceGetCount(self) -> int:
        return len(self.data["devices"])

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetName(self, handle: int) -> bytes:
        return str(self._device(handle)["name"]).encode()  # old pynvml: bytes

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> _Memory:
        memory = self._device(handle)["memory"]
        return _Memory(memory["total"], memory["used"])

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> _Rates:
        rates = self._device(handle)["utilization"]
        if rates is None:
            raise NVMLError("Not Supported")
        return _Rates(rates["gpu"])

    def nvmlDeviceGetTemperature(self, handle: int, sensor: int) -> int:
        value = self._device(handle)["temperature"]
        if value is None:
            raise NVMLError("Not Supported")
        return int(value)

    def nvmlSystemGetDriverVersion(self) -> str:
        return str(self.data["driver"])


def nvml_doc(fixture: str) -> GpuDoc:
    devices, driver = read_nvml(CapturedNvml(fixture))
    return gpus_from_nvml(devices, driver)


class _Statvfs:
    def __init__(self, frsize: int, blocks: int, bfree: int, bavail: int) -> None:
        self.f_frsize, self.f_blocks = frsize, blocks
        self.f_bfree, self.f_bavail = bfree, bavail


SYSTEM = SystemDoc(
    hostname="gpu-a",
    os="Linux",
    kernel="6.8.0-49-generic",
    arch="x86_64",
    agent_version="0.1.0",
    boot_time=1763800000.0,
    collected_at=1763900000.0,
)


def captured_readers(gpu: Callable[[], GpuDoc] | None = None) -> Readers:
    """Readers answering from the fixtures (one RTX 4090 unless told)."""
    before = parse_proc_stat(text("proc_stat_before.txt"))
    after = parse_proc_stat(text("proc_stat_after.txt"))
    identity = parse_cpuinfo(text("cpuinfo_i7.txt"))
    disk = DiskDoc(
        [
            volume_from_statvfs(
                "models", "/srv/ollama", _Statvfs(4096, 2**28, 2**27, 2**27)
            ),
            volume_from_statvfs("root", "/", _Statvfs(4096, 2**25, 2**24, 2**23)),
        ]
    )
    return Readers(
        system=lambda: SYSTEM,
        cpu=lambda details: cpu_doc(
            identity,
            before,
            after,
            load_average=(1.5, 1.25, 1.0),
            frequency_max_mhz=4500.0,
            details=details,
        ),
        memory=lambda: parse_meminfo(text("meminfo.txt")),
        disk=lambda: disk,
        gpu=gpu or (lambda: nvml_doc("nvml_one_gpu.json")),
    )


def rocm_readers() -> Readers:
    return replace(
        captured_readers(), gpu=lambda: parse_rocm_smi_json(text("rocm_smi.json"))
    )


@dataclass
class RunningAgent:
    server: grpc.Server
    port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.stop(grace=None).wait()


@contextmanager
def running_agent(
    readers: Readers | None = None, *, token: str | None = None, port: int = 0
) -> Iterator[RunningAgent]:
    server, bound = create_server(
        "127.0.0.1",
        port,
        models_dir="/srv/ollama",
        token=token,
        readers=readers or captured_readers(),
    )
    agent = RunningAgent(server, bound)
    try:
        yield agent
    finally:
        agent.stop()
