"""How a page shows an error: a fragment and a toast for HTMX, else a page.

``edge/errors.py`` decides that a request failed and phrases it
(``french/messages.py``); this draws it for a person.
"""

from __future__ import annotations

from flask import Response, render_template

from ollama_webmgr.french.messages import ErrorView
from ollama_webmgr.web.htmx import is_htmx, toast


def page_error(view: ErrorView, request_id: str | None) -> Response:
    if is_htmx():
        return toast(
            Response(render_template("_error_fragment.html", error=view)),
            view.message,
            "error",
        )
    return Response(
        render_template(
            "errors.html", error=view, request_id=request_id, layout="base.html"
        )
    )
