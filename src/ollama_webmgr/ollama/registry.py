"""Is a newer version of a local model published? Asked without pulling anything.

A pulled model's local ``digest`` is the sha256 of the registry's manifest bytes
(contract §6.2), so fetching the manifest again and hashing the raw body tells
whether the tag moved (§6.4). Nothing is written to any Ollama node: a single
``GET`` to the registry is the whole check. ``check_update_from_tags`` is the
cheaper variant that compares the 12-hex ids shown on ollama.com's tags page.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

import httpx

from ollama_webmgr.closeable import Closeable
from ollama_webmgr.errors import RemoteModelNotFound, RemoteUnavailable
from ollama_webmgr.ollama.library import LibraryClient
from ollama_webmgr.ollama.names import DEFAULT_HOST, ModelName

DEFAULT_REGISTRY_URL = "https://registry.ollama.ai"
#: sent when the node's version is unknown: a recent release, so not a 412 magnet
DEFAULT_OLLAMA_VERSION = "0.33.0"
MANIFEST_ACCEPT = "application/vnd.docker.distribution.manifest.v2+json"

UpdateStatus = Literal["up_to_date", "update_available", "unknown"]
UpdateReason = Literal[
    "same_digest",
    "digest_changed",
    "needs_newer_ollama",
    "not_a_registry_model",
    "cloud_model",
    "not_found_upstream",
    "registry_error",
    "network",
    "invalid_local_digest",
]

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_VERSION = re.compile(r"^\d+\.\d+\.\d+[0-9A-Za-z.+-]{0,40}$")


@dataclass(frozen=True, slots=True)
class UpdateCheck:
    name: str  # display form, e.g. "llama3.2:latest"
    status: UpdateStatus
    reason: UpdateReason
    local_digest: str
    remote_digest: str | None = None
    detail: str = ""

    @property
    def update_available(self) -> bool:
        return self.status == "update_available"


def normalize_digest(raw: str) -> str | None:
    """64 lower-case hex without prefix, or None when ``raw`` is not a sha256.

    >>> normalize_digest("sha256:" + "AB" * 32) == "ab" * 32
    True
    >>> normalize_digest("a80c4f17acd5") is None
    True
    """
    text = raw.strip().lower().removeprefix("sha256:")
    return text if _DIGEST.match(text) else None


def ollama_user_agent(version: str | None) -> str:
    """The User-Agent an Ollama server sends to the registry.

    >>> ollama_user_agent("0.12.3")
    'ollama/0.12.3 (amd64 linux) Go/go1.24'
    >>> ollama_user_agent("bad version") == ollama_user_agent(None)
    True
    """
    text = (version or "").strip()
    if not _VERSION.match(text):
        text = DEFAULT_OLLAMA_VERSION
    return f"ollama/{text} (amd64 linux) Go/go1.24"


def _is_cloud(name: ModelName) -> bool:
    tag = name.tag.casefold()
    return tag in ("cloud", "local") or tag.endswith("-cloud")


class RegistryClient(Closeable):
    """Checks local models against the registry; one pooled HTTP client, thread-safe."""

    def __init__(
        self,
        registry_url: str = DEFAULT_REGISTRY_URL,
        *,
        ollama_version: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.registry_url = registry_url.rstrip("/")
        self.ollama_version = ollama_version
        self._http = httpx.Client(transport=transport, timeout=timeout)

    def check_update(
        self, name: str, local_digest: str, *, ollama_version: str | None = None
    ) -> UpdateCheck:
        """Compare ``local_digest`` (from ``/api/tags``) with the published manifest.

        ``ollama_version`` (the node's ``/api/version``) decides the User-Agent,
        which the registry uses to refuse models the node is too old for (412).
        Raises InvalidModelName for a name Ollama would reject.
        """
        parsed = ModelName.parse(name.strip())
        digest = normalize_digest(local_digest)
        result = _Result(parsed.display, digest or local_digest.strip().lower())
        if digest is None:
            return result.unknown("invalid_local_digest", "not a sha256 digest")
        if parsed.host.casefold() != DEFAULT_HOST:
            return result.unknown(
                "not_a_registry_model", f"models from {parsed.host} are not checked"
            )
        if _is_cloud(parsed):
            return result.unknown("cloud_model", "cloud models run remotely")
        version = ollama_version or self.ollama_version
        url = (
            f"{self.registry_url}/v2/{parsed.namespace}/{parsed.model}"
            f"/manifests/{parsed.tag}"
        )
        headers = {"Accept": MANIFEST_ACCEPT, "User-Agent": ollama_user_agent(version)}
        try:
            response = self._http.get(url, headers=headers)
        except httpx.TimeoutException:
            return result.unknown(
                "network", f"the registry did not answer in time ({url})"
            )
        except httpx.HTTPError as exc:
            return result.unknown("network", f"cannot reach the registry: {exc}")
        return _judge(result, response)

    def close(self) -> None:
        self._http.close()


@dataclass(frozen=True, slots=True)
class _Result:
    name: str
    local_digest: str

    def unknown(self, reason: UpdateReason, detail: str) -> UpdateCheck:
        return UpdateCheck(
            self.name, "unknown", reason, self.local_digest, None, detail
        )

    def compared(self, remote: str) -> UpdateCheck:
        if remote == self.local_digest:
            return UpdateCheck(
                self.name, "up_to_date", "same_digest", self.local_digest, remote
            )
        return UpdateCheck(
            self.name, "update_available", "digest_changed", self.local_digest, remote
        )


def _judge(result: _Result, response: httpx.Response) -> UpdateCheck:
    status = response.status_code
    if status == 200:
        # hash the raw bytes: re-serialising the JSON would change the digest
        return result.compared(hashlib.sha256(response.content).hexdigest())
    body = " ".join(response.text.split())[:300]
    if status == 412:
        return UpdateCheck(
            result.name,
            "update_available",
            "needs_newer_ollama",
            result.local_digest,
            None,
            body or "the registry requires a newer version of Ollama",
        )
    if status == 404:
        return result.unknown("not_found_upstream", "the registry has no such tag")
    return result.unknown("registry_error", f"HTTP {status}: {body}".rstrip(": "))


def check_update(
    name: str,
    local_digest: str,
    *,
    registry_url: str = DEFAULT_REGISTRY_URL,
    ollama_version: str | None = None,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 10.0,
    client: RegistryClient | None = None,
) -> UpdateCheck:
    """One-off check; pass ``client`` to reuse a pooled ``RegistryClient``."""
    if client is not None:
        return client.check_update(name, local_digest, ollama_version=ollama_version)
    with RegistryClient(
        registry_url,
        ollama_version=ollama_version,
        transport=transport,
        timeout=timeout,
    ) as own:
        return own.check_update(name, local_digest)


def check_update_from_tags(
    name: str, local_digest: str, library: LibraryClient
) -> UpdateCheck:
    """Cheaper check: the 12-hex id on ollama.com's tags page vs the local digest.

    Only 12 hex are compared, and the page is cached by ``library``; use
    ``check_update`` when an exact answer matters.
    """
    parsed = ModelName.parse(name.strip())
    digest = normalize_digest(local_digest)
    result = _Result(parsed.display, digest or local_digest.strip().lower())
    if digest is None:
        return result.unknown("invalid_local_digest", "not a sha256 digest")
    if parsed.host.casefold() != DEFAULT_HOST:
        return result.unknown(
            "not_a_registry_model", f"models from {parsed.host} are not checked"
        )
    try:
        variants = library.variants(parsed.display)
    except RemoteModelNotFound:
        return result.unknown("not_found_upstream", "ollama.com has no such model")
    except RemoteUnavailable as exc:
        return result.unknown("network", exc.message)
    for variant in variants:
        if variant.tag.casefold() == parsed.tag.casefold() and variant.short_digest:
            same = variant.short_digest == digest[:12]  # as far as 12 hex can tell
            return UpdateCheck(
                result.name,
                "up_to_date" if same else "update_available",
                "same_digest" if same else "digest_changed",
                digest,
                None,
                f"ollama.com shows id {variant.short_digest}",
            )
    return result.unknown("not_found_upstream", "the tags page has no such tag")
