"""Run only the 1,000-streams part of ``bench_gateway`` and print its section
(``python benchmarks/streams_only.py``); ``run_all.py gateway`` runs it all."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_gateway
from relay_support import raise_open_files

if __name__ == "__main__":
    raise_open_files()
    print(bench_gateway._streams_report(bench_gateway._streams()))
