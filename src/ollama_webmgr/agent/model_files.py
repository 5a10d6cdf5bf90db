"""The node's own model files, as the agent's model port may serve them.

Ollama keeps a model in its models folder (``OLLAMA_MODELS``): the manifest
at ``manifests/<host>/<ns>/<model>/<tag>`` (the registry's bytes, as pulled)
and the blobs at ``blobs/sha256-<hex>``. Only registry models are served
(``registry.ollama.ai``), and only what a manifest lists: a blob is found by
reading the manifests of the model asked for, so no other file of the machine
can be named. Each path step is picked among the folder's own entries (never
joined from the request), regular files only (no symbolic link is followed):
``..``, ``/`` or an encoded separator name nothing.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

from ollama_webmgr.ollama.names import DEFAULT_HOST

#: a manifest is a few kilobytes; a bigger file is not one
MAX_MANIFEST = 1 << 20
_DIGEST = re.compile(r"^sha256:([0-9a-f]{64})$")


class ModelFiles:
    """Reads of one models folder (nothing is ever written)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def manifest_for(self, namespace: str, model: str, tag: str) -> bytes | None:
        """The manifest's bytes of a registry model on this node, else None."""
        folder = self._tags(namespace, model)
        path = _entry(folder, tag) if folder is not None else None
        return _manifest_bytes(path) if path is not None else None

    def blob_path(self, namespace: str, model: str, digest: str) -> Path | None:
        """The blob's file when a manifest of that model on this node lists it."""
        match = _DIGEST.match(digest)
        folder = self._tags(namespace, model)
        if match is None or folder is None:
            return None
        if not any(digest in _listed(folder, tag) for tag in _names(folder)):
            return None
        return _entry(self.root / "blobs", f"sha256-{match.group(1)}")

    def _tags(self, namespace: str, model: str) -> Path | None:
        """The folder of one model's tags, found step by step (any casing)."""
        path: Path | None = self.root / "manifests"
        for step in (DEFAULT_HOST, namespace, model):
            path = _entry(path, step, directory=True) if path is not None else None
        return path


def _names(folder: Path) -> list[str]:
    try:
        return sorted(os.listdir(folder))
    except OSError:
        return []


def _entry(folder: Path, wanted: str, *, directory: bool = False) -> Path | None:
    """The entry of ``folder`` called ``wanted`` (exactly, else in any casing),
    when it is a real folder (``directory``) or a regular file, else None."""
    names = _names(folder)
    if wanted not in names:
        wanted = next((n for n in names if n.casefold() == wanted.casefold()), "")
    if not wanted:
        return None
    path = folder / wanted
    try:
        mode = path.lstat().st_mode  # lstat: a symbolic link is neither
    except OSError:
        return None
    kind = stat.S_ISDIR if directory else stat.S_ISREG
    return path if kind(mode) else None


def _manifest_bytes(path: Path) -> bytes | None:
    try:
        if path.lstat().st_size > MAX_MANIFEST:
            return None
        return path.read_bytes()
    except OSError:
        return None


def _listed(folder: Path, tag: str) -> set[str]:
    """The digests one manifest lists (none when it is not a manifest)."""
    path = _entry(folder, tag)
    body = _manifest_bytes(path) if path is not None else None
    try:
        data = json.loads(body or b"")
        items = [*data.get("layers", []), data["config"]]
        return {str(item["digest"]) for item in items}
    except (ValueError, TypeError, KeyError, AttributeError):
        return set()
