"""uv.lock, requirements.txt and the installed environment agree with pyproject.

`make check-lock` (part of `make lint`) checks with uv itself that uv.lock still
satisfies pyproject.toml and that requirements.txt is its runtime part; these
tests check what that means for a user: every runtime requirement pinned within
its range with hashes, no dev tool in production, and the venv the tests run in
holding exactly the locked versions.
"""

from __future__ import annotations

import tomllib
from collections import defaultdict
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
# the extras a production server installs (Makefile's EXTRAS)
RUNTIME_EXTRAS = ("redis", "postgres", "agent")


def _project() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _runtime_roots() -> list[Requirement]:
    project = _project()["project"]
    assert isinstance(project, dict)
    texts = list(project["dependencies"])
    for extra in RUNTIME_EXTRAS:
        texts += project["optional-dependencies"][extra]
    return [Requirement(text) for text in texts]


def _entries(text: str) -> list[tuple[str, str, str | None, list[str]]]:
    """(name, version, marker, hashes) of each entry of a requirements file."""
    entries: list[tuple[str, str, str | None, list[str]]] = []
    logical = text.replace("\\\n", " ")
    for line in logical.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split(" --hash=")
        spec, hashes = words[0], [h.strip() for h in words[1:]]
        pin, _, marker = spec.partition(";")
        name, _, version = pin.strip().partition("==")
        entries.append(
            (canonicalize_name(name), version, marker.strip() or None, hashes)
        )
    return entries


def _requirements() -> list[tuple[str, str, str | None, list[str]]]:
    return _entries((ROOT / "requirements.txt").read_text(encoding="utf-8"))


def test_every_runtime_dependency_is_pinned_within_its_specifier() -> None:
    pins = {name: version for name, version, _m, _h in _requirements()}
    roots = _runtime_roots()
    assert {r.name for r in roots} >= {"flask", "gevent", "redis", "psycopg"}
    for req in roots:
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} missing from requirements.txt"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} does not satisfy {req}"
        )
    assert "psycopg-binary" in pins  # the extra of psycopg[binary] was followed
    assert "werkzeug" in pins  # and flask's own dependencies


def test_every_pin_is_exact_and_carries_sha256_hashes() -> None:
    entries = _requirements()
    assert len(entries) > 20
    for name, version, _marker, hashes in entries:
        assert version, f"{name} is not pinned"
        assert hashes, f"{name} has no hash"
        assert all(h.startswith("sha256:") and len(h) == 71 for h in hashes), name


def test_dev_tools_stay_out() -> None:
    pins = {name for name, _v, _m, _h in _requirements()}
    groups = _project()["dependency-groups"]
    assert isinstance(groups, dict)
    dev = {canonicalize_name(Requirement(text).name) for text in groups["dev"]}
    runtime = {canonicalize_name(r.name) for r in _runtime_roots()}
    assert {"pytest", "mypy", "ruff"} <= dev
    assert not (dev - runtime) & pins


def test_the_installed_environment_is_the_locked_one() -> None:
    """What the tests run on is what uv.lock says, runtime and dev alike."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    locked: dict[str, set[str]] = defaultdict(set)
    for package in lock["package"]:
        locked[canonicalize_name(package["name"])].add(package["version"])
    installed = {
        canonicalize_name(dist.metadata["Name"]): dist.version
        for dist in metadata.distributions()
    }
    # pip may linger in a venv made before uv managed it; uv never installs it
    strays = set(installed) - set(locked) - {"pip", "setuptools"}
    assert not strays, f"installed but not in uv.lock: {sorted(strays)}"
    wrong = {
        name: (version, sorted(locked[name]))
        for name, version in installed.items()
        if name in locked and version not in locked[name]
    }
    assert not wrong, f"installed version not the locked one: {wrong}"
    for name, version, marker, _h in _requirements():
        if marker is None or Marker(marker).evaluate():
            assert installed.get(name) == version, name
    for tool in ("pytest", "mypy", "ruff", "playwright"):
        assert tool in installed
