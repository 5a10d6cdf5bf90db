"""Where an emulated node pulls from, and its manifest request (contract §6.3).

The host named in the model decides: ``registry.ollama.ai`` (the default) is
the fake registry, at ``SimState.registry_url`` (a fleet sets it to its fake
ollama.com) or, when that is unset, at a private fake registry this process
serves over the node's own ``Registry`` on a loopback port (one server for the
whole process, so a node built in a test pulls over real HTTP with nothing
else to start). Any other ``host[:port]`` is asked over https, or plain http
when the pull says ``insecure``, as Ollama does.
"""

from __future__ import annotations

import http.client
import threading
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.sim.catalog import MANIFEST_MEDIA_TYPE, Registry
from ollama_webmgr.sim.downloading import PullError, connect, user_agent

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from ollama_webmgr.sim.serve import RunningServer
    from ollama_webmgr.sim.state import SimState

DEFAULT_HOST = "registry.ollama.ai"
UNKNOWN_MODEL = "pull model manifest: file does not exist"


def base_url(state: SimState, name: ModelName, *, insecure: bool) -> str:
    if name.host.casefold() == DEFAULT_HOST:
        return state.registry_url or _PRIVATE.url_for(state.registry)
    return f"{'http' if insecure else 'https'}://{name.host}"


def blob_url(base: str, name: ModelName, digest: str) -> str:
    return f"{base}/v2/{name.namespace}/{name.model}/blobs/{digest}"


def fetch_manifest(state: SimState, base: str, name: ModelName) -> bytes:
    """The registry's manifest bytes, verbatim (``PullError`` with Ollama's text)."""
    url = f"{base}/v2/{name.namespace}/{name.model}/manifests/{name.tag}"
    connection, path = connect(url, state.stall_timeout)
    headers = {"Accept": MANIFEST_MEDIA_TYPE, "User-Agent": user_agent(state)}
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as error:
        raise PullError(f'pull model manifest: Get "{url}": {error}') from None
    finally:
        connection.close()
    if response.status == 404:
        raise PullError(UNKNOWN_MODEL)
    if response.status >= 400:
        text = body.decode("utf-8", "replace")
        raise PullError(f"pull model manifest: {response.status}: {text}")
    return body


class _PrivateRegistries:
    """One loopback server for the registries of nodes that name none.

    ``/r<id>/v2/...`` is the fake registry over the registry ``<id>``; entries
    go away with their registry (weak references).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server: RunningServer | None = None
        self._registries: weakref.WeakValueDictionary[str, Registry] = (
            weakref.WeakValueDictionary()
        )

    def url_for(self, registry: Registry) -> str:
        from ollama_webmgr.sim.serve import start_in_thread

        key = str(id(registry))
        with self._lock:
            if self._server is None:
                self._server = start_in_thread(self)
            self._registries[key] = registry
            return f"{self._server.url}/r{key}"

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        from ollama_webmgr.sim.library import create_library_app

        _, prefix, rest = (str(environ.get("PATH_INFO", "")) + "/").split("/", 2)
        registry = self._registries.get(prefix[1:])
        if registry is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"404 page not found"]
        inner = {**environ, "PATH_INFO": "/" + rest.removesuffix("/")}
        return create_library_app(registry)(inner, start_response)


_PRIVATE = _PrivateRegistries()
