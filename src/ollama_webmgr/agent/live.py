"""Reading this machine: ``/proc``, ``statvfs``, NVML, ``rocm-smi``.

Each reader feeds the pure functions of ``hardware.py`` and ``gpu.py``. Linux
only (``/proc``), which is where Ollama nodes with GPUs run.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psutil

from ollama_webmgr import __version__
from ollama_webmgr.agent.gpu import (
    NO_GPU,
    nvml_gpus,
    parse_rocm_smi_json,
    parse_rocm_smi_text,
)
from ollama_webmgr.agent.hardware import (
    CpuTimes,
    cpu_doc,
    missing_volume,
    parse_cpuinfo,
    parse_meminfo,
    parse_proc_stat,
    volume_from_statvfs,
)
from ollama_webmgr.agent.schema import (
    CpuDoc,
    DiskDoc,
    GpuDoc,
    MemoryDoc,
    SystemDoc,
    SystemInfo,
    Volume,
)
from ollama_webmgr.errors import AgentProtocolError

#: the first CPU reading measures over this long (later ones since the last call)
FIRST_SAMPLE_S = 0.2
ROCM_SMI_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Readers:
    """One callable per document; ``details`` asks for the heavier figures."""

    system: Callable[[], SystemDoc]
    cpu: Callable[[bool], CpuDoc]
    memory: Callable[[], MemoryDoc]
    disk: Callable[[], DiskDoc]
    gpu: Callable[[], GpuDoc]

    def read(self, details: bool) -> SystemInfo:
        return SystemInfo(
            self.system(), self.cpu(details), self.memory(), self.disk(), self.gpu()
        )


def live_readers(
    models_dir: str, *, proc: str = "/proc", models_port: int | None = None
) -> Readers:
    """Readers over this machine; ``models_dir`` is Ollama's models folder,
    ``models_port`` the port serving it (``model_port.py``), if any."""
    sampler = CpuSampler(proc)
    return Readers(
        system=lambda: read_system(models_port),
        cpu=sampler.read,
        memory=lambda: parse_meminfo(Path(proc, "meminfo").read_text()),
        disk=lambda: read_disk(models_dir),
        gpu=lambda: read_gpu(),
    )


def read_system(models_port: int | None = None) -> SystemDoc:
    return SystemDoc(
        hostname=platform.node(),
        os=platform.system(),
        kernel=platform.release(),
        arch=platform.machine(),
        agent_version=__version__,
        boot_time=psutil.boot_time(),
        collected_at=time.time(),
        models_port=models_port,
    )


class CpuSampler:
    """CPU usage since the previous call (a short wait the first time)."""

    def __init__(self, proc: str = "/proc") -> None:
        self._proc = Path(proc)
        self._last: dict[str, CpuTimes] | None = None
        self._lock = threading.Lock()

    def _times(self) -> dict[str, CpuTimes]:
        return parse_proc_stat((self._proc / "stat").read_text())

    def read(self, details: bool) -> CpuDoc:
        with self._lock:
            before = self._last
            if before is None:
                before = self._times()
                time.sleep(FIRST_SAMPLE_S)
            after = self._times()
            self._last = after
        freq = psutil.cpu_freq()
        return cpu_doc(
            parse_cpuinfo((self._proc / "cpuinfo").read_text()),
            before,
            after,
            load_average=os.getloadavg(),
            frequency_max_mhz=float(freq.max) if freq and freq.max else None,
            details=details,
        )


def read_disk(models_dir: str) -> DiskDoc:
    return DiskDoc([_volume("models", models_dir), _volume("root", "/")])


def _volume(label: Literal["models", "root"], path: str) -> Volume:
    try:
        return volume_from_statvfs(label, path, os.statvfs(path))
    except OSError as exc:
        return missing_volume(label, path, exc.strerror or str(exc))


def read_gpu(which: Callable[[str], str | None] = shutil.which) -> GpuDoc:
    """NVML first, then ``rocm-smi`` (found with ``which``); neither is "no GPU"."""
    found = nvml_gpus()
    if found is not None:
        return found
    binary = which("rocm-smi")
    if binary is None:
        return NO_GPU
    try:
        return parse_rocm_smi_json(_rocm_smi(binary, "--json"))
    except (AgentProtocolError, subprocess.CalledProcessError):
        pass  # old releases lack --json or print warnings around it: read the text
    except (OSError, subprocess.SubprocessError) as exc:
        return GpuDoc(source="none", gpus=[], error=f"rocm-smi: {exc}")
    try:
        return parse_rocm_smi_text(_rocm_smi(binary))
    except (OSError, subprocess.SubprocessError) as exc:
        return GpuDoc(source="none", gpus=[], error=f"rocm-smi: {exc}")


def _rocm_smi(binary: str, *extra: str) -> str:
    args = ["--showuse", "--showmeminfo", "vram", "--showproductname", *extra]
    done = subprocess.run(
        [binary, *args],
        capture_output=True,
        text=True,
        timeout=ROCM_SMI_TIMEOUT_S,
        check=True,
    )
    return done.stdout
