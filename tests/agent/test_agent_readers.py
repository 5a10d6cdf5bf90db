"""The pure hardware readers over captured outputs of real machines."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from agent_fixtures import FIXTURES, nvml_doc, text

from ollama_webmgr.agent.gpu import (
    NO_GPU,
    nvml_gpus,
    parse_rocm_smi_json,
    parse_rocm_smi_text,
)
from ollama_webmgr.agent.hardware import (
    CpuTimes,
    busy_percent,
    cpu_doc,
    parse_cpuinfo,
    parse_meminfo,
    parse_proc_stat,
)
from ollama_webmgr.agent.live import read_gpu
from ollama_webmgr.errors import AgentProtocolError


def test_cpuinfo_gives_model_threads_physical_cores_and_mean_frequency() -> None:
    cpu = parse_cpuinfo(text("cpuinfo_i7.txt"))
    assert cpu.model == "Intel(R) Core(TM) i7-7700K CPU @ 4.20GHz"
    assert cpu.cores_logical == 4
    assert cpu.cores_physical == 2  # hyper-threading: 2 cores, 4 threads
    assert cpu.frequency_mhz == pytest.approx(
        (3400.012 + 2200 + 3600.5 + 800) / 4, 0.01
    )


def test_arm_cpuinfo_takes_the_board_model_and_leaves_cores_unknown() -> None:
    cpu = parse_cpuinfo(text("cpuinfo_arm.txt"))
    assert cpu.model == "Raspberry Pi 4 Model B Rev 1.4"
    assert cpu.cores_logical == 2
    assert cpu.cores_physical is None
    assert cpu.frequency_mhz is None


def test_cpu_usage_comes_from_the_delta_of_two_proc_stat_readings() -> None:
    before = parse_proc_stat(text("proc_stat_before.txt"))
    after = parse_proc_stat(text("proc_stat_after.txt"))
    assert set(after) == {"cpu", "cpu0", "cpu1", "cpu2", "cpu3"}
    doc = cpu_doc(
        parse_cpuinfo(text("cpuinfo_i7.txt")),
        before,
        after,
        load_average=(1.234, 0.5, 0.25),
        frequency_max_mhz=4500.0,
        details=True,
    )
    assert doc.usage_percent == 50.0
    assert doc.per_cpu_percent == [83.3, 50.0, 0.0, 0.0]
    assert doc.load_average == [1.23, 0.5, 0.25]


def test_light_cpu_document_leaves_out_the_per_cpu_figures() -> None:
    stat = parse_proc_stat(text("proc_stat_after.txt"))
    doc = cpu_doc(
        parse_cpuinfo(text("cpuinfo_i7.txt")),
        stat,
        stat,
        load_average=None,
        frequency_max_mhz=None,
        details=False,
    )
    assert doc.per_cpu_percent is None
    assert doc.usage_percent == 0.0  # no time passed between the readings


def test_busy_percent_is_bounded_when_counters_go_backwards() -> None:
    assert busy_percent(CpuTimes(200, 100), CpuTimes(100, 50)) == 0.0


def test_meminfo_counts_reclaimable_cache_as_available() -> None:
    mem = parse_meminfo(text("meminfo.txt"))
    assert mem.total == 32768000 * 1024
    assert mem.available == 8192000 * 1024
    assert mem.used == (32768000 - 8192000) * 1024
    assert mem.percent == 75.0
    assert mem.swap_total == 8388608 * 1024
    assert mem.swap_used == 2097152 * 1024
    assert mem.swap_percent == 25.0


def test_old_kernel_meminfo_without_memavailable_uses_free_buffers_cached() -> None:
    old = "\n".join(
        line for line in text("meminfo.txt").splitlines() if "MemAvailable" not in line
    )
    mem = parse_meminfo(old)
    assert mem.available == (2048000 + 512000 + 6000000) * 1024


@pytest.fixture
def without_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import pynvml`` fails, as on a machine without nvidia-ml-py, whatever
    this machine has."""
    monkeypatch.setitem(sys.modules, "pynvml", None)


@pytest.mark.usefixtures("without_nvml")
def test_without_the_nvml_library_the_adapter_defers_to_other_readers() -> None:
    assert nvml_gpus() is None


@pytest.mark.usefixtures("without_nvml")
def test_machine_without_nvml_or_rocm_smi_reports_no_gpu_as_a_normal_answer() -> None:
    assert read_gpu(which=lambda _: None) == NO_GPU
    assert NO_GPU.source == "none"
    assert NO_GPU.gpus == []
    assert NO_GPU.error is None


def test_nvml_without_devices_is_no_gpu() -> None:
    doc = nvml_doc("nvml_no_device.json")
    assert doc.source == "none"
    assert doc.gpus == []
    assert doc.driver == "550.54.14"


def test_nvml_one_gpu() -> None:
    doc = nvml_doc("nvml_one_gpu.json")
    assert doc.source == "nvml"
    assert doc.driver == "550.54.14"
    (gpu,) = doc.gpus
    assert gpu.name == "NVIDIA GeForce RTX 4090"
    assert gpu.vendor == "nvidia"
    assert (gpu.memory_total, gpu.memory_used) == (25757220864, 9126805504)
    assert gpu.utilization_percent == 37.0
    assert gpu.temperature_c == 54.0


def test_nvml_two_gpus_keep_memory_when_a_board_refuses_other_queries() -> None:
    doc = nvml_doc("nvml_two_gpus.json")
    assert [g.index for g in doc.gpus] == [0, 1]
    first, second = doc.gpus
    assert first.utilization_percent == 91.0
    assert second.memory_used == 4194304
    assert second.utilization_percent is None
    assert second.temperature_c is None


def test_rocm_smi_json_lists_each_card() -> None:
    doc = parse_rocm_smi_json(text("rocm_smi.json"))
    assert doc.source == "rocm-smi"
    assert [(g.index, g.name, g.vendor) for g in doc.gpus] == [
        (0, "Radeon RX 7900 XTX", "amd"),
        (1, "Radeon Pro W7800", "amd"),
    ]
    assert doc.gpus[0].memory_total == 25753026560
    assert doc.gpus[0].memory_used == 1302798336
    assert doc.gpus[0].utilization_percent == 12.0


def test_rocm_smi_text_and_json_give_the_same_document() -> None:
    assert parse_rocm_smi_text(text("rocm_smi.txt")) == parse_rocm_smi_json(
        text("rocm_smi.json")
    )


def test_rocm_smi_without_cards_is_no_gpu() -> None:
    assert parse_rocm_smi_json("{}") == NO_GPU
    assert parse_rocm_smi_text("==== End of ROCm SMI Log ====") == NO_GPU


def test_unreadable_rocm_smi_json_is_a_clear_error() -> None:
    with pytest.raises(AgentProtocolError, match="rocm-smi JSON is not valid"):
        parse_rocm_smi_json("WARNING: no AMD GPU found")


def _fake_rocm_smi(tmp_path: Path, *, json_works: bool) -> str:
    """An executable printing captured rocm-smi output, as the real tool would."""
    script = tmp_path / "rocm-smi"
    json_branch = (
        f'cat "{FIXTURES}/rocm_smi.json"'
        if json_works
        else 'echo "rocm-smi: error: unrecognized arguments: --json" >&2; exit 2'
    )
    script.write_text(
        "#!/bin/sh\n"
        'case " $* " in\n'
        f"  *' --json '*) {json_branch} ;;\n"
        f'  *) cat "{FIXTURES}/rocm_smi.txt" ;;\n'
        "esac\n"
    )
    script.chmod(0o755)
    return str(script)


@pytest.mark.usefixtures("without_nvml")
@pytest.mark.parametrize("json_works", [True, False])
def test_amd_machine_is_read_through_rocm_smi(tmp_path: Path, json_works: bool) -> None:
    binary = _fake_rocm_smi(tmp_path, json_works=json_works)
    doc = read_gpu(which=lambda _: binary)
    assert doc.source == "rocm-smi"
    assert [g.name for g in doc.gpus] == ["Radeon RX 7900 XTX", "Radeon Pro W7800"]


@pytest.mark.usefixtures("without_nvml")
def test_rocm_smi_that_hangs_or_fails_is_reported_in_the_document(
    tmp_path: Path,
) -> None:
    script = tmp_path / "rocm-smi"
    script.write_text("#!/bin/sh\necho 'ERROR: GPU driver not loaded' >&2\nexit 1\n")
    script.chmod(0o755)
    doc = read_gpu(which=lambda _: str(script))
    assert doc.source == "none"
    assert doc.gpus == []
    assert doc.error is not None
    assert doc.error.startswith("rocm-smi:")
