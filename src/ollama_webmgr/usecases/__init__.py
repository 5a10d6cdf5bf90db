"""The use cases: one function per thing a person can do, whichever face asks.

Both HTTP faces call these (``web/`` renders HTML, ``api/`` answers JSON) and
only parse, call and render; the gateway's process and the CLI may call them
too. A use case that changes something takes who acts (an ``Actor``) and writes
the audit trail itself, so a change is recorded the same way from a form or
from the API. Errors are those of ``errors.py``, phrased in French by
``french/messages.py``.

Modules by topic: ``models`` and ``model_jobs`` (list, show, copy, delete,
pull, update checks, job retry and cancel), ``running`` (loaded models, eject),
``fleet`` (servers added, changed, removed, agents; ``status``: one snapshot of
each), ``gateway_settings`` (settings, drain switches, API keys), ``library``
(ollama.com search, variants with their local state), ``observability`` and
``fit`` (what the health, statistics and hardware pages read). ``servers``
says which server a request means (the one definition of "the primary").
"""
