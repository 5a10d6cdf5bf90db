"""The update check against the fake registry: one GET, digests compared."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import httpx
import pytest
from ollama_client_helpers import CountingTransport

from fleet_support import closed_port_url
from ollama_webmgr.errors import InvalidModelName
from ollama_webmgr.ollama.library import LibraryClient
from ollama_webmgr.ollama.registry import (
    RegistryClient,
    check_update,
    check_update_from_tags,
)
from ollama_webmgr.sim.catalog import Registry
from ollama_webmgr.sim.library import LibraryFaults, create_library_app
from ollama_webmgr.sim.serve import serve_in_thread


@pytest.fixture
def registry() -> Registry:
    return Registry()


@pytest.fixture
def faults() -> LibraryFaults:
    return LibraryFaults()


@pytest.fixture
def transport(registry: Registry, faults: LibraryFaults) -> CountingTransport:
    return CountingTransport(
        httpx.WSGITransport(app=create_library_app(registry, faults))
    )


@pytest.fixture
def checker(transport: CountingTransport) -> Iterator[RegistryClient]:
    with RegistryClient("http://registry.test", transport=transport) as client:
        yield client


def local_digest(registry: Registry, name: str) -> str:
    """What a node shows in /api/tags right after pulling ``name`` now."""
    model = registry.lookup(name)
    assert model is not None
    return model.digest


def test_same_manifest_is_up_to_date_after_a_single_get(
    checker: RegistryClient, registry: Registry, transport: CountingTransport
) -> None:
    digest = local_digest(registry, "llama3.2")
    result = checker.check_update("llama3.2", digest)
    assert result.status == "up_to_date"
    assert result.reason == "same_digest"
    assert result.name == "llama3.2:latest"
    assert result.remote_digest == digest
    assert not result.update_available
    # no side effect: exactly one read of the registry, nothing else
    assert [(r.method, r.url.path) for r in transport.requests] == [
        ("GET", "/v2/library/llama3.2/manifests/latest")
    ]


def test_request_mimics_the_ollama_server(
    checker: RegistryClient, registry: Registry, transport: CountingTransport
) -> None:
    checker.check_update("qwen2.5:7b", local_digest(registry, "qwen2.5:7b"))
    headers = transport.requests[0].headers
    assert headers["Accept"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert headers["User-Agent"].startswith("ollama/")
    assert headers["User-Agent"].endswith("(amd64 linux) Go/go1.24")


def test_published_update_is_reported_with_the_new_digest(
    checker: RegistryClient, registry: Registry
) -> None:
    old = local_digest(registry, "gemma3:1b")
    new = registry.publish_update("gemma3:1b")
    result = checker.check_update("gemma3:1b", "sha256:" + old)
    assert result.status == "update_available"
    assert result.reason == "digest_changed"
    assert result.local_digest == old
    assert result.remote_digest == new.digest
    assert result.update_available


def test_update_of_latest_is_seen_through_its_alias(
    checker: RegistryClient, registry: Registry
) -> None:
    old = local_digest(registry, "mistral:latest")
    registry.publish_update("mistral:7b")
    assert checker.check_update("mistral", old).status == "update_available"


def test_remote_digest_is_the_hash_of_the_raw_manifest_bytes(
    checker: RegistryClient, registry: Registry
) -> None:
    model = registry.lookup("phi3")
    assert model is not None
    result = checker.check_update("phi3", "0" * 64)
    assert result.remote_digest == hashlib.sha256(model.manifest_bytes()).hexdigest()


def test_registry_412_means_an_update_needing_a_newer_ollama(
    checker: RegistryClient, registry: Registry, faults: LibraryFaults
) -> None:
    faults.require_min_version = "0.40.0"
    digest = local_digest(registry, "llama3.2")
    result = checker.check_update("llama3.2", digest, ollama_version="0.33.0")
    assert result.status == "update_available"
    assert result.reason == "needs_newer_ollama"
    assert result.remote_digest is None
    assert "requires a newer version of Ollama" in result.detail


def test_node_version_recent_enough_gets_the_manifest(
    checker: RegistryClient, registry: Registry, faults: LibraryFaults
) -> None:
    faults.require_min_version = "0.40.0"
    digest = local_digest(registry, "llama3.2")
    result = checker.check_update("llama3.2", digest, ollama_version="0.41.2")
    assert result.status == "up_to_date"


def test_unknown_model_upstream_is_unknown(checker: RegistryClient) -> None:
    result = checker.check_update("my-own-model:v1", "a" * 64)
    assert result.status == "unknown"
    assert result.reason == "not_found_upstream"


def test_registry_error_status_is_unknown(
    checker: RegistryClient, faults: LibraryFaults
) -> None:
    faults.status = 503
    result = checker.check_update("llama3.2", "a" * 64)
    assert result.status == "unknown"
    assert result.reason == "registry_error"
    assert "503" in result.detail


def test_unreachable_registry_is_unknown() -> None:
    result = check_update(
        "llama3.2", "a" * 64, registry_url=closed_port_url(), timeout=2
    )
    assert result.status == "unknown"
    assert result.reason == "network"


def test_slow_registry_times_out_as_unknown(registry: Registry) -> None:
    app = create_library_app(registry, LibraryFaults(delay=0.5))
    with serve_in_thread(app) as server:
        result = check_update(
            "llama3.2", "a" * 64, registry_url=server.url, timeout=0.1
        )
    assert result.status == "unknown"
    assert result.reason == "network"
    assert "in time" in result.detail


def test_check_over_a_real_socket_sees_a_publication(registry: Registry) -> None:
    digest = local_digest(registry, "smollm2:360m")
    with (
        serve_in_thread(create_library_app(registry)) as server,
        RegistryClient(server.url) as client,
    ):
        assert client.check_update("smollm2:360m", digest).status == "up_to_date"
        registry.publish_update("smollm2:360m")
        assert client.check_update("smollm2:360m", digest).status == "update_available"


@pytest.mark.parametrize(
    "name",
    ["hf.co/bartowski/Qwen-GGUF:Q4_K_M", "registry.example.org:5000/team/model:v1"],
)
def test_models_from_other_hosts_are_unknown_without_any_request(
    checker: RegistryClient, transport: CountingTransport, name: str
) -> None:
    result = checker.check_update(name, "b" * 64)
    assert result.status == "unknown"
    assert result.reason == "not_a_registry_model"
    assert transport.requests == []


def test_cloud_models_are_unknown_without_any_request(
    checker: RegistryClient, transport: CountingTransport
) -> None:
    result = checker.check_update("gpt-oss:120b-cloud", "b" * 64)
    assert result.reason == "cloud_model"
    assert transport.requests == []


def test_invalid_local_digest_is_unknown_without_any_request(
    checker: RegistryClient, transport: CountingTransport
) -> None:
    result = checker.check_update("llama3.2", "a80c4f17acd5")
    assert result.reason == "invalid_local_digest"
    assert transport.requests == []


def test_invalid_name_raises(checker: RegistryClient) -> None:
    with pytest.raises(InvalidModelName):
        checker.check_update("bad name", "a" * 64)


def test_module_function_reuses_a_given_client(
    checker: RegistryClient, registry: Registry, transport: CountingTransport
) -> None:
    digest = local_digest(registry, "tinyllama")
    result = check_update("tinyllama", digest, client=checker)
    assert result.status == "up_to_date"
    assert len(transport.requests) == 1


def test_tags_page_check_compares_twelve_hex_ids(registry: Registry) -> None:
    app = create_library_app(registry)
    with LibraryClient(
        "http://ollama.test", transport=httpx.WSGITransport(app=app), cache_ttl=0
    ) as library:
        digest = local_digest(registry, "deepseek-r1:8b")
        same = check_update_from_tags("deepseek-r1:8b", digest, library)
        assert same.status == "up_to_date"
        registry.publish_update("deepseek-r1:8b")
        moved = check_update_from_tags("deepseek-r1:8b", digest, library)
        assert moved.status == "update_available"
        missing = check_update_from_tags("deepseek-r1:70b", digest, library)
        assert missing.reason == "not_found_upstream"
        unknown = check_update_from_tags("nope:1b", digest, library)
        assert unknown.reason == "not_found_upstream"
