"""Cross-origin requests (CORS), answered as Ollama answers them.

Allowed origins: the configured ones (``GatewayConfig.origins``, like
``OLLAMA_ORIGINS``) plus Ollama's built-ins (localhost, 127.0.0.1 and 0.0.0.0 on
any port, and the ``app``, ``file``, ``tauri``, ``vscode-webview`` and
``vscode-file`` schemes). A pattern may hold one ``*``; ``*`` alone allows every
origin. A request without ``Origin``, or whose origin is the gateway itself, is
not a CORS request. Otherwise: a refused origin gets 403 with an empty body on
any method; an allowed preflight (``OPTIONS``) gets 204 with the allowed
methods and headers; any other request gets the allowing headers added.

>>> origin_allowed("http://localhost:5173", ())
True
>>> origin_allowed("https://chat.example.com", ())
False
>>> origin_allowed("https://chat.example.com", ("https://*.example.com",))
True
>>> origin_allowed("http://evil.test", ("*",))
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from ollama_webmgr.ollama.origins import valid_pattern

__all__ = ["apply_cors", "origin_allowed", "valid_pattern"]

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

BUILT_IN = (
    *(
        f"{scheme}://{host}{port}"
        for host in ("localhost", "127.0.0.1", "0.0.0.0")
        for port in ("", ":*")
        for scheme in ("http", "https")
    ),
    "app://*",
    "file://*",
    "tauri://*",
    "vscode-webview://*",
    "vscode-file://*",
)
METHODS = "GET,POST,PUT,PATCH,DELETE,HEAD"
# Ollama's list, as its CORS middleware writes it (canonical header case)
HEADERS = ",".join(
    [
        "Authorization",
        "Content-Type",
        "User-Agent",
        "Accept",
        "X-Requested-With",
        "Openai-Beta",
        *(
            f"X-Stainless-{part}"
            for part in (
                "Arch",
                "Async",
                "Custom-Poll-Interval",
                "Helper-Method",
                "Lang",
                "Os",
                "Package-Version",
                "Poll-Helper",
                "Retry-Count",
                "Runtime",
                "Runtime-Version",
                "Timeout",
            )
        ),
    ]
)
MAX_AGE = "43200"  # 12 h


def _matches(origin: str, pattern: str) -> bool:
    if "*" not in pattern:
        return origin == pattern
    head, _, tail = pattern.partition("*")
    return (
        len(origin) >= len(head) + len(tail)
        and origin.startswith(head)
        and origin.endswith(tail)
    )


def origin_allowed(origin: str, extra: Iterable[str]) -> bool:
    patterns = [*extra, *BUILT_IN]
    return "*" in patterns or any(_matches(origin, p) for p in patterns)


def apply_cors(
    environ: WSGIEnvironment,
    start_response: StartResponse,
    origin: str,
    extra: Sequence[str],
) -> tuple[StartResponse, list[bytes] | None]:
    """The ``start_response`` to use, and the answer when CORS answers alone
    (403 refused, 204 preflight)."""
    host = environ.get("HTTP_HOST", "")
    if origin in (f"http://{host}", f"https://{host}"):
        return start_response, None  # same origin: not CORS
    if not origin_allowed(origin, extra):
        start_response("403 Forbidden", [("Content-Length", "0")])
        return start_response, []
    any_origin = "*" in extra
    allow = [("Access-Control-Allow-Origin", "*" if any_origin else origin)]
    if not any_origin:
        allow.append(("Vary", "Origin"))
    if environ["REQUEST_METHOD"] == "OPTIONS":
        headers = [
            ("Access-Control-Allow-Methods", METHODS),
            ("Access-Control-Allow-Headers", HEADERS),
            ("Access-Control-Max-Age", MAX_AGE),
            *allow,
        ]
        start_response("204 No Content", headers)
        return start_response, []

    def with_cors(
        status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
    ) -> Callable[[bytes], object]:
        kept = [h for h in headers if not h[0].lower().startswith("access-control-")]
        return start_response(status, [*kept, *allow], exc_info)

    return with_cors, None
