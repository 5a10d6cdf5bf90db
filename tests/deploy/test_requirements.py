"""requirements.txt stays in step with pyproject's runtime dependencies."""

from __future__ import annotations

import importlib.util
import tomllib
from importlib import metadata
from pathlib import Path
from types import ModuleType

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_requirements_script", ROOT / "scripts" / "gen_requirements.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pins(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def test_every_runtime_dependency_is_pinned_within_its_specifier() -> None:
    pins = _pins((ROOT / "requirements.txt").read_text(encoding="utf-8"))
    roots = _script().top_level()
    assert {r.name for r in roots} >= {"flask", "gunicorn", "redis", "psycopg"}
    for req in roots:
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} missing from requirements.txt"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} does not satisfy {req}"
        )
    assert "psycopg-binary" in pins  # the extra of psycopg[binary] was followed


def test_dev_tools_stay_out() -> None:
    pins = _pins((ROOT / "requirements.txt").read_text(encoding="utf-8"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    dev = {
        canonicalize_name(Requirement(text).name)
        for text in project["dependency-groups"]["dev"]
    }
    runtime = {canonicalize_name(r.name) for r in _script().top_level()}
    assert not (dev - runtime) & set(pins)


def test_generation_pins_the_installed_versions() -> None:
    script = _script()
    pins = _pins(script.render(script.resolve(script.top_level())))
    assert pins["werkzeug"] == metadata.version("werkzeug")  # flask's own dependency
    for name, version in pins.items():
        assert metadata.version(name) == version
