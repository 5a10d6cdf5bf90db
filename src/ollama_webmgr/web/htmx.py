"""Every HTMX convention of the web app, in one place.

- ``render_page`` renders a page whole for a normal visit and only its content
  block for an HTMX request (templates ``{% extends layout %}``), and marks the
  response ``Vary: HX-Request`` so caches (the service worker too) keep both.
- ``hx_trigger`` asks the browser to fire events (e.g. a ``toast``).
- ``htmx_redirects`` turns a redirect answered to HTMX into ``HX-Redirect``,
  which HTMX follows with a full navigation instead of swapping the target page;
  the page it lands on shows the flashed message as a toast (``flashed_toasts``).
"""

from __future__ import annotations

import json
from typing import Any

from flask import (
    Response,
    g,
    get_flashed_messages,
    make_response,
    render_template,
    request,
)

FULL_LAYOUT = "base.html"
PARTIAL_LAYOUT = "_partial.html"


def is_htmx() -> bool:
    """True when the current request was sent by HTMX (not a boosted navigation)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Boosted") != "true"
    )


def render_page(template: str, status: int = 200, **context: Any) -> Response:
    """Render ``template`` as a full page, or its content only for HTMX."""
    layout = PARTIAL_LAYOUT if is_htmx() else FULL_LAYOUT
    response = make_response(render_template(template, layout=layout, **context))
    response.status_code = status
    response.vary.add("HX-Request")
    return response


def hx_trigger(response: Response, event: str, detail: Any = None) -> Response:
    """Add ``event`` (with an optional JSON ``detail``) to ``HX-Trigger``."""
    current = response.headers.get("HX-Trigger")
    events: dict[str, Any] = json.loads(current) if current else {}
    events[event] = detail
    # ASCII escapes keep French text valid in an HTTP header.
    response.headers["HX-Trigger"] = json.dumps(events, ensure_ascii=True)
    return response


def toast(response: Response, message: str, level: str = "info") -> Response:
    """Show ``message`` in the page's toast region once HTMX gets ``response``."""
    return hx_trigger(response, "toast", {"message": message, "level": level})


def flashed_toasts() -> list[tuple[str, str]]:
    """Messages flashed before a redirect (``base.html`` shows them as toasts).

    The page that shows them is marked ``no-store`` (``htmx_redirects``): the
    service worker must not replay a toast on a later visit.
    """
    flashed: list[Any] = get_flashed_messages(with_categories=True)
    messages = [(str(level), str(text)) for level, text in flashed]
    if messages:
        g.shows_flash = True
    return messages


def htmx_redirects(response: Response) -> Response:
    """``after_request`` hook: HTMX follows redirects with a full navigation."""
    if g.get("shows_flash"):
        response.headers["Cache-Control"] = "no-store"
    if is_htmx() and response.status_code in (301, 302, 303, 307, 308):
        location = response.headers.get("Location", "/")
        response.headers["HX-Redirect"] = location
        del response.headers["Location"]
        response.status_code = 200
        response.set_data(b"")
    return response
