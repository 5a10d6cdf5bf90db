"""Run every ``benchmarks/bench_*.py`` and write ``docs/benchmarks.md``.

Each script defines ``run() -> str`` returning one Markdown section (a ``##`` title,
its method and its figures). Usage: ``python benchmarks/run_all.py [name ...]``
where a name filters scripts (``store`` runs ``bench_store.py``). Sections of the
scripts that were not run this time are kept from the previous file, each between
``<!-- bench:NAME -->`` markers, and say when and on which machine they were
measured.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import platform
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUTPUT = HERE.parent / "docs" / "benchmarks.md"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    return (
        f"{cpu}, {os.cpu_count()} cores{memory}; Python {platform.python_version()}"
        f" on {platform.system()} {platform.release()}"
    )


def previous_sections() -> dict[str, str]:
    """Sections already in the output file, by script name."""
    if not OUTPUT.exists():
        return {}
    pattern = re.compile(r"<!-- bench:(\w+) -->\n(.*?)\n<!-- /bench:\1 -->", re.S)
    return dict(pattern.findall(OUTPUT.read_text(encoding="utf-8")))


def main(filters: list[str]) -> None:
    sys.path.insert(0, str(HERE))
    scripts = sorted(HERE.glob("bench_*.py"))
    if filters:
        scripts = [s for s in scripts if any(f in s.stem for f in filters)]
    sections = previous_sections()
    for script in scripts:
        print(f"running {script.name} ...", flush=True)
        spec = importlib.util.spec_from_file_location(script.stem, script)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[script.stem] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        sections[script.stem] = (
            f"{module.run().strip()}\n\n_Measured {now} on {machine()}._"
        )
    body = "\n\n".join(
        f"<!-- bench:{name} -->\n{text}\n<!-- /bench:{name} -->"
        for name, text in sorted(sections.items())
    )
    header = (
        "# Benchmarks\n\n"
        f"Written by `make bench`; last run {now} on {machine()}.\n\n"
        "Each section says how, when and on which machine it was measured. Ratios"
        " compare paths measured side by side in the same run.\n"
    )
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(header + "\n" + body + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
