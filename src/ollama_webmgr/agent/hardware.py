"""Pure readers: CPU, memory and disk documents from captured system outputs.

Nothing here touches the machine; ``live.py`` reads ``/proc`` and ``statvfs`` and
hands the text or numbers to these functions, and the tests hand them fixtures.
GPUs are in ``gpu.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from ollama_webmgr.agent.schema import CpuDoc, MemoryDoc, Volume


@dataclass(frozen=True)
class CpuIdentity:
    """What ``/proc/cpuinfo`` says about the processor."""

    model: str
    cores_physical: int | None
    cores_logical: int
    frequency_mhz: float | None


def parse_cpuinfo(text: str) -> CpuIdentity:
    """Model, core counts and the mean current frequency from ``/proc/cpuinfo``.

    Physical cores are the distinct (physical id, core id) pairs; kernels that
    omit them (some ARM boards, containers) leave the figure unknown.

    >>> parse_cpuinfo("processor : 0\\nmodel name : Xeon\\ncpu MHz : 2000.0\\n")
    CpuIdentity(model='Xeon', cores_physical=None, cores_logical=1, frequency_mhz=2000.0)
    """
    blocks = [_fields(block) for block in text.strip().split("\n\n") if block.strip()]
    cpus = [b for b in blocks if "processor" in b]
    # x86 names each processor; ARM boards name the machine in a trailing block
    model = next(
        (b[k] for b in cpus for k in ("model name", "cpu model") if k in b), ""
    ) or next((b[k] for b in blocks for k in ("Model", "Hardware") if k in b), "")
    cores = {
        (b["physical id"], b["core id"])
        for b in cpus
        if "physical id" in b and "core id" in b
    }
    mhz = [float(b["cpu MHz"]) for b in cpus if _is_number(b.get("cpu MHz", ""))]
    return CpuIdentity(
        model=model,
        cores_physical=len(cores) or None,
        cores_logical=len(cpus),
        frequency_mhz=round(sum(mhz) / len(mhz), 1) if mhz else None,
    )


def _fields(block: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in block.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out.setdefault(key.strip(), value.strip())
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class CpuTimes:
    """Jiffies of one ``cpu`` line of ``/proc/stat``: all of them, and idle ones."""

    total: int
    idle: int


def parse_proc_stat(text: str) -> dict[str, CpuTimes]:
    """``cpu`` (all CPUs) and ``cpu0``, ``cpu1``... counters from ``/proc/stat``.

    Idle time counts ``idle`` and ``iowait``, as ``top`` does.

    >>> parse_proc_stat("cpu  10 0 10 70 10 0 0 0 0 0\\nintr 5")["cpu"]
    CpuTimes(total=100, idle=80)
    """
    out: dict[str, CpuTimes] = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts or not parts[0].startswith("cpu"):
            continue
        values = [int(v) for v in parts[1:9]]  # guest times are inside user/nice
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        out[parts[0]] = CpuTimes(total=sum(values), idle=idle)
    return out


def busy_percent(before: CpuTimes, after: CpuTimes) -> float:
    """Share of non-idle time between two readings (0 when no time passed).

    >>> busy_percent(CpuTimes(100, 80), CpuTimes(200, 130))
    50.0
    """
    total = after.total - before.total
    if total <= 0:
        return 0.0
    idle = after.idle - before.idle
    return round(min(100.0, max(0.0, 100.0 * (total - idle) / total)), 1)


def cpu_doc(
    identity: CpuIdentity,
    before: dict[str, CpuTimes],
    after: dict[str, CpuTimes],
    *,
    load_average: tuple[float, float, float] | None,
    frequency_max_mhz: float | None,
    details: bool,
) -> CpuDoc:
    """The ``cpu`` document from two ``/proc/stat`` readings."""
    usage = busy_percent(before["cpu"], after["cpu"]) if "cpu" in after else 0.0
    per_cpu = None
    if details:
        names = sorted((n for n in after if n != "cpu" and n in before), key=_cpu_no)
        per_cpu = [busy_percent(before[n], after[n]) for n in names]
    return CpuDoc(
        model=identity.model,
        cores_physical=identity.cores_physical,
        cores_logical=identity.cores_logical,
        frequency_mhz=identity.frequency_mhz,
        frequency_max_mhz=frequency_max_mhz,
        usage_percent=usage,
        load_average=[round(v, 2) for v in load_average] if load_average else [],
        per_cpu_percent=per_cpu,
    )


def _cpu_no(name: str) -> int:
    return int(name[3:]) if name[3:].isdigit() else -1


def parse_meminfo(text: str) -> MemoryDoc:
    """RAM and swap from ``/proc/meminfo`` (kB there, bytes here).

    "Used" is total minus available: caches the kernel can drop count as free.
    Old kernels without ``MemAvailable`` fall back to free + buffers + cached.

    >>> m = parse_meminfo("MemTotal: 1000 kB\\nMemAvailable: 250 kB\\n"
    ...                   "SwapTotal: 0 kB\\nSwapFree: 0 kB\\n")
    >>> m.used, m.percent
    (768000, 75.0)
    """
    kb = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        number = rest.split()
        if number and number[0].isdigit():
            kb[key.strip()] = int(number[0]) * 1024
    total = kb.get("MemTotal", 0)
    available = kb.get("MemAvailable")
    if available is None:
        available = sum(kb.get(k, 0) for k in ("MemFree", "Buffers", "Cached"))
    available = min(available, total)
    swap_total = kb.get("SwapTotal", 0)
    swap_used = max(0, swap_total - kb.get("SwapFree", swap_total))
    return MemoryDoc(
        total=total,
        available=available,
        used=total - available,
        percent=_percent(total - available, total),
        swap_total=swap_total,
        swap_used=swap_used,
        swap_percent=_percent(swap_used, swap_total),
    )


def _percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole > 0 else 0.0


class StatvfsLike(Protocol):
    """The fields of ``os.statvfs_result`` the disk reader uses."""

    @property
    def f_frsize(self) -> int: ...
    @property
    def f_blocks(self) -> int: ...
    @property
    def f_bfree(self) -> int: ...
    @property
    def f_bavail(self) -> int: ...


def volume_from_statvfs(
    label: Literal["models", "root"], path: str, st: StatvfsLike
) -> Volume:
    """Sizes as ``df`` shows them: free is what an ordinary user may still write.

    >>> from os import statvfs_result as S
    >>> v = volume_from_statvfs("root", "/", S((4096, 4096, 100, 40, 30, 0, 0, 0, 0, 255)))
    >>> v.total, v.used, v.free, v.percent
    (409600, 245760, 122880, 66.7)
    """
    total = st.f_frsize * st.f_blocks
    used = st.f_frsize * (st.f_blocks - st.f_bfree)
    free = st.f_frsize * st.f_bavail
    # df's Use%: used over what is usable by users (root's reserve excluded)
    return Volume(label, path, total, used, free, _percent(used, used + free))


def missing_volume(label: Literal["models", "root"], path: str, why: str) -> Volume:
    """A volume whose numbers could not be read (the reason is kept)."""
    return Volume(label, path, None, None, None, None, error=why)
