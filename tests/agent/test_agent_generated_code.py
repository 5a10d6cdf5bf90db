"""The committed gRPC modules are what ``make proto`` makes from ollama.proto."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "src" / "ollama_webmgr" / "agent" / "generated"


def test_generated_code_is_up_to_date(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), str(tmp_path)],
        check=True,
        timeout=60,
    )
    fresh = {p.name: p.read_text() for p in sorted(tmp_path.iterdir())}
    committed = {
        p.name: p.read_text() for p in sorted(GENERATED.iterdir()) if p.is_file()
    }
    assert set(fresh) == {
        "__init__.py",
        "ollama_pb2.py",
        "ollama_pb2.pyi",
        "ollama_pb2_grpc.py",
    }
    assert committed == fresh, "run `make proto` and commit the result"


def test_service_module_imports_its_messages_package_relative() -> None:
    text = (GENERATED / "ollama_pb2_grpc.py").read_text()
    assert "from . import ollama_pb2 as" in text
    assert "\nimport ollama_pb2" not in text
